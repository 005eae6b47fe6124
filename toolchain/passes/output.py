"""The graph output: scalar scale/bias nodes after the last dataflow op move into "hil_io"
(y = y_int·output_scale + output_bias), an optional LabelSelect (FINN InsertTopK +
InferLabelSelectLayer), and the final check that only dataflow ops remain."""

from __future__ import annotations

from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hw.ops.base import DOMAIN, make_hw_node
from toolchain.errors import UserError
from toolchain.passes.common import data_and_const, get_io, new_tensor, node_error, update_io

AFFINE = ("Mul", "Div", "Add", "Sub")


class AbsorbOutputAffine(Transformation):
    """Mul/Div/Add/Sub by scalar constants between the last dataflow op and the graph output."""

    def apply(self, model: ModelWrapper):
        out = model.graph.output[0].name
        tail, t = [], out
        while True:
            node = model.find_producer(t)
            if node is None or node.op_type not in AFFINE:
                break
            x, c = data_and_const(model, node)
            if x is None or (node.op_type in ("Sub", "Div") and x != node.input[0]):
                break
            if c.size != 1:
                raise node_error(node, "a per-channel scale or bias after the last layer cannot be mapped to the "
                                 "integer output (hil_io holds one scale and one bias); use per-tensor quantization")
            tail.insert(0, (node, float(c.ravel()[0])))
            t = x
        if not tail:
            return model, False
        producer = model.find_producer(t)
        if producer is None or producer.domain != DOMAIN:
            return model, False
        scale, bias = 1.0, 0.0
        for node, c in tail:
            if node.op_type == "Mul":
                scale, bias = scale * c, bias * c
            elif node.op_type == "Div":
                scale, bias = scale / c, bias / c
            else:
                bias = bias + (c if node.op_type == "Add" else -c)
        io = get_io(model)
        update_io(model, output_scale=io.get("output_scale", 1.0) * scale,
                  output_bias=io.get("output_bias", 0.0) * scale + bias)
        for node, _ in tail:
            model.graph.node.remove(node)
        producer.output[list(producer.output).index(t)] = out
        model.set_tensor_datatype(out, model.get_tensor_datatype(t))
        return model, True


class InsertLabelSelect(Transformation):
    """Top-1 label of the integer output (argmax; ties to the lower index, as ONNX TopK and
    finn-hlslib LabelSelect_Batch). Needs a positive output scale (argmax must not change)."""

    def apply(self, model: ModelWrapper):
        out = model.graph.output[0].name
        producer = model.find_producer(out)
        if producer is not None and producer.op_type == "LabelSelect":
            return model, False
        io = get_io(model)
        if io.get("output_scale", 1.0) <= 0:
            raise UserError(f"label selection needs a positive output scale, got {io.get('output_scale')}")
        shape = model.get_tensor_shape(out)
        if producer is None or producer.domain != DOMAIN or len(shape) != 2:
            raise UserError(f"label selection needs a dataflow op producing a (N, classes) output, got {shape}")
        labels, idt = shape[-1], model.get_tensor_datatype(out)
        scores = new_tensor(model, shape, idt, "scores")
        producer.output[list(producer.output).index(out)] = scores
        odt = DataType.get_smallest_possible(labels - 1)
        model.graph.node.append(make_hw_node("LabelSelect", [scores], [out], "LabelSelect", Labels=labels, PE=1, K=1,
                                             inputDataType=idt.name, outputDataType=odt.name,
                                             numInputVectors=list(shape[:-1])))
        model.set_tensor_shape(out, list(shape[:-1]) + [1])
        model.set_tensor_datatype(out, odt)
        update_io(model, output_kind="labels", output_scale=1.0, output_bias=0.0)
        return model, True


class CheckAllDataflow(Transformation):
    """UserError naming the first node that is not a dataflow op."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.domain != DOMAIN:
                raise node_error(node, f"could not be lowered to a dataflow op ({_hint(node)})")
        return model, False


def _hint(node) -> str:
    if node.op_type in ("Relu", "BatchNormalization", "Add", "Sub", "Mul", "Div", "Clip"):
        return "only activation chains that end in a Quant/BipolarQuant become thresholds; quantize its output"
    if node.op_type in ("Quant", "BipolarQuant"):
        return "its input is not an integer tensor scaled by a power of two; check the quantizers upstream"
    return "op type not supported in this position"


class ValidateDataflow(Transformation):
    """Every dataflow op's own consistency checks (folding, stream widths, datatypes): UserError
    naming the node and the first problem."""

    def apply(self, model: ModelWrapper):
        from qonnx.custom_op.registry import getCustomOp

        for node in model.graph.node:
            problems = getCustomOp(node).verify_node()
            if problems:
                raise node_error(node, problems[0])
        return model, False


class CollectProvenance(Transformation):
    """Move each dataflow node's source-quantizer record into the metadata "hil_quantizers"
    (JSON: node name -> {quantizer, op_type, chain, dtype, scale, signed, narrow, rounding_mode});
    run after the final names are given."""

    def apply(self, model: ModelWrapper):
        import json

        from toolchain.passes.thresholds import QUANTIZER_ATTR

        raw = model.get_metadata_prop("hil_quantizers")
        records = json.loads(raw) if raw else {}
        for node in model.graph.node:
            for a in list(node.attribute):
                if a.name == QUANTIZER_ATTR:
                    records[node.name] = json.loads(a.s.decode())
                    node.attribute.remove(a)
        if records:
            model.set_metadata_prop("hil_quantizers", json.dumps(records, sort_keys=True))
        return model, False
