"""The hls4ml layer plan of a dataflow graph: typed, exact, checked before any file is written.

    plan = plan_hls4ml(model)          # BackendRefusal (exit 2) naming node + construct + what to do

Mapping (every precision explicit, from the IR's qonnx DataTypes via toolchain.backends.precision); each
op declares its own in `hls4ml_layers(walk, node)` (hw/ops/<op>.py) using the builders of _Walk below:

* graph input          -> Input, result_t = the input stream type;
* MVAU                 -> Dense (or Conv2D when an SWG feeds it; Conv2D 1x1 for a pointwise MVAU over a
                          feature map) with integer weights (weight_t = weightDataType), accum_t =
                          accDataType, reuse factor = (MW/SIMD)·(MH/PE) (Latency at 1, Resource above);
  noActivation=0       -> + HilThreshold (hls4ml_ext): out = Σ_k [acc >= T_k] + ActVal;
* Thresholding         -> HilThreshold;
* SWG + VVAU           -> DepthwiseConv2D (depth multiplier 1, integer weights, accum_t = accDataType)
  (depthwise)             [+ HilThreshold], reuse factor = (k²/SIMD)·(C/PE);
* SWG1D + MVAU         -> Conv1D over the 1×W signal (the hls4ml layer carries it as (W, C));
* GlobalAccPool        -> HilGlobalAccPool (hls4ml_ext): the per-channel sum in outputDataType; hls4ml's
                          GlobalAveragePooling2D divides by H·W in its accumulator type
                          (nnet_pooling_stream.h global_pooling2d_cl), which the IR does not: the lowering
                          moves 1/(H·W) into the next layer's thresholds;
* Upsample             -> UpSampling2D (hls4ml Resize, nearest: nnet_image_stream.h resize_nearest), for
                          integer factors HO/HI and WO/WI (other factors refused by name);
* FMPadding            -> ZeroPadding2D;  StreamingMaxPool -> MaxPooling2D;
* MVAU after a feature map of H·W·C = MW values (a dense layer after a flatten)
                       -> Reshape to (H·W·C,) + Dense: the stream order (h, w, c) is the IR's;
* FIFO, DWC            -> nothing (hls4ml makes its own streams);
* DuplicateStreams     -> nothing (hls4ml's io_stream clone_output pass inserts a Clone where a stream
                          feeds two layers);  AddStreams -> Merge 'add' (residual joins);
* LabelSelect (last)   -> runs on the host on the hls4ml outputs (hls4ml has no top-k layer).

BIPOLAR streams travel as bits (precision.Enc.BIT). Rewrites that keep every value exact:
* binaryXnorMode=1: popcount(x == w) = Σ_i b_i·w_i + #{w_i = -1}, b = (x + 1) / 2 (w = ±1): a Dense on the
  bits with ±1 weights and bias #{w = -1} per column;
* a bipolar input into an ordinary MVAU: x·W = b·(2W) - colsum(W);
* thresholds on integer values: x >= T  <=>  x >= ceil(T); on bits: b >= ceil((T + 1) / 2).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hw.ops import custom_op
from hw.ops.base import DOMAIN, HWOp, OpError, accumulator_range, broadcast_thresholds
from toolchain.backends.precision import (Enc, IntType, PrecisionError, TensorType, check_integral, stream_type,
                                          value_type)
from toolchain.backends.refusal import BackendRefusal, refuse
from toolchain.backends.reuse import resource_rf_valid, reuse_and_strategy

ACC_BITS_MAX = 62  # int64 bound arithmetic below


@dataclass(frozen=True)
class ConvGeom:
    """The windows a sliding-window generator makes: k×k (2-D) or 1×k over a 1×W signal (one_d)."""

    in_h: int
    in_w: int
    n_chan: int
    k: int
    stride: int
    out_h: int
    out_w: int
    one_d: bool = False  # SWG1D: hls4ml Conv1D
    depthwise: bool = False  # a depthwise SWG: feeds a VVAU, hls4ml DepthwiseConv2D

    @property
    def taps(self) -> int:
        """Kernel positions per window (kh·kw)."""
        return self.k if self.one_d else self.k * self.k

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The output map without channels, as hls4ml shapes it (Conv1D: (W,), Conv2D: (H, W))."""
        return (self.out_w,) if self.one_d else (self.out_h, self.out_w)


