"""The graph output: the float ops after the last dataflow op move into "hil_io" as host steps
(hoststeps.py; scalar ones also as y = y_int·output_scale + output_bias), an optional LabelSelect (FINN InsertTopK +
InferLabelSelectLayer), and the final check that only dataflow ops remain."""

from __future__ import annotations

from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hw.ops.base import DOMAIN, make_hw_node
from toolchain.errors import UserError
from toolchain.passes.common import data_and_const, get_io, new_tensor, node_error, update_io

AFFINE = ("Mul", "Div", "Add", "Sub")


def _tail_step(model: ModelWrapper, node, channels: int):
    """(data input, host step) of a tail node, or (None, None) when it is not one."""
    import numpy as np

    if node.op_type in AFFINE:
        x, c = data_and_const(model, node)
        if x is None or (node.op_type in ("Sub", "Div") and x != node.input[0]):
            return None, None
        if c.size != 1 and (c.size != channels or len(model.get_tensor_shape(node.output[0])) != 2):
            return None, None  # per-channel host steps only on (N, C) outputs
        shape = [] if c.size == 1 else [1, channels]
        return x, {"op": node.op_type, "value": np.asarray(c, np.float32).ravel().tolist(), "value_shape": shape}
    if node.op_type == "BatchNormalization" and len(model.get_tensor_shape(node.output[0])) == 2:
        consts = [model.get_initializer(t) for t in node.input[1:5]]
        if any(c is None for c in consts):
            return None, None
        from onnx import helper

        eps = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "epsilon"), 1e-5)
        step = {k: np.asarray(c, np.float32).ravel().tolist() for k, c in zip(("scale", "bias", "mean", "var"), consts)}
        return node.input[0], {"op": "BatchNormalization", "epsilon": float(eps), "value_shape": [1, channels], **step}
    if node.op_type == "Softmax":
        from onnx import helper

        axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), -1)
        return node.input[0], {"op": "Softmax", "axis": int(axis)}
    return None, None


def _fused_biases_on_grid(tail: list, fused: set) -> bool:
    """A bias the source's Gemm/Conv summed with its products is replayed exactly by a separate float32
    Add only when it is on the accumulator grid (bias / scale an integer): the sum is then exact."""
    import numpy as np

    scale = np.ones(1)
    for node, st in tail:
        if st["op"] == "Mul":
            scale = scale * np.asarray(st["value"], dtype=np.float64)
        elif st["op"] == "Div":
            scale = scale / np.asarray(st["value"], dtype=np.float64)
        elif node.name in fused:
            r = np.asarray(st["value"], dtype=np.float64) / scale
            if not np.array_equal(r, np.round(r)):
                return False
    return True


def _argmax_preserving(step: dict) -> bool:
    if step["op"] == "Softmax":
        return True
    if step["op"] in ("Add", "Sub"):
        return len(step["value"]) == 1
    return step["op"] in ("Mul", "Div") and len(step["value"]) == 1 and step["value"][0] > 0


class AbsorbOutputAffine(Transformation):
    """The ops between the last dataflow op and the graph output (the last layer's float scale and
    bias, scalar or per channel, a BatchNorm, a final Softmax) become host steps: hil_io
    "output_steps" (hoststeps.py), with "output_exact" when their float32 replay is the source's own
    arithmetic (no node of options.inexact, no BatchNorm or Softmax). Scalar elementwise tails also
    set output_scale/output_bias (y = y_int·output_scale + output_bias). With label selection the
    Softmax is dropped and the tail must keep the argmax (positive scalar scale, scalar bias)."""

    def __init__(self, options=None, label_select: bool = False):
        super().__init__()
        from toolchain.passes.options import LowerOptions

        self.options = options if options is not None else LowerOptions(strict=True)
        self.label_select = label_select

    def apply(self, model: ModelWrapper):
        out = model.graph.output[0].name
        shape = model.get_tensor_shape(out) or [1, 1]
        channels = shape[1] if len(shape) > 1 else 1
        tail, t = [], out
        while True:
            node = model.find_producer(t)
            if node is None or node.domain == DOMAIN:
                break
            x, step = _tail_step(model, node, channels)
            if x is None or (step["op"] == "Softmax" and tail):
                break
            tail.insert(0, (node, step))
            t = x
        if not tail:
            return model, False
        producer = model.find_producer(t)
        if producer is None or producer.domain != DOMAIN:
            return model, False
        steps = [st for _, st in tail]
        if self.label_select:
            bad = [n for n, st in tail if not _argmax_preserving(st)]
            if bad:
                raise node_error(bad[0], "label selection needs an argmax-preserving output (a positive scalar "
                                 "scale, a scalar bias, Softmax); this per-channel or negative scale changes it")
        exact = all(st["op"] in AFFINE for st in steps) and not any(n.name in self.options.inexact for n, _ in tail)
        exact = exact and _fused_biases_on_grid(tail, self.options.fused_bias)
        entries = {"output_steps": steps, "output_exact": exact}
        if all(st["op"] in AFFINE and len(st["value"]) == 1 for st in steps):
            scale, bias = 1.0, 0.0
            for st in steps:
                c = st["value"][0]
                if st["op"] == "Mul":
                    scale, bias = scale * c, bias * c
                elif st["op"] == "Div":
                    scale, bias = scale / c, bias / c
                else:
                    bias = bias + (c if st["op"] == "Add" else -c)
            io = get_io(model)
            entries.update(output_scale=io.get("output_scale", 1.0) * scale,
                           output_bias=io.get("output_bias", 0.0) * scale + bias)
        update_io(model, **entries)
        for node, _ in tail:
            model.graph.node.remove(node)
        producer.output[list(producer.output).index(t)] = out
        model.set_tensor_shape(out, model.get_tensor_shape(t))
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
        update_io(model, output_kind="labels", output_scale=1.0, output_bias=0.0, output_steps=[], output_exact=True)
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
