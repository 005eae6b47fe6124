"""HWOp: the base class of every dataflow op (the op API of the IR contract).

A HWOp is a qonnx CustomOp in domain "hw.ops". As FINN's HWCustomOp subclasses do
(finn/custom_op/fpgadataflow/hwcustomop.py: get_exp_cycles, lut_estimation,
minimize_accumulator_width on the op), one subclass in one file holds everything about its op:

* facts: `ATTRS` (FINN v0.10 attribute names, `(type, required, default[, allowed])`), `FINN_NAME`,
  `FINN_OP_TYPES`, `NAME_PREFIX`, `FINN_CONFIG_ATTRS`, `INFRASTRUCTURE`, `INIT_DTYPE_ATTRS`;
* shapes, legal foldings and the folding walk (`set_folding`), bit-width inference
  (`infer_bitwidths`), `execute`, `cycles`, `token_schedule`;
* cost: `finn_resources`, `calibrated_resources(ctx)`, `energy_actions(ctx)`;
* its hls4ml mapping (`hls4ml_layers(walk, node)`).

Passes, cost models and backends call these methods; none branches on op-type strings. Everything
generic (execution through qonnx, datatype inference, verification, the cost-model dispatch) lives
here once. The registry is `hw.ops.custom_op`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Optional

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp

from hw.cost import calibrated
from hw.cost.resources import CostModel, Resources
from hw.schedule import TokenSchedule, streaming

DOMAIN = "hw.ops"
F64_EXACT = 2**53  # integers below this are exact in float64
F32_EXACT = 2**24  # ... and in float32 (the qonnx tensor storage)
AP_INT_MAX_W = 8191  # HLS stream width limit (finn hlsbackend.py:get_ap_int_max_w)

# Attributes every HW op carries (FINN hwcustomop.py: FIFO depths requested on the node's ports).
COMMON_ATTRS: dict[str, tuple] = {
    "inFIFODepths": ("ints", False, [2]),
    "outFIFODepths": ("ints", False, [2]),
}


class OpError(ValueError):
    """An op whose attributes or inputs are inconsistent; the message names the node."""


class OnnxUnsupported(Exception):
    """A node with no exact standard-ONNX values form (HWOp.onnx_values); the message says why, and the
    design's values run the compiled plan instead (hw/emulator/engine.py)."""


