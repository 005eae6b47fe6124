"""Build dataflow graphs of HW ops by hand (tests, benchmarks, golden models).

`linear_model([NodeSpec(...), ...])` chains the nodes, names them per op type in graph order
(MVAU_0, MVAU_1, ...), takes tensor shapes and datatypes from the ops themselves and stores the
initializers with their datatypes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from hw.ops import name_prefix
from hw.ops.base import DOMAIN, make_hw_node


@dataclass
class NodeSpec:
    op_type: str
    attrs: dict
    inits: list[np.ndarray] = field(default_factory=list)  # initializer inputs after the stream


def linear_model(specs: list[NodeSpec], name: str = "dataflow") -> ModelWrapper:
    counts: dict[str, int] = {}
    nodes, inits, value_infos, dtypes = [], [], [], {}
    prev = "global_in"
    for k, spec in enumerate(specs):
        idx = counts.get(spec.op_type, 0)
        counts[spec.op_type] = idx + 1
        node_name = f"{name_prefix(spec.op_type)}_{idx}"
        out = "global_out" if k == len(specs) - 1 else f"{node_name}_out"
        init_names = [f"{node_name}_param{j}" for j in range(len(spec.inits))]
        node = make_hw_node(spec.op_type, [prev] + init_names, [out], node_name, **spec.attrs)
        op = getCustomOp(node)
        if k == 0:
            in_vi = helper.make_tensor_value_info(prev, TensorProto.FLOAT, list(op.normal_input_shape()))
            dtypes[prev] = op.input_datatype()
        for j, (nm, arr) in enumerate(zip(init_names, spec.inits)):
            inits.append((nm, np.asarray(arr, dtype=np.float32)))
            attr = op.INIT_DTYPE_ATTRS.get(j + 1)
            if attr:
                dtypes[nm] = op.dt(attr)
        vi = helper.make_tensor_value_info(out, TensorProto.FLOAT, list(op.normal_output_shape()))
        (value_infos.append(vi) if out != "global_out" else None)
        out_vi = vi
        dtypes[out] = op.output_datatype()
        nodes.append(node)
        prev = out
    graph = helper.make_graph(nodes, name, [in_vi], [out_vi], value_info=value_infos)
    model = ModelWrapper(qonnx_make_model(graph, producer_name="hil", opset_imports=opset_imports()))
    for nm, arr in inits:
        model.set_initializer(nm, arr)
    for tensor, dt in dtypes.items():
        model.set_tensor_datatype(tensor, dt)
    return model


def opset_imports():
    """Opset imports of a dataflow model: standard ONNX plus our domain (onnx.checker needs it)."""
    from onnx.helper import make_opsetid
    from qonnx.util.basic import get_preferred_onnx_opset

    return [make_opsetid("", get_preferred_onnx_opset()), make_opsetid(DOMAIN, 1)]
