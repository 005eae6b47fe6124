"""The `calibrated` resource model: weight-aware LUT/FF/DSP/BRAM/URAM per dataflow op.

    calibrated_resources(model, node, device=None, clock_ns=None) -> Resources
    resources(op, device=None) -> Resources   # HWOp.resources(CALIBRATED): ops without weights only

Built from the primitives of hw/cost/primitives.py (constants and their provenance live there).
MVAU: each PE·SIMD lane multiplies by the weights it sees over the folding (FINN's weight layout:
row r of W^T goes to PE r % PE, column j to SIMD lane j % SIMD). At full unroll every lane is a
constant multiplier (zero free, ±2^k a shift, else CSD shift-adds or a DSP); a folded lane is a real
multiplier (LUTs ~ W·A, or a DSP when both widths need one), XNOR lanes fold into the popcount
tree. Adder tree, accumulator and threshold comparators use the exact accumulator width of the
actual weights; weights and thresholds are ROMs whose constant bit columns cost nothing.
Dispatch is by op class (functools.singledispatch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import singledispatch
from typing import Any, Optional

import numpy as np

from hw.cost import finn as fc
from hw.cost import primitives as P
from hw.cost.resources import Resources
from hw.ops.addstreams import AddStreams
from hw.ops.duplicatestreams import DuplicateStreams
from hw.ops.dwc import DWC
from hw.ops.fifo import FIFO
from hw.ops.fmpadding import FMPadding
from hw.ops.labelselect import LabelSelect
from hw.ops.mvau import MVAU
from hw.ops.streamingmaxpool import StreamingMaxPool
from hw.ops.swg import SWG
from hw.ops.thresholding import Thresholding

QSRL_MAX_DEPTH = 256  # FINN streamingfifo: Q_srl "efficient for depth 2...256" (max_qsrl_depth)


def node_initializer(model, node, i: int, what: str) -> np.ndarray:
    """Integer initializer at input i of `node` (weights, thresholds), or a ValueError naming it."""
    name = node.input[i] if len(node.input) > i else ""
    value = model.get_initializer(name) if name else None
    if value is None:
        raise ValueError(f"{node.name}: the calibrated cost model needs the {what} as an initializer "
                         f"(input {i}); external or missing {what} cannot be costed weight-aware")
    values = np.asarray(value, dtype=np.float64)
    if not np.array_equal(values, np.round(values)):
        raise ValueError(f"{node.name}: {what} are not integers")
    return values.astype(np.int64)


@dataclass(frozen=True)
class Context:
    model: Any  # qonnx ModelWrapper
    node: Any  # onnx NodeProto
    dsp_block: str
    clock_ns: float

    def initializer(self, i: int, what: str) -> np.ndarray:
        return node_initializer(self.model, self.node, i, what)


def calibrated_resources(model, node, device=None, clock_ns: Optional[float] = None) -> Resources:
    """Calibrated resources of one hw.ops node of `model` on `device` (hw.devices.Device; default
    part when None) at `clock_ns` (default: the device's clock). LUT and FF are rounded to integers.
    `model` may be None for ops without initializers."""
    from qonnx.custom_op.registry import getCustomOp

    return _dispatch(getCustomOp(node), model, node, device, clock_ns)


def resources(op, device=None) -> Resources:
    """The HWOp.resources(CostModel.CALIBRATED, device) entry point. An op alone does not see the
    model's initializers, so weight-carrying ops (MVAU, Thresholding) are refused here."""
    if isinstance(op, (MVAU, Thresholding)):
        raise NotImplementedError(f"{op.name}: the calibrated model is weight-aware and needs the model: use "
                                  "hw.cost.calibrated.calibrated_resources(model, node, device) (as hil estimate does)")
    return _dispatch(op, None, op.onnx_node, device, None)


def _dispatch(op, model, node, device, clock_ns: Optional[float]) -> Resources:
    if device is None:
        from hw.devices import DEFAULT_DEVICE, get_device

        device = get_device(DEFAULT_DEVICE)
    clock = float(device.default_clock_ns if clock_ns is None else clock_ns)
    res = op_resources(op, Context(model, node, device.dsp_block, clock))
    return Resources(LUT=round(res.LUT), FF=round(res.FF), DSP=res.DSP, BRAM_18K=res.BRAM_18K, URAM=res.URAM)


@singledispatch
def op_resources(op, ctx: Context) -> Resources:
    raise NotImplementedError(f"{ctx.node.name}: no calibrated resource model for {type(op).__name__}")


def _scaled(res: Resources, n: float) -> Resources:
    return Resources(*(n * v for v in res.as_tuple()))


def _streams(op, base: Resources = P.HLS_STREAM_OP_OVERHEAD, extra_iterations: int = 0) -> Resources:
    """Stream port registers, the loop counter and the op's fixed control cost."""
    ins = sum(op.instream_width(i) for i in range(op.n_stream_inputs()))
    outs = sum(op.outstream_width(o) for o in range(op.n_stream_outputs()))
    iterations = max(op.cycles(), extra_iterations, 1)
    return Resources(FF=P.FF_PER_STREAM_BIT * (ins + outs)) + P.counter(iterations) + base


# ---- MVAU -----------------------------------------------------------------------------------------
def accumulator_bits(w: np.ndarray, xmin: int, xmax: int, thresholds: Optional[np.ndarray] = None) -> int:
    """Exact accumulator width of x @ w for x in [xmin, xmax], widened by the threshold range
    (FINN minimize_accumulator_width)."""
    pos = np.where(w > 0, w, 0).sum(axis=0)  # per output column
    neg = w.sum(axis=0) - pos
    hi = int((pos * xmax + neg * xmin).max())
    lo = int((pos * xmin + neg * xmax).min())
    if thresholds is not None and thresholds.size:
        lo, hi = min(lo, int(thresholds.min())), max(hi, int(thresholds.max()))
    return int(P.range_bits(lo, hi))


def mvau_lanes(w: np.ndarray, pe: int, simd: int) -> np.ndarray:
    """(PE·SIMD, WMEM) weights each multiplier lane sees (FINN get_hw_compatible_weight_tensor)."""
    mw, mh = w.shape
    nf, sf = mh // pe, mw // simd
    return w.T.reshape(nf, pe, sf, simd).transpose(1, 3, 0, 2).reshape(pe * simd, nf * sf)


def thresholds_cost(thr: np.ndarray, pe: int, cmp_bits: int, out_bits: int, style: str, rom: bool) -> Resources:
    """(2^B - 1) comparators of cmp_bits per PE, their thermometer-to-binary count, and the threshold
    memory (TMEM entries of n_steps·cmp_bits per PE) when a PE serves several channels."""
    channels, steps = thr.shape
    comparators = P.adders(pe * steps * cmp_bits)
    encoder = P.adders(pe * P.adder_tree_bits(np.array([steps]), 1, out_bits)[0])
    tmem = channels // pe
    mem = Resources()
    if tmem > 1:
        per_pe = thr.reshape(tmem, pe, steps).transpose(1, 0, 2)
        mem = sum((P.stored_memory(per_pe[p], cmp_bits, style, rom) for p in range(pe)), Resources())
    return Resources(LUT=comparators + encoder, FF=pe * out_bits) + mem


@op_resources.register
def _mvau(op: MVAU, ctx: Context) -> Resources:
    pe, simd, mh = op.a("PE"), op.a("SIMD"), op.a("MH")
    w = ctx.initializer(1, "weights")
    thr = None if op.a("noActivation") else ctx.initializer(2, "thresholds")
    if thr is not None and thr.shape[0] == 1 and mh > 1:
        thr = np.repeat(thr, mh, axis=0)
    idt, wdt = op.dt("inputDataType"), op.dt("weightDataType")
    xnor = bool(op.a("binaryXnorMode"))
    rom = op.a("mem_mode") != "external" and not op.a("runtime_writeable_weights")
    a_bits, w_bits = (1, 1) if xnor else (idt.bitwidth(), wdt.bitwidth())
    lanes = mvau_lanes(w, pe, simd)
    if xnor:  # XNOR folds into the first popcount level; every lane is active
        lut = dsp = np.zeros(pe * simd)
        prod, active = np.ones(pe * simd, dtype=np.int64), np.ones(pe * simd, dtype=bool)
        acc = accumulator_bits((w > 0).astype(np.int64), 0, 1, thr)
    else:
        lut, dsp, prod, active = P.lane_multipliers(lanes, a_bits, w_bits, ctx.dsp_block, op.a("resType"), rom)
        acc = accumulator_bits(w, int(idt.min()), int(idt.max()), thr)
    n_terms = active.reshape(pe, simd).sum(axis=1)
    tree = P.adders(P.adder_tree_bits(n_terms, prod.reshape(pe, simd).max(axis=1), acc))
    mult_levels = P.DSP_MULT_LEVELS if dsp.any() else 1  # fabric multipliers: ~1 adder level (assumed)
    res = Resources(LUT=float(lut.sum()) + tree, DSP=float(dsp.sum()),
                    FF=P.tree_pipeline_ff(n_terms, acc, ctx.clock_ns, mult_levels))
    if thr is not None:
        res = res + thresholds_cost(thr, pe, acc, op.dt("outputDataType").bitwidth(),
                                    op.a("ram_style_thresholds"), rom)
    stored = (lanes > 0).astype(np.int64) if wdt.name == "BIPOLAR" else lanes  # BIPOLAR: 1 bit, 1 = +1
    return res + _mvau_state(op, stored, w_bits, a_bits, acc, rom) + _streams(op, P.HLS_KERNEL_OVERHEAD)


def _mvau_state(op: MVAU, stored: np.ndarray, w_bits: int, a_bits: int, acc: int, rom: bool) -> Resources:
    """Accumulators, the weight memory and the input buffer of a folded MVAU."""
    pe, simd = op.a("PE"), op.a("SIMD")
    nf, sf = op.a("MH") // pe, op.a("MW") // simd
    res = Resources()
    if sf > 1:  # an accumulator adder and register per PE; inputBuf[SF] replayed for every nf (mvau.hpp)
        res = res + Resources(LUT=P.adders(pe * acc), FF=pe * acc) + P.memory(simd * a_bits, sf, "auto")
    if op.a("mem_mode") != "external" and nf * sf > 1:
        res = res + P.stored_memory(stored.T, w_bits, op.a("ram_style"), rom)
    return res


# ---- the other ops --------------------------------------------------------------------------------
@op_resources.register
def _thresholding(op: Thresholding, ctx: Context) -> Resources:
    thr = ctx.initializer(1, "thresholds")
    channels = op.a("NumChannels")
    if thr.shape[0] == 1 and channels > 1:
        thr = np.repeat(thr, channels, axis=0)
    idt = op.dt("inputDataType")
    bits = max(idt.bitwidth(), int(P.range_bits(thr.min(), thr.max())))
    rom = not op.a("runtime_writeable_weights")
    return thresholds_cost(thr, op.a("PE"), bits, op.dt("outputDataType").bitwidth(), op.a("ram_style"),
                           rom) + _streams(op, P.HLS_KERNEL_OVERHEAD)


@op_resources.register
def _swg(op: SWG, ctx: Context) -> Resources:
    """k + stride row buffers of IFMDim·C/SIMD words of SIMD·A bits (the HLS SWG), an output mux
    over the buffers, and the read/write address counters."""
    k, s, ifm = op.a("ConvKernelDim")[0], op.a("Stride")[0], op.a("IFMDim")[1]
    simd, ch = op.a("SIMD"), op.a("IFMChannels")
    width, depth = simd * op.dt("inputDataType").bitwidth(), ifm * ch // simd
    buffers = _scaled(P.memory(width, depth, op.a("ram_style")), k + s)
    addr = _scaled(P.counter(depth), 4)  # read/write row and column address counters (assumed)
    return buffers + Resources(LUT=P.mux(k + s, width)) + addr + _streams(op, P.HLS_KERNEL_OVERHEAD)


@op_resources.register
def _fifo(op: FIFO, ctx: Context) -> Resources:
    """Q_srl (impl_style rtl) is shift registers; a Vivado FIFO follows ram_style, auto choosing SRL
    up to QSRL_MAX_DEPTH and BRAM beyond. Plus the occupancy counter and handshake."""
    depth = fc.fifo_adjusted_depth(op.a("depth"), op.a("impl_style"))
    style = op.a("ram_style")
    if op.a("impl_style") == "rtl":
        style = "srl"
    elif style == "auto":
        style = "srl" if depth <= QSRL_MAX_DEPTH else "block"
    ctrl = P.counter(depth)  # occupancy counter (Q_srl's SRL address)
    full_empty = Resources(LUT=P.clog2(depth) + 2, FF=2)  # full/empty compares and flags (assumed)
    return P.memory(op.instream_width(), depth, style) + ctrl + full_empty


@op_resources.register
def _dwc(op: DWC, ctx: Context) -> Resources:
    """A register of the wider word; in > out: an out-bit (in/out):1 mux; in < out: load enables.
    Non-multiple widths go through lcm(in, out) (FINN's intermediate width)."""
    win, wout = op.a("inWidth"), op.a("outWidth")
    mid = math.lcm(win, wout)
    lut, ff = 0.0, 0
    for a, b in ((win, mid), (mid, wout)):
        if a == b:
            continue
        lut += P.mux(a // b, b) if a > b else P.mux(2, b)
        ff += max(a, b)
    return Resources(LUT=lut, FF=ff) + _streams(op, Resources(), mid // min(win, wout))


@op_resources.register
def _maxpool(op: StreamingMaxPool, ctx: Context) -> Resources:
    """C comparators and 2:1 max muxes per input word, a buffer of one output row of maxima."""
    ch, bits = op.a("NumChannels"), op.dt("dataType").bitwidth()
    ifm, k = op.a("ImgDim")[1], op.a("PoolDim")[1]
    row = P.memory(ch * bits, ifm // k, "auto")
    return Resources(LUT=P.adders(ch * bits) + P.mux(2, ch * bits)) + row + _streams(op)


@op_resources.register
def _labelselect(op: LabelSelect, ctx: Context) -> Resources:
    """A sorted list of K (value, label) registers; every input is compared with all K entries and
    inserted through 2:1 muxes."""
    k, pe = op.a("K"), op.a("PE")
    vbits, lbits = op.dt("inputDataType").bitwidth(), op.output_datatype().bitwidth()
    entry = vbits + lbits
    lut = P.adders(pe * k * vbits) + pe * P.mux(2, k * entry)
    return Resources(LUT=lut, FF=k * entry) + _streams(op, extra_iterations=op.a("Labels"))


@op_resources.register
def _addstreams(op: AddStreams, ctx: Context) -> Resources:
    """PE adders of the output width."""
    return Resources(LUT=P.adders(op.a("PE") * op.output_datatype().bitwidth())) + _streams(op)


@op_resources.register
def _duplicatestreams(op: DuplicateStreams, ctx: Context) -> Resources:
    # one valid/ready pair per output stream (assumed 2 LUT each)
    return Resources(LUT=2 * op.a("NumOutputStreams")) + _streams(op)


@op_resources.register
def _fmpadding(op: FMPadding, ctx: Context) -> Resources:
    """A 2:1 mux between the input word and zero; row and column counters."""
    width = op.a("SIMD") * op.dt("inputDataType").bitwidth()
    return Resources(LUT=P.mux(2, width)) + _scaled(P.counter(max(op.a("ImgDim"))), 2) + _streams(op)
