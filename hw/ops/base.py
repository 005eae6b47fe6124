"""HWOp: the base class of every dataflow op (the op API of the IR contract).

A HWOp is a qonnx CustomOp in domain "hw.ops". Subclasses declare `ATTRS` (FINN v0.10 attribute
names, `(type, required, default[, allowed])`), and implement `execute`, `normal_input_shape`,
`normal_output_shape`, `folded_*_shape`, `cycles`, `token_schedule`, `legal_folding` and
`finn_resources`. Everything generic (execution through qonnx, datatype inference, verification,
the cost-model dispatch) lives here once.
"""

from __future__ import annotations

import importlib
import math
from typing import Any, ClassVar

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp

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


class HWOp(CustomOp):
    ATTRS: ClassVar[dict[str, tuple]] = {}
    # attributes that are folding parameters (PE, SIMD) -> the attribute they must divide
    FOLD_ATTRS: ClassVar[tuple[str, ...]] = ()

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

    # ---- performance and cost -----------------------------------------------------------------
    def fold_targets(self) -> dict[str, int]:
        """Folding attribute -> the dimension it must divide (FINN folding constraints)."""
        return {}

    def legal_folding(self) -> dict[str, list[int]]:
        """Folding attribute -> sorted legal values (divisors, limited by the stream width)."""
        return {attr: divisors(total) for attr, total in self.fold_targets().items()}

    def cycles(self) -> int:
        """FINN v0.10 get_exp_cycles (0 where FINN gives the op no formula)."""
        return 0

    def token_schedule(self) -> TokenSchedule:
        raise NotImplementedError

    def resources(self, cost: CostModel, device=None) -> Resources:
        cost = CostModel(cost)
        if cost is CostModel.FINN:
            return self.finn_resources(device)
        try:  # the calibrated model lives in hw/cost/calibrated.py: resources(op, device) -> Resources
            calibrated = importlib.import_module("hw.cost.calibrated")
        except ModuleNotFoundError as err:
            if err.name != "hw.cost.calibrated":
                raise
            raise NotImplementedError(
                f"{self.name}: the '{cost.value}' cost model is not implemented yet (hw/cost/calibrated.py)") from None
        return calibrated.resources(self, device)

    def finn_resources(self, device=None) -> Resources:
        """FINN v0.10 res_estimation; ops FINN does not estimate cost nothing (reference/finn.md §3.5)."""
        return Resources()


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
    get_exp_cycles (hwcustomop.py default 0); its schedule moves max(in, out) words at II=1."""

    def execute(self, inputs):
        return [inputs[0]]

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


def apply_thresholds(acc: np.ndarray, thr: np.ndarray, odt: DataType, act_val: int) -> np.ndarray:
    """out[..., c] = sum_k [acc[..., c] >= thr[c, k]] + act_val; BIPOLAR outputs map 0/1 to -1/+1
    (FINN MultiThreshold + ActVal semantics). `thr` is (C, n_steps) or (1, n_steps) broadcast."""
    channels = acc.shape[-1]
    thr = np.asarray(thr, dtype=np.float64)
    if thr.ndim == 1:
        thr = thr[None, :]
    if thr.shape[0] == 1 and channels != 1:
        thr = np.repeat(thr, channels, axis=0)
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
