"""Import cleanup and checks before lowering.

Every model goes through ONE import step, `import_cleanup` (also run by `toolchain.lower.prepare` on
a ModelWrapper given directly), before any of our checks, so that the provenance of a QONNX file
(Brevitas, FINN, the QONNX model zoo, QKeras converters) does not matter:

1. legacy custom-op domains ("onnx.brevitas", "finn", "finn.custom_op.general") of the QONNX ops
   -> "qonnx.custom_op.general" (qonnx ModelWrapper.temporary_fix_oldstyle_domain and
   qonnx.util.cleanup.cleanup_model do the same for some of them), and a missing opset import for
   any domain in use is added (`fix_domains`, also applied by toolchain.onnxio.load_model, since
   onnx.checker refuses a model without them);
2. initializers listed as graph inputs (older exporters, torch.onnx with keep_initializers_as_inputs)
   become plain initializers (as qonnx RemoveStaticGraphInputs);
3. batch size 1 (qonnx ChangeBatchSize) when the input's batch dimension is symbolic or not 1;
4. qonnx cleanup_model: shape inference, constant folding of everything except the quantizers (a
   dynamic Shape -> Gather -> Concat -> Reshape becomes a constant Reshape), unique readable names;
5. a tensor whose shape could not be inferred -> one UserError naming it and its producer.
"""

from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.general import SortGraph
from qonnx.transformation.infer_shapes import InferShapes

from toolchain.errors import UserError
from toolchain.passes.common import QONNX_DOMAIN, node_error

# fix_domains runs when a file is loaded (toolchain/onnxio.py); re-exported for callers of the passes
from toolchain.onnxio import LEGACY_DOMAINS, QONNX_OPS, fix_domains  # noqa: E402,F401


def _remove_static_inputs(model: ModelWrapper) -> None:
    """Graph inputs that have an initializer are constants (qonnx RemoveStaticGraphInputs, which would
    also duplicate a value_info that shape inference already wrote)."""
    known = {vi.name for vi in model.graph.value_info}
    for inp in list(model.graph.input):
        if model.get_initializer(inp.name) is not None:
            if inp.name not in known:
                model.graph.value_info.append(inp)
            model.graph.input.remove(inp)


def _batch_one(model: ModelWrapper) -> ModelWrapper:
    from qonnx.transformation.change_batchsize import ChangeBatchSize

    dims = model.graph.input[0].type.tensor_type.shape.dim
    if dims and (dims[0].dim_param or dims[0].dim_value != 1):
        model = model.transform(ChangeBatchSize(1))
    return model


def _check_shapes(model: ModelWrapper) -> None:
    for node in model.graph.node:
        for t in node.output:
            shape = model.get_tensor_shape(t) if t else []
            if t and (shape is None or any(not isinstance(d, int) or d <= 0 for d in shape)):
                raise node_error(node, f"the shape of its output {t} cannot be inferred (got {shape}); give the "
                                 "graph input a static shape (batch 1) and constant Reshape shapes")


def import_cleanup(model: ModelWrapper) -> ModelWrapper:
    """The import step of the module docstring; UserError for a graph it cannot make static."""
    from qonnx.util.cleanup import cleanup_model

    fix_domains(model.model)
    _remove_static_inputs(model)
    if len(model.graph.input) != 1 or len(model.graph.output) != 1:
        raise UserError(f"the lowering needs a model with one input and one output, got "
                        f"{len(model.graph.input)} inputs and {len(model.graph.output)} outputs")
    model = _batch_one(model)
    try:
        model = cleanup_model(model)
    except Exception as err:  # qonnx/onnx raise many types on a graph that is not static
        raise UserError(f"qonnx cleanup (shape inference, constant folding) failed: "
                        f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    _check_shapes(model)
    return model

# what the QONNX our export produces (and FINN's flow) may contain
SUPPORTED_OPS = frozenset({
    "Quant", "BipolarQuant", "Gemm", "MatMul", "Conv", "BatchNormalization", "Relu", "MaxPool", "Reshape",
    "Flatten", "Mul", "Add", "Sub", "Div", "Identity", "Clip", "Softmax", "GlobalAveragePool",
    "ReduceMean",  # only the global mean over (H, W): passes/pooling.py
    "Resize",  # only nearest-neighbour upsampling: passes/upsample.py
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