class HWOp(CustomOp):
    ATTRS: ClassVar[dict[str, tuple]] = {}
    # FINN's op type before specialization (what the FINN handoff names the node), or None when FINN
    # has no such op (the handoff refuses it)
    FINN_NAME: ClassVar[Optional[str]] = None
    # FINN op types (with _hls/_rtl/_Batch stripped) a folding config may use for this op
    FINN_OP_TYPES: ClassVar[tuple[str, ...]] = ()
    # node-name prefix (MaxPool_0 for StreamingMaxPool); "" = the op type
    NAME_PREFIX: ClassVar[str] = ""
    # attributes the FINN handoff writes into folding_config.json (FINN v0.10 HLS variants)
    FINN_CONFIG_ATTRS: ClassVar[tuple[str, ...]] = ()
    # the variants finn-plus 1.6.1 has of FINN_NAME (finn/custom_op/fpgadataflow/{hls,rtl}/__init__.py
    # custom_op; tests/oracle checks them): ("rtl",) also for the ops finn-plus builds as other RTL layers
    FINN_VARIANTS: ClassVar[tuple[str, ...]] = ("hls",)
    # stream infrastructure (DWC, FIFO): inserted after folding, never configured or mapped
    INFRASTRUCTURE: ClassVar[bool] = False
    # initializer input position -> the attribute naming its datatype (hw.ops.graph.linear_model)
    INIT_DTYPE_ATTRS: ClassVar[dict[int, str]] = {}

    def finn_impl_choice(self, part: str, weights=None) -> str:
        """The variant finn-plus 1.6.1's SpecializeLayers(part) gives this node when no preferred_impl_style
        is set: specialize_layers.py:_determine_impl_style, the RTL one wherever finn-plus has it (MVAU
        and VVAU override this with FINN's per-node rule, which reads the weights)."""
        return "rtl" if "rtl" in self.FINN_VARIANTS else "hls"

    def finn_impl(self) -> str:
        """The variant the `finn` cost model follows and the FINN handoff pins: preferred_impl_style
        where the op has the attribute (its default: FINN's choice, or FINN v0.10's HLS kernel where the
        emulator models that one), else FINN's choice (finn_impl_choice; MVAU, VVAU: HLS)."""
        if "preferred_impl_style" in self.get_nodeattr_types():
            return self.get_nodeattr("preferred_impl_style")
        return "rtl" if "rtl" in self.FINN_VARIANTS else "hls"

    def finn_config_attrs(self) -> tuple[str, ...]:
        """The attributes a FINN folding config sets on this node's FINN variant (FINN_CONFIG_ATTRS)."""
        return self.FINN_CONFIG_ATTRS

    @classmethod
    def op_type(cls) -> str:
        """The op type this class is registered under in hw.ops.custom_op (its class name)."""
        return cls.__name__

    @classmethod
    def name_prefix(cls) -> str:
        return cls.NAME_PREFIX or cls.op_type()

    # ---- schema -------------------------------------------------------------------------------
    def get_nodeattr_types(self) -> dict[str, tuple]:
        return {**COMMON_ATTRS, **self.ATTRS}

    @property
    def name(self) -> str:
        return self.onnx_node.name or self.onnx_node.op_type

    def a(self, attr: str) -> Any:
        """Shorthand for get_nodeattr."""
        return self.get_nodeattr(attr)

    def dt(self, attr: str) -> DataType:
        """A datatype attribute parsed to a qonnx DataType."""
        value = self.get_nodeattr(attr)
        try:
            return DataType[value]
        except KeyError:
            raise OpError(f"{self.name}: {attr}={value!r} is not a qonnx DataType name") from None

    def err(self, msg: str) -> OpError:
        return OpError(f"{self.name} ({self.onnx_node.op_type}): {msg}")

    # ---- shapes and widths (subclasses override the shape methods) ----------------------------
    def n_stream_inputs(self) -> int:
        """Number of node inputs that are streams (the rest are initializers)."""
        return 1

    def n_stream_outputs(self) -> int:
        return 1

    def normal_input_shape(self, i: int = 0) -> tuple[int, ...]:
        raise NotImplementedError

    def normal_output_shape(self, o: int = 0) -> tuple[int, ...]:
        raise NotImplementedError

    def folded_input_shape(self, i: int = 0) -> tuple[int, ...]:
        raise NotImplementedError

    def folded_output_shape(self, o: int = 0) -> tuple[int, ...]:
        raise NotImplementedError

    def input_datatype(self, i: int = 0) -> DataType:
        return self.dt("inputDataType")

    def output_datatype(self, o: int = 0) -> DataType:
        return self.dt("outputDataType")

    def instream_width(self, i: int = 0) -> int:
        """Bits per word of input stream i (FINN get_instream_width)."""
        return self.input_datatype(i).bitwidth() * self.folded_input_shape(i)[-1]

    def outstream_width(self, o: int = 0) -> int:
        return self.output_datatype(o).bitwidth() * self.folded_output_shape(o)[-1]

    def words_in(self, i: int = 0) -> int:
        """Words per frame on input stream i."""
        return math.prod(self.folded_input_shape(i)[:-1])

    def words_out(self, o: int = 0) -> int:
        return math.prod(self.folded_output_shape(o)[:-1])

    # ---- qonnx hooks --------------------------------------------------------------------------
    def make_shape_compatible_op(self, model):
        # FINN hwcustomop.py: a RandomNormal of the output shape; ops with several outputs of one
        # shape (DuplicateStreams) list all their outputs on it
        node = self.make_const_shape_op(self.normal_output_shape(0))
        node.output[:] = self.onnx_node.output
        return node

    def infer_node_datatype(self, model) -> None:
        # FINN behaviour: the producer's annotation is the truth about the input values
        for i in range(self.n_stream_inputs()):
            actual = model.get_tensor_datatype(self.onnx_node.input[i])
            self.sync_input_datatype(i, actual)
        for o, out in enumerate(self.onnx_node.output):
            model.set_tensor_datatype(out, self.output_datatype(o))

    def sync_input_datatype(self, i: int, actual: DataType) -> None:
        if "inputDataType" in self.ATTRS and actual is not None and actual != self.input_datatype(i):
            self.set_nodeattr("inputDataType", actual.name)

    def execute_node(self, context, graph) -> None:
        inputs = [context[name] for name in self.onnx_node.input if name]
        outputs = self.execute(inputs)
        for name, value in zip(self.onnx_node.output, outputs):
            value = np.asarray(value)
            if value.size and np.abs(value).max() >= F32_EXACT:
                raise self.err(f"output {name} holds integers of magnitude >= 2^24, which float32 tensors "
                               "cannot store exactly; run this node with execute() (float64/int64) instead")
            context[name] = value.astype(np.float32)

    def verify_node(self) -> list[str]:
        """FINN-style: a list of problems (empty when the node is consistent)."""
        problems = []
        for attr in self.get_nodeattr_types():
            try:
                self.get_nodeattr(attr)
            except Exception as ex:  # noqa: BLE001 - reported, not raised
                problems.append(f"{attr}: {ex}")
        if not problems:
            try:
                problems += self.problems()
            except (OpError, ArithmeticError, KeyError, ValueError, IndexError) as ex:
                problems.append(f"inconsistent attributes: {ex}")
        return problems

    def validate(self) -> None:
        """Raise OpError naming the node and the first problem."""
        problems = self.verify_node()
        if problems:
            raise self.err("; ".join(problems))

    def problems(self) -> list[str]:
        """Op-specific consistency checks (folding divisibility, datatypes...)."""
        out = []
        for attr, total in self.fold_targets().items():
            val = self.a(attr)
            if val < 1 or total % val:
                out.append(f"{attr}={val} must divide {total}")
        return out

    # ---- execution ----------------------------------------------------------------------------
    def execute(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def compile_values(self, model):
        """This node's values function for the compiled plan (hw/emulator/plan.py): a callable from
        the node's stream inputs to its outputs, with the initializers bound. Default: `execute`, the
        one definition of the op's values; ops override it with a fast kernel that must equal
        `execute` on every input (tests/unit/test_values_plan.py)."""
        names = [t for t in self.onnx_node.input if t]
        inits = [model.get_initializer(t) for t in names]

        def run(streams: list[np.ndarray]) -> list[np.ndarray]:
            it = iter(streams)
            return self.execute([next(it) if v is None else v for v in inits])

        return run

    def onnx_values(self, ctx) -> None:
        """This node's values as standard ONNX nodes of the generated graph run by onnxruntime
        (hw/emulator/onnx_graph.py): read ctx.input(i), ctx.emit(...), ctx.output(o, value), every
        tensor an exact integer (hw/ops/_onnx_values.py). Default: no such form, so the design runs the
        compiled plan (compile_values); `hil -v emulate` logs the reason."""
        raise OnnxUnsupported(f"{self.name}: {type(self).__name__} has no ONNX values form")

    # ---- performance and cost -----------------------------------------------------------------
    def fold_targets(self) -> dict[str, int]:
        """Folding attribute -> the dimension it must divide (FINN folding constraints)."""
        return {}

    def legal_folding(self) -> dict[str, list[int]]:
        """Folding attribute -> sorted legal values (divisors, limited by the stream width)."""
        return {attr: divisors(total) for attr, total in self.fold_targets().items()}

    def set_folding(self, target_cycles: int, mvau_wwidth_max: int = 36) -> None:
        """FINN SetFolding (set_folding.py) for this op: each folding attribute walked from 1 up its
        legal values until cycles < target (optimize_attribute_val). Ops without folding
        attributes (StreamingMaxPool, DWC, FIFO) keep theirs; MVAU overrides (SIMD, then PE)."""
        for attr, total in self.fold_targets().items():
            walk_folding(self, attr, total, target_cycles)

    def infer_bitwidths(self, model) -> None:
        """FINN minimize_accumulator_width / minimize_weight_bit_width for this op, given its input
        datatypes in `model` (InferBitWidths then calls infer_node_datatype). Default: nothing."""

    def cycles(self) -> int:
        """FINN get_exp_cycles (0 where FINN gives the op no formula)."""
        return 0

    def token_schedule(self) -> TokenSchedule:
        raise NotImplementedError

    def resources(self, cost: CostModel, device=None, model=None) -> Resources:
        """The op's resources under a cost model. The calibrated model is weight-aware: ops with
        initializers (MVAU, Thresholding) need `model`."""
        cost = CostModel(cost)
        if cost is CostModel.FINN:
            return self.finn_resources(device)
        if cost is CostModel.SYNTH:  # measured, not modelled: there is no per-op formula to call
            raise NotImplementedError(f"{self.name}: the synth model reads a synthesis report of the whole design "
                                      "(`hil synth`, then `hil estimate --cost synth --rtl DIR`)")
        return calibrated.op_resources(self, model, device)

    def finn_resources(self, device=None) -> Resources:
        """FINN res_estimation as finn-plus 1.6.1 computes it (tests/oracle checks it); ops FINN does not
        estimate cost nothing (docs/finn.md §3.5)."""
        return Resources()

    def calibrated_resources(self, ctx: calibrated.Context) -> Resources:
        """The calibrated model (hw/cost/calibrated.py primitives) of this op."""
        raise NotImplementedError(f"{self.name}: no calibrated resource model for {type(self).__name__}")

    def rtl_resources(self, ctx: calibrated.NodeContext) -> Resources:
        """The calibrated model's `rtl` profile: this op's RTL template under Yosys (hw/cost/rtl.py)."""
        return self.rtl_structure(ctx).resources()

    def rtl_structure(self, ctx: calibrated.NodeContext):
        """hw.cost.rtl.Structure of this op's RTL template instance (its rtl_module) under Yosys."""
        raise NotImplementedError(f"{self.name}: no rtl resource profile for {type(self).__name__}")

    def energy_actions(self, ctx: calibrated.NodeContext) -> list:
        """Energy per frame as hw.cost.energy.ActionCount list (Accelergy-style action counts)."""
        raise NotImplementedError(f"{self.name}: no energy model for {type(self).__name__}")

    # ---- hls4ml -------------------------------------------------------------------------------
    def hls4ml_layers(self, walk, node) -> None:
        """Append this op's hls4ml layers to `walk` (toolchain.backends.plan._Walk, whose builders
        own hls4ml's layer vocabulary and typed precisions). Default: refused."""
        walk.unsupported(node)


class SameTypeOp(HWOp):
    """An op whose every stream carries the one datatype of its `dataType` attribute (DWC, FIFO,
    StreamingMaxPool)."""

    def input_datatype(self, i: int = 0):
        return self.dt("dataType")

    def output_datatype(self, o: int = 0):
        return self.dt("dataType")

    def sync_input_datatype(self, i, actual) -> None:
        if actual is not None and actual != self.dt("dataType"):
            self.set_nodeattr("dataType", actual.name)


class PassThroughOp(SameTypeOp):
    """Stream infrastructure that moves words without changing values (DWC, FIFO): FINN gives it no
    get_exp_cycles (hwcustomop.py default 0); its schedule moves max(in, out) words at II=1. It is
    inserted after folding (InsertDWC/InsertFIFO), FINN inserts its own, hls4ml makes its own streams."""

    INFRASTRUCTURE = True

    def hls4ml_layers(self, walk, node) -> None:
        return None

    def execute(self, inputs):
        return [inputs[0]]

    def onnx_values(self, ctx) -> None:
        ctx.forward(0, 0)  # the value (or a producer's deferred windows) passes through unchanged

    def cycles(self) -> int:
        return 0

    def token_schedule(self) -> TokenSchedule:
        return streaming(self.words_in(), self.words_out())


class ChannelStreamOp(HWOp):
    """An op that streams (numInputVectors, NumChannels) tensors PE channels per word and keeps their
    shape (AddStreams, DuplicateStreams): shapes, folding target and legal PE values live here once."""

    def _vec(self) -> tuple[int, ...]:
        return tuple(self.a("numInputVectors"))

    def normal_input_shape(self, i: int = 0):
        return self._vec() + (self.a("NumChannels"),)

    def normal_output_shape(self, o: int = 0):
        return self.normal_input_shape()

    def folded_input_shape(self, i: int = 0):
        pe = self.a("PE")
        return self._vec() + (self.a("NumChannels") // pe, pe)

    def folded_output_shape(self, o: int = 0):
        return self.folded_input_shape()

    def fold_targets(self) -> dict[str, int]:
        return {"PE": self.a("NumChannels")}

    def element_bits(self) -> int:
        """The widest element on any of the op's streams (bounds PE by the stream width limit)."""
        raise NotImplementedError

    def legal_folding(self):
        bits = self.element_bits()
        return {"PE": [p for p in divisors(self.a("NumChannels")) if p * bits <= AP_INT_MAX_W]}


def walk_folding(op: HWOp, attr: str, max_val: int, target: int) -> None:
    """FINN set_folding.py optimize_attribute_val: attr = 1, then divisors of max_val upwards until
    cycles < target (restricted to values within the stream-width limit)."""
    op.set_nodeattr(attr, 1)
    for val in op.legal_folding()[attr]:
        if max_val % val:
            continue
        op.set_nodeattr(attr, val)
        if op.cycles() < target:
            break


def divisors(n: int) -> list[int]:
    """Sorted divisors of n."""
    small = [d for d in range(1, int(math.isqrt(n)) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def int_bound(*dtypes: DataType) -> int:
    """Largest magnitude any value of these datatypes can take."""
    return max(max(abs(int(d.min())), abs(int(d.max()))) for d in dtypes)


def exact_matmul(x: np.ndarray, w: np.ndarray, bound: int) -> np.ndarray:
    """x @ w over the last axis, exact: float64 (BLAS) when every partial sum stays below 2^53,
    int64 otherwise. `bound` bounds |x_i·w_ij| summed over i."""
    if bound >= 2**63:
        raise OverflowError(f"accumulator bound {bound} exceeds int64")
    dtype = np.float64 if bound < F64_EXACT else np.int64
    x = np.asarray(x)
    flat = x.reshape(-1, x.shape[-1]).astype(dtype)  # one GEMM, not one per feature-map row
    return (flat @ np.asarray(w, dtype=dtype)).reshape(x.shape[:-1] + (w.shape[1],))


def accumulator_range(w: np.ndarray, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Per output column (lo, hi) of x @ w for every x in [lo, hi]^n: the one accumulator-range
    derivation (qonnx calculate_matvec_accumulator_range before its min/max over columns). The
    result has w's arithmetic with lo/hi: int64 for integer w and int bounds (exact), float else."""
    a, b = w * lo, w * hi
    return np.minimum(a, b).sum(axis=0), np.maximum(a, b).sum(axis=0)


def dtype_for_range(lo: float, hi: float) -> DataType:
    """Smallest INT/UINT (or BINARY) DataType holding every integer in [lo, hi] (FINN
    minimize_accumulator_width: UINT ceil(log2(hi+1)), INT ceil(log2(max(-lo, 1+hi)) + 1))."""
    lo, hi = int(lo), int(hi)
    if lo >= 0:
        return DataType["BINARY"] if hi <= 1 else DataType[f"UINT{max(hi, 1).bit_length()}"]
    bits = max((-lo - 1).bit_length(), hi.bit_length(), 1) + 1
    return DataType[f"INT{bits}"]


def broadcast_thresholds(thr: np.ndarray, channels: int) -> np.ndarray:
    """Thresholds as (C, n_steps): a (n_steps,) vector or a (1, n_steps) row shared by every channel
    (FINN MultiThreshold broadcasting) repeated to `channels` rows; dtype unchanged."""
    thr = np.asarray(thr)
    if thr.ndim == 1:
        thr = thr[None, :]
    if thr.shape[0] == 1 and channels != 1:
        thr = np.repeat(thr, channels, axis=0)
    return thr


def clip_thresholds(model, name: str, lo, hi) -> np.ndarray:
    """Thresholds of initializer `name` clipped to [lo_c, hi_c + 1] per channel (FINN
    RoundAndClipThresholds: a threshold below every reachable value always passes, one above never),
    written back to the model as float32; returns them as float64."""
    thr = np.asarray(model.get_initializer(name), dtype=np.float64)
    thr = np.clip(thr, np.reshape(lo, (-1, 1)), np.reshape(hi, (-1, 1)) + 1)
    model.set_initializer(name, thr.astype(np.float32))
    return thr


def threshold_output_dtype(odt: DataType, act_val: int, steps: int) -> DataType:
    """Output type of a threshold activation: ActVal + [0, steps] in the smallest type (BIPOLAR stays)."""
    return odt if odt == DataType["BIPOLAR"] else dtype_for_range(act_val, act_val + steps)


def set_accumulator_types(op, model, lo, hi) -> None:
    """MVAU / VVAU infer_bitwidths after the accumulator range [lo, hi] per output channel: without
    thresholds the accumulator type is the output type; with them, the thresholds are clipped to the
    range (clip_thresholds), the accumulator type holds both, and the output is ActVal + [0, steps]."""
    node = op.onnx_node
    if op.get_nodeattr("noActivation"):
        acc = dtype_for_range(lo.min(), hi.max())
        op.set_nodeattr("accDataType", acc.name)
        op.set_nodeattr("outputDataType", acc.name)
        return
    thr = clip_thresholds(model, node.input[2], lo, hi)
    acc = dtype_for_range(min(lo.min(), thr.min()), max(hi.max(), thr.max()))
    op.set_nodeattr("accDataType", acc.name)
    model.set_tensor_datatype(node.input[2], acc)
    odt = threshold_output_dtype(DataType[op.get_nodeattr("outputDataType")], op.get_nodeattr("ActVal"), thr.shape[1])
    op.set_nodeattr("outputDataType", odt.name)


def activate(op, acc: np.ndarray, inputs, rows: str, hint: str = "") -> np.ndarray:
    """MVAU / VVAU execute after the accumulator: the thresholds (input 2) unless noActivation, then
    the output checked against outputDataType (`rows`: the threshold tensor's row count, for the error)."""
    odt = DataType[op.get_nodeattr("outputDataType")]
    if op.get_nodeattr("noActivation"):
        out = acc
    else:
        if len(inputs) < 3:
            raise op.err(f"noActivation=0 needs a threshold input T ({rows}, n_steps)")
        out = apply_thresholds(acc, inputs[2], odt, op.get_nodeattr("ActVal"))
    if out.size and (out.min() < odt.min() or out.max() > odt.max()):
        raise op.err(f"output range [{out.min()}, {out.max()}] exceeds outputDataType {odt.name}{hint}")
    return out


def apply_thresholds(acc: np.ndarray, thr: np.ndarray, odt: DataType, act_val: int) -> np.ndarray:
    """out[..., c] = sum_k [acc[..., c] >= thr[c, k]] + act_val; BIPOLAR outputs map 0/1 to -1/+1
    (FINN MultiThreshold + ActVal semantics). `thr` is (C, n_steps) or (1, n_steps) broadcast."""
    channels = acc.shape[-1]
    thr = broadcast_thresholds(np.asarray(thr, dtype=np.float64), channels)
    from hw.ops._threshold_kernel import threshold_counts

    flat = np.ascontiguousarray(acc.reshape(-1, channels), dtype=np.float64)
    count = threshold_counts(flat, np.ascontiguousarray(thr)).reshape(acc.shape)
    if odt == DataType["BIPOLAR"]:
        return 2.0 * count - 1.0
    return count + act_val


def make_hw_node(op_type: str, inputs: list[str], outputs: list[str], name: str, **attrs):
    """An ONNX node of our domain (attribute values as in FINN: ints, strings, int lists)."""
    from onnx import helper

    return helper.make_node(op_type, inputs, outputs, name=name, domain=DOMAIN, **attrs)
