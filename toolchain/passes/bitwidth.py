"""Bit widths (FINN minimize_accumulator_width / RoundAndClipThresholds, docs/finn.md §1.3, §1.8).

In graph order, every dataflow op takes its input DataType from its producer and infers its own
widths (`HWOp.infer_bitwidths`, on the op: MVAU accumulator and threshold clipping, Thresholding
threshold type, SWG output = input type; the rules are documented there), then its output
datatypes are annotated (`infer_node_datatype`).
"""

from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from hw.ops.base import DOMAIN


class InferBitWidths(Transformation):
    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.domain != DOMAIN:
                continue
            op = getCustomOp(node)
            op.infer_bitwidths(model)
            op.infer_node_datatype(model)
        return model, False