@dataclass
class Layer:
    name: str  # the hls4ml layer name
    ir_nodes: tuple[str, ...]  # the IR nodes it implements
    out: TensorType  # type of its output stream
    shape: tuple[int, ...]  # output shape, no batch axis
    ir_tensor: Optional[str]  # the IR tensor equal to its output (None: internal, e.g. an accumulator)
    inputs: tuple[str, ...] = ()  # the plan layers it reads (set by _Walk.add: the current layer)


@dataclass
class InputLayer(Layer):
    pass


@dataclass
class DenseLayer(Layer):
    weight: np.ndarray = None  # (n_in, n_out) int64
    bias: np.ndarray = None  # (n_out,) int64
    weight_t: IntType = None
    bias_t: IntType = None
    accum_t: IntType = None
    reuse: int = 1
    strategy: str = "Latency"
    conv: Optional[ConvGeom] = None
    folding: dict = field(default_factory=dict)  # PE, SIMD of the MVAU


@dataclass
class ThresholdLayer(Layer):
    thresholds: np.ndarray = None  # (C, steps) int64
    threshold_t: IntType = None
    out_scale: int = 1
    out_bias: int = 0


@dataclass
class PoolLayer(Layer):
    k: int = 2


@dataclass
class FlattenLayer(Layer):
    """A feature map (H, W, C) read as one vector of H·W·C features in stream order (h, w, c): hls4ml's
    Reshape to 1-D, which in io_stream is no kernel at all (hls4ml InplaceStreamFlatten: the Dense
    reads its n_in values word by word, nnet_dense_stream.h DataPrepare), the order the IR's MVAU
    reads a flattened map in (hw/ops/mvau.py execute; FINN RemoveCNVtoFCFlatten permutes the weights
    to it)."""


@dataclass
class AddLayer(Layer):
    """AddStreams: hls4ml's Merge 'add' (nnet_merge_stream.h add: out[j] = in1[j] + in2[j] in the result
    type), exact when the result type holds every sum."""


@dataclass
class ResizeLayer(Layer):
    """Upsample: hls4ml's UpSampling2D (class Resize, nearest; nnet_image_stream.h resize_nearest repeats
    every pixel new_height/height × new_width/width times, the IR's pixel (y·HI // HO, x·WI // WO) for
    integer factors). The output type is the input's (resize_nearest has one type parameter)."""

    in_hw: tuple[int, int] = (1, 1)


@dataclass
class AccPoolLayer(Layer):
    """GlobalAccPool: the per-channel sum over `pixels` pixels (hls4ml_ext HilGlobalAccPool), output (C,)
    as hls4ml's GlobalPooling2D shapes it."""

    pixels: int = 1


@dataclass
class PadLayer(Layer):
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right


@dataclass
class Plan:
    layers: list[Layer]
    input: TensorType
    output: TensorType
    host_label_select: Optional[str] = None  # LabelSelect node run on the host, if any
    ir_input: str = "global_in"
    ir_output: str = "global_out"


# ---- helpers -----------------------------------------------------------------------------------

def _init(model: ModelWrapper, node, i: int, what: str) -> np.ndarray:
    if len(node.input) <= i or model.get_initializer(node.input[i]) is None:
        raise refuse(node.name, f"a {what} that is not an initializer",
                     "make it an initializer of the graph (as `hil lower` writes every weight and threshold)")
    return model.get_initializer(node.input[i])


def _int(values: np.ndarray, node: str, what: str) -> np.ndarray:
    try:
        return check_integral(values, f"{node}: {what}")
    except PrecisionError as err:
        raise refuse(node, f"{what} with non-integer values", "give it integer values in its datatype (as `hil lower` "
                     "writes them)") from err


