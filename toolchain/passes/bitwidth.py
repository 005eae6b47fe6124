"""Bit widths (FINN minimize_accumulator_width / RoundAndClipThresholds, reference/finn.md §1.3, §1.8).

In graph order, every dataflow op takes its input DataType from its producer; then
* MVAU: the accumulator range per output channel from the weights and the input type (qonnx
  calculate_matvec_accumulator_range, per column; popcount [0, MW] in XNOR mode); thresholds are
  clipped to [lo_c, hi_c + 1] per channel (same outputs: a threshold below every reachable value
  is always passed, one above never); accDataType = the smallest type holding the accumulator
  and the thresholds; the thresholds carry that type;
* Thresholding: thresholds clipped to the input type's [min, max + 1], stored in the smallest
  type holding them;
* outputs: ActVal + [0, numSteps] in the smallest type (BIPOLAR stays); without thresholds the
  accumulator type.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from hw.ops.base import DOMAIN
from toolchain.passes.common import dtype_for_range, initializer, matvec_channel_range


def mvau_acc_range(w: np.ndarray, idt: DataType, xnor: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel (lo, hi) of the MVAU accumulator."""
    if xnor:
        return np.zeros(w.shape[1]), np.full(w.shape[1], float(w.shape[0]))
    return matvec_channel_range(w, idt)


def _output_dtype(odt: DataType, actval: int, steps: int) -> DataType:
    return odt if odt == DataType["BIPOLAR"] else dtype_for_range(actval, actval + steps)


def _clip_thresholds(model: ModelWrapper, name: str, lo, hi) -> np.ndarray:
    thr = initializer(model, name).astype(np.float64)
    thr = np.clip(thr, np.reshape(lo, (-1, 1)), np.reshape(hi, (-1, 1)) + 1)
    model.set_initializer(name, thr.astype(np.float32))
    return thr


class InferBitWidths(Transformation):
    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.domain != DOMAIN:
                continue
            op = getCustomOp(node)
            if node.op_type == "MVAU":
                self._mvau(model, node, op)
            elif node.op_type == "Thresholding":
                self._thresholding(model, node, op)
            elif node.op_type == "SWG":
                op.set_nodeattr("outputDataType", model.get_tensor_datatype(node.input[0]).name)
            op.infer_node_datatype(model)
        return model, False

    def _mvau(self, model: ModelWrapper, node, op) -> None:
        idt = model.get_tensor_datatype(node.input[0])
        op.set_nodeattr("inputDataType", idt.name)
        w = initializer(model, node.input[1])
        lo, hi = mvau_acc_range(w, idt, bool(op.get_nodeattr("binaryXnorMode")))
        if op.get_nodeattr("noActivation"):
            acc = dtype_for_range(lo.min(), hi.max())
            op.set_nodeattr("accDataType", acc.name)
            op.set_nodeattr("outputDataType", acc.name)
            return
        thr = _clip_thresholds(model, node.input[2], lo, hi)
        acc = dtype_for_range(min(lo.min(), thr.min()), max(hi.max(), thr.max()))
        op.set_nodeattr("accDataType", acc.name)
        model.set_tensor_datatype(node.input[2], acc)
        odt = _output_dtype(op.dt("outputDataType"), op.get_nodeattr("ActVal"), thr.shape[1])
        op.set_nodeattr("outputDataType", odt.name)

    def _thresholding(self, model: ModelWrapper, node, op) -> None:
        idt = model.get_tensor_datatype(node.input[0])
        op.set_nodeattr("inputDataType", idt.name)
        thr = _clip_thresholds(model, node.input[1], [idt.min()], [idt.max()])
        tdt = dtype_for_range(thr.min(), thr.max())
        op.set_nodeattr("weightDataType", tdt.name)
        model.set_tensor_datatype(node.input[1], tdt)
        odt = _output_dtype(op.dt("outputDataType"), op.get_nodeattr("ActVal"), thr.shape[1])
        op.set_nodeattr("outputDataType", odt.name)
