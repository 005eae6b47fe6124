"""Cleanup and checks before lowering: qonnx cleanup (shape inference, constant folding of non-quant
ops, unique names), and a refusal of anything the lowering does not handle."""

from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.general import SortGraph
from qonnx.transformation.infer_shapes import InferShapes

from toolchain.errors import UserError
from toolchain.passes.common import node_error

# what the QONNX our export produces (and FINN's flow) may contain
SUPPORTED_OPS = frozenset({
    "Quant", "BipolarQuant", "Gemm", "MatMul", "Conv", "BatchNormalization", "Relu", "MaxPool", "Reshape",
    "Flatten", "Mul", "Add", "Sub", "Div", "Identity", "Clip",
})


class Tidy(Transformation):
    """qonnx cleanup_model (InferShapes, FoldConstants except quantizers, unique and readable
    names, unused tensors removed), Identity nodes removed, nodes sorted."""

    def apply(self, model: ModelWrapper):
        from qonnx.transformation.remove import RemoveIdentityOps
        from qonnx.util.cleanup import cleanup_model

        model = cleanup_model(model)
        model = model.transform(RemoveIdentityOps()).transform(SortGraph()).transform(InferShapes())
        return model, False


class CheckSupported(Transformation):
    """One float input with batch 1, one output, only supported op types (UserError otherwise)."""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        if graph.node and all(n.domain == "hw.ops" for n in graph.node):
            raise UserError("this is already a dataflow graph (from `hil lower`); lower the QONNX model instead")
        if len(graph.input) != 1 or len(graph.output) != 1:
            raise UserError(f"the lowering needs a model with one input and one output, got "
                            f"{len(graph.input)} inputs and {len(graph.output)} outputs")
        shape = model.get_tensor_shape(graph.input[0].name)
        if not shape or shape[0] != 1:
            raise UserError(f"graph input {graph.input[0].name} has shape {shape}; export with batch size 1 "
                            "(qonnx ChangeBatchSize(1))")
        if len(shape) not in (2, 4):
            raise UserError(f"graph input {graph.input[0].name} has shape {shape}; only (1, C) vectors and "
                            "(1, C, H, W) images are supported")
        for node in graph.node:
            if node.op_type not in SUPPORTED_OPS:
                raise node_error(node, f"op type {node.op_type} is not supported by the lowering; supported: "
                                 f"{', '.join(sorted(SUPPORTED_OPS))}")
        return model, False
