"""Stable, readable names: dataflow nodes numbered per op type in graph order (MVAU_0, MVAU_1,
Thresholding_0, SWG_0, MaxPool_0, LabelSelect_0, DWC_0, FIFO_0 ...), tensors named after their
producer (qonnx GiveReadableTensorNames: <node>_out0, <node>_param1, global_in, global_out)."""

from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.general import GiveReadableTensorNames, SortGraph

from hw.ops import name_prefix


class NameNodes(Transformation):
    def apply(self, model: ModelWrapper):
        model = model.transform(SortGraph(), cleanup=False)
        counts: dict[str, int] = {}
        for node in model.graph.node:
            prefix = name_prefix(node.op_type)
            node.name = f"{prefix}_{counts.get(prefix, 0)}"
            counts[prefix] = counts.get(prefix, 0) + 1
        model = model.transform(GiveReadableTensorNames(), cleanup=False)
        return model, False