def _tensor_type(dt: DataType, node: str, what: str) -> TensorType:
    try:
        return stream_type(dt, f"{node}: {what}")
    except PrecisionError as err:
        raise BackendRefusal(str(err)) from None


def threshold_counts(out_dt: DataType, steps: int, act_val: int, node: str) -> tuple[TensorType, int, int]:
    """(output stream type, out_scale, out_bias) of a threshold activation."""
    out = _tensor_type(out_dt, node, "outputDataType")
    if out.enc is Enc.BIT:
        if steps != 1:
            raise refuse(node, f"a BIPOLAR output from {steps} thresholds per channel", "use one threshold per channel")
        return out, 1, 0
    if act_val < out.lo or act_val + steps > out.hi:
        raise refuse(node, f"outputs [{act_val}, {act_val + steps}] outside outputDataType {out_dt.name}",
                     "widen outputDataType")
    return out, 1, act_val


def threshold_matrix(t: np.ndarray, channels: int, lo: int, hi: int, enc: Enc, node: str) -> np.ndarray:
    """Integer thresholds (C, steps) equivalent to t on integer inputs in [lo, hi] (IR values)."""
    t = np.asarray(t, dtype=np.float64)
    if np.isnan(t).any():
        raise refuse(node, "NaN thresholds", "give every threshold a finite value")
    t = broadcast_thresholds(t, channels)
    if t.shape[0] != channels:
        raise refuse(node, f"thresholds of shape {t.shape} for {channels} channels",
                     f"give it ({channels}, steps) or (1, steps) thresholds")
    t = np.clip(np.ceil(t), lo, hi + 1)  # x >= T <=> x >= ceil(T); outside [lo, hi] the answer is constant
    if enc is Enc.BIT:
        t = np.clip(np.ceil((t + 1) / 2), 0, 2)
    return t.astype(np.int64)


# ---- the walk over the dataflow graph ------------------------------------------------------------

class _Walk:
    """The plan under construction and hls4ml's layer vocabulary. Each op's `hls4ml_layers(walk,
    node)` (hw/ops/<op>.py) says which layers it maps to by calling these builders; the builders own
    the typed precisions and the exactness checks."""

    def __init__(self, model: ModelWrapper):
        self.model = model
        self.layers: list[Layer] = []
        self.at: Optional[Layer] = None  # the layer whose output the node being walked reads
        self.producer: dict[str, Layer] = {}  # IR stream tensor -> the layer whose output carries it
        self.swg: Optional[tuple[str, ConvGeom]] = None  # a window generator the node being walked reads
        self.pending_swg: dict[str, tuple[str, ConvGeom]] = {}  # SWG output (through FIFOs) -> the SWG
        self.host_label_select: Optional[str] = None

    @property
    def cur(self) -> Layer:
        return self.at

    def add(self, layer: Layer) -> None:
        if self.swg is not None and not isinstance(layer, DenseLayer):
            raise refuse(self.swg[0], f"a sliding-window generator feeding {layer.ir_nodes[0]}",
                         "follow the SWG with an MVAU (a window generator feeds convolutions only "
                         "here), or use --backend finn")
        if not layer.inputs:
            layer.inputs = (self.at.name,)
        self.layers.append(layer)
        self.at = layer

    def refuse(self, node, construct: str, fix: str):
        raise refuse(node.name, construct, fix)

    def unsupported(self, node):
        supported = [f"{name} (last)" if name == "LabelSelect" else name for name, cls in custom_op.items()
                     if cls.hls4ml_layers is not HWOp.hls4ml_layers]
        raise refuse(node.name, f"the {node.op_type} op", f"the hls4ml backend supports {', '.join(supported)}; "
                     "use --backend finn for the others")

    def initializer(self, node, i: int, what: str) -> np.ndarray:
        return _init(self.model, node, i, what)

    # Dense / Conv2D ------------------------------------------------------------------------------
    def dense(self, node, w: np.ndarray, *, mw: int, mh: int, weight_dtype: DataType, acc_dtype: DataType,
              out_dtype: DataType, xnor: bool, input_vectors: list[int], folding: dict, activation: bool) -> None:
        """x @ w as a Dense (Conv2D when an SWG feeds it, Conv2D 1x1 over a feature map); with
        `activation` its output is an internal accumulator for the threshold() that follows."""
        name = node.name
        w = _int(w, name, "weights")
        if w.shape != (mw, mh):
            raise refuse(name, f"a weight matrix of shape {w.shape} (MW={mw}, MH={mh})",
                         f"give the weight matrix the shape (MW, MH) = ({mw}, {mh})")
        weight, bias, weight_t, accum_t, lo, hi = self._typed_weights(name, xnor, w, weight_dtype, acc_dtype)
        rf, strategy = reuse_and_strategy(name, mw, mh, folding["PE"], folding["SIMD"])
        if self.swg is not None and self.swg[1].depthwise:
            raise refuse(self.swg[0], f"a depthwise sliding window feeding the MVAU {name}",
                         "feed a depthwise window generator to a VVAU (as `hil lower` does)")
        conv, shape = self._geometry(name, input_vectors, mw, mh)
        if conv is None and len(self.cur.shape) > 1 and math.prod(self.cur.shape[:-1]) > 1:
            self._flatten(name, mw)
            shape = (mh,)
        elif conv is None and self.cur.shape[-1] != mw:
            raise refuse(name, f"an MVAU with MW={mw} after a stream of {self.cur.shape[-1]} values per vector",
                         f"set MW={self.cur.shape[-1]} (and the weight matrix to match)")
        dense = dict(weight=weight, bias=bias, weight_t=weight_t, bias_t=IntType.of_values(bias), accum_t=accum_t,
                     reuse=rf, strategy=strategy, conv=conv, folding=dict(folding))
        self._add_product(node, shape, lo, hi, acc_dtype, out_dtype, activation, dense)

    def _add_product(self, node, shape: tuple[int, ...], lo: np.ndarray, hi: np.ndarray, acc_dtype: DataType,
                     out_dtype: DataType, activation: bool, dense: dict) -> None:
        """The DenseLayer of an MVAU/VVAU (and of the SWG feeding it): the node's output when it has no
        activation (outputDataType must hold the accumulator), else an internal accumulator."""
        name = node.name
        swg, self.swg = self.swg, None
        nodes = ((swg[0],) if swg else ()) + (name,)
        if not activation:
            out = _tensor_type(out_dtype, name, "outputDataType")
            if out.enc is Enc.BIT or not out.hw.covers(lo.min(), hi.max()):
                raise refuse(name, f"outputDataType {out.dtype} for the accumulator range [{lo.min()}, {hi.max()}] "
                                   "with noActivation=1", "set outputDataType to the accumulator type")
            self.add(DenseLayer(name, nodes, out, shape, node.output[0], **dense))
            return
        acc = TensorType(acc_dtype.name, dense["accum_t"], Enc.INT)
        self.add(DenseLayer(f"{name}_acc", nodes, acc, shape, None, **dense))

    def depthwise(self, node, taps: np.ndarray, *, channels: int, weight_dtype: DataType, acc_dtype: DataType,
                  out_dtype: DataType, folding: dict, activation: bool) -> None:
        """acc[c] = Σ_t x[t, c]·W[t, c] over the windows of the depthwise SWG feeding this node (taps:
        the (k_h·k_w, C) weight matrix): hls4ml's DepthwiseConv2D, depth multiplier 1
        (nnet_sepconv2d_stream.h depthwise_conv_2d_cl, nnet_depthwise_product.h: acc in accum_t over
        weights[tap·C + c]); with `activation` its output is the accumulator of the threshold() that
        follows."""
        name = node.name
        if self.swg is None or not self.swg[1].depthwise:
            raise refuse(name, "a VVAU not fed by a depthwise sliding-window generator",
                         "feed it from a depthwise SWG (as `hil lower` writes depthwise convolutions)")
        g = self.swg[1]
        w = _int(taps, name, "weights")
        if g.one_d or g.n_chan != channels or w.shape != (g.taps, channels):
            raise refuse(name, f"a {w.shape[0]}-tap VVAU over {channels} channels after {self.swg[0]} "
                               f"({'1x' if g.one_d else f'{g.k}x'}{g.k} windows of {g.n_chan} channels)",
                         "give the VVAU the kernel and channels of its window generator")
        weight, bias, weight_t, accum_t, lo, hi = self._typed_weights(name, False, w, weight_dtype, acc_dtype)
        # cycles per output pixel of the folded VVAU; hls4ml's Resource validation sees n_in = k²·C, n_out = C
        rf = (g.taps // folding["SIMD"]) * (channels // folding["PE"])
        strategy = "Resource" if rf > 1 and resource_rf_valid(g.taps * channels, channels, rf) else "Latency"
        dense = dict(weight=weight, bias=bias, weight_t=weight_t, bias_t=IntType.of_values(bias), accum_t=accum_t,
                     reuse=rf, strategy=strategy, conv=g, folding=dict(folding))
        self._add_product(node, g.out_shape + (channels,), lo, hi, acc_dtype, out_dtype, activation, dense)

    def _typed_weights(self, name: str, xnor: bool, w: np.ndarray, wdt: DataType, acc_dtype: DataType):
        """(hw weights, hw bias, weight_t, accum_t, acc lo, acc hi) of integer weights w, each column one
        output: the weights within weightDataType, the accumulator range within accDataType."""
        if w.min() < wdt.min() or w.max() > wdt.max():
            raise refuse(name, f"weights outside weightDataType {wdt.name}", "widen weightDataType")
        weight, bias, weight_t, lo, hi = self._dense_weights(name, xnor, w, wdt)
        accum_t = value_type(acc_dtype, f"{name}: accDataType")
        if not accum_t.covers(lo.min(), hi.max()):
            raise refuse(name, f"accDataType {acc_dtype.name} for the accumulator range "
                               f"[{lo.min()}, {hi.max()}]", "widen accDataType (or re-run the accumulator "
                               "minimization of the lowering)")
        return weight, bias, weight_t, accum_t, lo, hi

    def _dense_weights(self, name: str, xnor: bool, w: np.ndarray, wdt: DataType):
        """(hw weights, hw bias, weight_t, acc lo, acc hi): hw Dense output == the IR accumulator."""
        inp = self.cur.out
        if xnor:
            if inp.enc is not Enc.BIT and inp.dtype != "BINARY":
                raise refuse(name, f"binaryXnorMode=1 on a {inp.dtype} input", "feed it a BIPOLAR stream")
            wpm = np.where(w > 0, 1, -1)  # the IR reads W > 0 as +1 (BIPOLAR or BINARY weights)
            bias = (wpm < 0).sum(axis=0)
            zeros = np.zeros(w.shape[1], dtype=np.int64)
            return wpm, bias, IntType(2, True), zeros, zeros + w.shape[0]
        if inp.enc is Enc.BIT:  # x = 2b - 1:  x·W = b·(2W) - colsum(W)
            weight, bias = 2 * w, -w.sum(axis=0)
            weight_t = IntType.covering(2 * int(wdt.min()), 2 * int(wdt.max()))
            lo, hi = accumulator_range(w, -1, 1)
        else:
            weight, bias, weight_t = w, np.zeros(w.shape[1], dtype=np.int64), value_type(wdt, f"{name}: weights")
            lo, hi = accumulator_range(w, inp.lo, inp.hi)
        if weight_t == IntType(2, True) and (weight == -2).any():
            weight_t = IntType(3, True)  # hls4ml's ap_int<2> product is 'weight_ternary' (assumes -1, 0, 1)
        if weight_t == IntType(1, False) and inp.hw == IntType(1, False):
            weight_t = IntType(2, False)  # hls4ml casts ap_uint<1> x ap_uint<1> Dense outputs as xnor popcounts
        if max(abs(int(lo.min())), abs(int(hi.max()))).bit_length() > ACC_BITS_MAX:
            raise refuse(name, "an accumulator wider than 62 bits", "narrow the weight or input datatypes")
        return weight, bias, weight_t, lo, hi

    def _geometry(self, name: str, vec: list[int], mw: int, mh: int) -> tuple[Optional[ConvGeom], tuple[int, ...]]:
        if self.swg is not None:
            g = self.swg[1]
            if mw != g.taps * g.n_chan:
                kernel = f"1x{g.k}" if g.one_d else f"{g.k}x{g.k}"
                raise refuse(name, f"MW={mw} after {self.swg[0]} ({kernel}x{g.n_chan} windows)",
                             f"set MW={g.taps * g.n_chan} (the im2col window size kh·kw·C)")
            return g, g.out_shape + (mh,)
        if math.prod(vec) > 1:
            if len(vec) != 3 or len(self.cur.shape) != 3:
                raise refuse(name, f"an MVAU over numInputVectors={vec} on a stream of shape {self.cur.shape} (not "
                                   "a 2-D feature map)", "hls4ml convolves 2-D maps only: give a 1-D map of length "
                                   "L the shape (1, L, C) and numInputVectors=[1, 1, L]")
            h, w = vec[1], vec[2]
            if self.cur.shape != (h, w, mw):
                raise refuse(name, f"an MVAU over numInputVectors={vec} with MW={mw} after a feature map of shape "
                                   f"{self.cur.shape}", f"set numInputVectors=[1, {self.cur.shape[0]}, "
                                   f"{self.cur.shape[1]}] and MW={self.cur.shape[2]}")
            return ConvGeom(h, w, mw, 1, 1, h, w), (h, w, mh)
        return None, self.cur.shape[:-1] + (mh,)

    def _flatten(self, name: str, mw: int) -> None:
        """A dense MVAU (numInputVectors=[1]) after a feature map reads the whole map as one vector."""
        fmap = self.cur.shape
        if math.prod(fmap) != mw:
            raise refuse(name, f"an MVAU with MW={mw} and numInputVectors=[1] after a feature map of shape "
                               f"{fmap} (neither one vector per pixel nor the flattened map)",
                         f"set numInputVectors=[1, {fmap[0]}, {fmap[1]}] with MW={fmap[-1]} for a pointwise layer, "
                         f"or MW={math.prod(fmap)} for a dense layer after a flatten")
        self.add(FlattenLayer(f"{name}_flatten", (name,), self.cur.out, (mw,), None))

    # HilThreshold --------------------------------------------------------------------------------
    def threshold(self, node, t: np.ndarray, channels: int, out_dtype: DataType, act_val: int) -> None:
        """out = Σ_k [x >= T_k] + ActVal on the current stream, or on the accumulator of the
        dense() this node just added."""
        name = node.name
        out, scale, out_bias = threshold_counts(out_dtype, t.shape[-1], act_val, name)
        if isinstance(self.cur, DenseLayer) and self.cur.ir_tensor is None:  # this node's own accumulator
            lo, hi, enc = self.cur.accum_t.lo, self.cur.accum_t.hi, Enc.INT
        else:
            lo, hi, enc = self.cur.out.lo, self.cur.out.hi, self.cur.out.enc
        tm = threshold_matrix(t, channels, lo, hi, enc, name)
        self.add(ThresholdLayer(name, (name,), out, self.cur.shape, node.output[0], thresholds=tm,
                                threshold_t=IntType.of_values(tm), out_scale=scale, out_bias=out_bias))

    # the other layers ----------------------------------------------------------------------------
    def sliding_window(self, node, geom: ConvGeom) -> None:
        """A window generator is not a layer: it makes the next dense() a Conv2D (Conv1D for a 1-D
        window, DepthwiseConv2D for the depthwise() of a VVAU)."""
        shape = self.cur.shape
        want = ((geom.in_w, geom.n_chan), (1, geom.in_w, geom.n_chan)) if geom.one_d else \
            ((geom.in_h, geom.in_w, geom.n_chan),)
        if shape not in want:
            what = f"1x{geom.in_w}x{geom.n_chan} signal" if geom.one_d else \
                f"{geom.in_h}x{geom.in_w}x{geom.n_chan} feature map"
            raise refuse(node.name, f"a sliding window over a {what} reading a stream of shape {shape}",
                         "give the window generator the shape of the stream it reads")
        self.swg = (node.name, geom)

    def conv_geometry(self, in_h: int, in_w: int, n_chan: int, k: int, stride: int, out_h: int, out_w: int, *,
                      one_d: bool = False, depthwise: bool = False) -> ConvGeom:
        return ConvGeom(in_h, in_w, n_chan, k, stride, out_h, out_w, one_d, depthwise)

    def upsample(self, node, in_hw: tuple[int, int], out_hw: tuple[int, int], channels: int) -> None:
        """Nearest-neighbour upsampling: UpSampling2D (hls4ml Resize), exact for integer factors."""
        (hi, wi), (ho, wo) = in_hw, out_hw
        if self.cur.shape != (hi, wi, channels):
            raise refuse(node.name, f"an upsampling of a {hi}x{wi}x{channels} map reading a stream of shape "
                                    f"{self.cur.shape}", "give the Upsample the shape of the stream it reads")
        if ho % hi or wo % wi:
            raise refuse(node.name, f"nearest-neighbour upsampling from {hi}x{wi} to {ho}x{wo} (not an integer "
                                    "factor; hls4ml's resize_nearest repeats each pixel HO/HI x WO/WI times)",
                         f"upsample by integer factors (e.g. to {hi * max(1, round(ho / hi))}x"
                         f"{wi * max(1, round(wo / wi))}), or use --backend finn")
        self.add(ResizeLayer(node.name, (node.name,), self.cur.out, (ho, wo, channels), node.output[0],
                             in_hw=(hi, wi)))

    def global_acc_pool(self, node, pixels: int, channels: int, out_dtype: DataType) -> None:
        """The per-channel sum over the whole map: HilGlobalAccPool (hls4ml_ext), output (C,)."""
        cur = self.cur
        if len(cur.shape) < 2 or cur.shape[-1] != channels or math.prod(cur.shape[:-1]) != pixels:
            raise refuse(node.name, f"a global pool over {pixels} pixels of {channels} channels reading a stream "
                                    f"of shape {cur.shape}", "give the GlobalAccPool the shape of the stream it reads")
        if cur.out.enc is Enc.BIT:
            raise refuse(node.name, "a sum of BIPOLAR values (hls4ml carries them as bits)",
                         "quantize the pooled stream to integers, or use --backend finn")
        out = _tensor_type(out_dtype, node.name, "output datatype")
        lo, hi = cur.out.lo * pixels, cur.out.hi * pixels
        if out.enc is Enc.BIT or not out.hw.covers(lo, hi):
            raise refuse(node.name, f"output datatype {out.dtype} for the sums in [{lo}, {hi}]",
                         "widen the output datatype")
        self.add(AccPoolLayer(node.name, (node.name,), out, (channels,), node.output[0], pixels=pixels))

    def pool(self, node, k: int, shape: tuple[int, ...]) -> None:
        self.add(PoolLayer(node.name, (node.name,), self.cur.out, shape, node.output[0], k=k))

    def pad(self, node, pads: tuple[int, int, int, int], shape: tuple[int, ...]) -> None:
        self.add(PadLayer(node.name, (node.name,), self.cur.out, shape, node.output[0], pads=pads))

    def add_streams(self, node, out_dtype: DataType) -> None:
        """out = a + b of the streams node.input[0] (the current layer) and node.input[1]."""
        a, b = self.cur, self.producer.get(node.input[1])
        if b is None:
            raise refuse(node.name, f"a second input {node.input[1]} that no earlier node produces",
                         "feed it from a node of the graph (a DuplicateStreams fork)")
        if Enc.BIT in (a.out.enc, b.out.enc):
            raise refuse(node.name, "a sum of BIPOLAR streams (hls4ml carries them as bits)",
                         "quantize the joined streams to integers (e.g. a 2-bit signed activation), or use "
                         "--backend finn")
        if a.shape != b.shape:
            raise refuse(node.name, f"a sum of streams of shapes {a.shape} and {b.shape}",
                         "join streams of one shape")
        out = _tensor_type(out_dtype, node.name, "outputDataType")
        lo, hi = a.out.lo + b.out.lo, a.out.hi + b.out.hi
        if not out.hw.covers(lo, hi):
            raise refuse(node.name, f"outputDataType {out.dtype} for the sums in [{lo}, {hi}]",
                         "widen outputDataType")
        self.add(AddLayer(node.name, (node.name,), out, a.shape, node.output[0], inputs=(a.name, b.name)))

    def on_host(self, node) -> None:
        """The node runs on the host on the hls4ml outputs (hls4ml has no such layer); it must be last."""
        self.host_label_select = node.name


def plan_hls4ml(model: ModelWrapper) -> Plan:
    """The typed hls4ml plan of a dataflow graph, or BackendRefusal naming the first node that
    cannot be expressed exactly."""
    from hw.emulator.graph import TimingGraphError
    from hw.emulator.values import node_order

    g = model.graph
    if len(g.input) != 1 or len(g.output) != 1:
        raise BackendRefusal(f"the hls4ml backend needs one graph input and one output, got {len(g.input)} and "
                             f"{len(g.output)}; `hil lower` makes one of each")
    iname, oname = g.input[0].name, g.output[0].name
    in_dt = model.get_tensor_datatype(iname)
    walk = _Walk(model)
    shape = tuple(int(d) for d in model.get_tensor_shape(iname))[1:]
    port = re.sub(r"\W", "_", iname)  # the C++ port name of the top function
    port = "in_" + port if port == "input" or port[0].isdigit() else port
    walk.layers.append(InputLayer(port, (), _tensor_type(in_dt, iname, "graph input"), shape, iname))
    walk.producer[iname] = walk.layers[0]
    try:
        nodes = node_order(model)
    except TimingGraphError as err:  # a node reading a tensor that nothing makes (or a cycle)
        raise BackendRefusal(f"{err}; give every node input a producer node or an initializer") from None
    for node in nodes:
        if node.domain != DOMAIN:
            raise refuse(node.name, f"a {node.op_type} node (domain {node.domain!r})", "run `hil lower` on it first")
        if walk.host_label_select is not None:
            raise refuse(walk.host_label_select, f"a LabelSelect followed by {node.name}",
                         "LabelSelect is supported only as the last node")
        if not node.input or node.input[0] not in walk.producer:
            raise refuse(node.name, f"a {node.op_type} node whose input is no stream of the graph",
                         "feed it from the graph input or another node")
        op = getCustomOp(node)
        try:
            op.validate()
        except OpError as err:
            raise BackendRefusal(str(err)) from None
        walk.at, walk.swg = walk.producer[node.input[0]], walk.pending_swg.pop(node.input[0], None)
        op.hls4ml_layers(walk, node)
        if walk.swg is not None:  # the SWG itself, or a FIFO/DWC after it: its consumer comes later
            if len(node.output) != 1:
                raise refuse(walk.swg[0], f"a sliding-window generator feeding {node.name}",
                             "follow the SWG with an MVAU (a window generator feeds convolutions only here)")
            walk.pending_swg[node.output[0]] = walk.swg
        for out in node.output:
            walk.producer[out] = walk.at
    for name, _ in walk.pending_swg.values():
        raise refuse(name, "a sliding-window generator at the end of the graph",
                     "end the graph with the MVAU the window generator feeds")
    last = walk.producer.get(oname)
    if last is not walk.layers[-1]:
        raise BackendRefusal(f"graph output {oname} is not written by the last layer of the graph; make the last "
                             "node write it")
    return Plan(walk.layers, walk.layers[0].out, last.out, walk.host_label_select, iname, oname)
