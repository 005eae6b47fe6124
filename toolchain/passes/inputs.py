"""The integer input stream.

A float graph input: the preprocessing (Reshape/Flatten, Mul/Add/Sub/Div by constants, e.g. 2x-1 or
(x+1)/2) and the input quantizer are computed on the host.

    global_in (float) -> [Reshape, Mul, Sub] -> Quant(s) -> ...   ==>   global_in (INT8, x_int) -> Mul(s) -> ...

The dataflow graph reads x_int = Quant(pre(x)) / s (BipolarQuant: ±1); "hil_io" records input_scale,
input_dtype and the host steps (input_steps, hoststeps.py), which `toolchain.lower.stream_inputs` and
`hil emulate --inputs` apply to raw inputs. A graph input without a quantizer (QKeras-style graphs)
takes an input type and scale given to the lowering (--input-type INT16 --input-scale 2^-10: the host
computes round(x / scale) clipped to the type), or is refused with that suggestion.

A graph input annotated with an integer DataType (FINN's convention for raw pixels:
model.set_tensor_datatype(inp, DataType["UINT8"])): the host sends those integers unchanged
(input_scale 1), and the preprocessing and input quantizer after it are an ordinary activation chain
on an integer tensor, lowered to thresholds (thresholds.py) and so to a Thresholding node, as FINN's
MultiThreshold -> Thresholding_Batch_0 of the BNN-PYNQ networks.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from toolchain.errors import UserError
from toolchain.passes.common import (QUANTIZERS, add_initializer, get_io, is_float_dtype, new_tensor,
                                     rename_tensor_uses, update_io)
from toolchain.passes.weights import quantizer_params


def integer_input_dtype(model: ModelWrapper) -> Optional[DataType]:
    """The graph input's integer DataType annotation, or None for a float input."""
    dt = model.get_tensor_datatype(model.graph.input[0].name)
    return None if is_float_dtype(dt) else dt


PRE_OPS = ("Reshape", "Flatten", "Mul", "Add", "Sub", "Div")
NO_QUANTIZER_HINT = ("give the lowering an input type, e.g. `--input-type INT16 --input-scale 2^-10` (the host "
                     "quantizes x to round(x / scale) clipped to INT16), or add an input quantizer (Brevitas "
                     "QuantIdentity) to the model")


def _preprocessing(model: ModelWrapper, start: str):
    """(nodes, tensor): the chain of preprocessing ops (Reshape/Flatten with a constant shape, Mul/Add/
    Sub/Div by a constant) from the graph input, each the only reader of its input, and the tensor
    after it."""
    nodes, t = [], start
    while True:
        readers = model.find_consumers(t) or []
        if len(readers) != 1 or readers[0].op_type not in PRE_OPS or t in [o.name for o in model.graph.output]:
            return nodes, t
        node = readers[0]
        if node.op_type == "Reshape" and (node.input[0] != t or model.get_initializer(node.input[1]) is None):
            return nodes, t
        if node.op_type in ("Mul", "Add", "Sub", "Div"):
            other = [x for x in node.input if x != t]
            if len(other) != 1 or model.get_initializer(other[0]) is None or (
                    node.op_type in ("Sub", "Div") and node.input[0] != t):
                return nodes, t
        nodes.append(node)
        t = node.output[0]


def input_quantizer(model: ModelWrapper):
    """The quantizer node reading the graph input, after optional preprocessing (UserError unless
    there is exactly one)."""
    iname = model.graph.input[0].name
    _, t = _preprocessing(model, iname)
    readers = model.find_consumers(t) or []
    if len(readers) != 1 or readers[0].op_type not in QUANTIZERS:
        found = ", ".join(f"{n.name} ({n.op_type})" for n in readers) or "nothing"
        raise UserError(f"graph input {iname} must feed exactly one Quant or BipolarQuant (the input quantizer), "
                        f"it feeds {found}; {NO_QUANTIZER_HINT}")
    return readers[0]


def _step(model: ModelWrapper, node) -> dict:
    if node.op_type in ("Reshape", "Flatten"):
        return {"op": "Reshape", "shape": [int(d) for d in model.get_tensor_shape(node.output[0])]}
    c = next(model.get_initializer(x) for x in node.input if model.get_initializer(x) is not None)
    return {"op": node.op_type, "value": np.asarray(c, dtype=np.float32).ravel().tolist(), "value_shape": list(c.shape)}


def quant_step(model: ModelWrapper, q) -> dict:
    """The input quantizer as a host step (hoststeps.quant_integers)."""
    from onnx import helper as h

    scale, dt = quantizer_params(model, q)
    attrs = {a.name: h.get_attribute_value(a) for a in q.attribute}
    mode = attrs.get("rounding_mode", b"ROUND")
    bits = 1 if q.op_type == "BipolarQuant" else int(model.get_initializer(q.input[3]).ravel()[0])
    return {"op": q.op_type, "scale": np.asarray(scale, dtype=np.float32).ravel().tolist(),
            "scale_shape": list(np.asarray(scale).shape), "bits": bits, "signed": int(attrs.get("signed", 1)),
            "narrow": int(attrs.get("narrow", 0)), "rounding_mode": mode.decode() if isinstance(mode, bytes) else mode,
            "dtype": dt.name}


def given_input_step(input_type: str, input_scale: float) -> dict:
    """The host quantizer of a graph input without one (--input-type, --input-scale)."""
    try:
        dt = DataType[input_type.upper()]
    except KeyError:
        raise UserError(f"--input-type must be a qonnx integer DataType such as INT8, UINT8, INT16, got {input_type}") \
            from None
    if not dt.is_integer() or dt.name == "BIPOLAR" or not input_scale > 0:
        raise UserError(f"--input-type must be INTn or UINTn and --input-scale positive, got {input_type}, {input_scale}")
    return {"op": "Quant", "scale": [float(np.float32(input_scale))], "scale_shape": [], "bits": dt.bitwidth(),
            "signed": int(dt.signed()), "narrow": 0, "rounding_mode": "ROUND", "dtype": dt.name}


class InputQuantToStream(Transformation):
    """Replace the preprocessing and the input quantizer by a scale Mul on an integer-typed graph
    input; they become host steps (hoststeps.py). A graph input without a quantizer takes the given
    input type and scale (QKeras-style graphs) or is refused with that suggestion."""

    def __init__(self, input_type: Optional[str] = None, input_scale: Optional[float] = None):
        super().__init__()
        self.input_type, self.input_scale = input_type, input_scale

    def apply(self, model: ModelWrapper):
        iname = model.graph.input[0].name
        dt = integer_input_dtype(model)
        if dt is not None:  # already an integer stream: the host sends it as is
            if "input_dtype" not in get_io(model):
                update_io(model, input_scale=1.0, input_dtype=dt.name)
            return model, False
        pre, t = _preprocessing(model, iname)
        readers = model.find_consumers(t) or []
        if len(readers) == 1 and readers[0].op_type in QUANTIZERS:
            q = readers[0]
            if self.input_type is not None or self.input_scale is not None:  # would be silently ignored
                raise UserError(f"--input-type/--input-scale are for a graph input without a quantizer; {iname} "
                                f"has one ({q.name}): leave them out")
            step, out, removed, has_q = quant_step(model, q), q.output[0], pre + [q], True
        elif self.input_type is not None:
            step, out, removed, has_q = given_input_step(self.input_type, self.input_scale or 1.0), t, pre, False
            if out == iname:  # the layers read the graph input itself: they read the scaled stream now
                out = new_tensor(model, model.get_tensor_shape(iname), hint="input_scaled")
                rename_tensor_uses(model, iname, out)
        else:
            input_quantizer(model)  # raises the error with the suggestion
        if len(step["scale"]) != 1:
            raise UserError(f"the input scale must be one number (per-tensor), got {len(step['scale'])} values")
        steps = [_step(model, n) for n in pre] + [step]
        s = step["scale"][0]
        shape = model.get_tensor_shape(out)
        # the graph input keeps its name, now with the quantizer's output shape and integer type
        mul = helper.make_node("Mul", [iname, add_initializer(model, "input_scale", np.float32(s))], [out],
                               name="input_scale")
        idx = min(list(model.graph.node).index(n) for n in removed) if removed else 0
        for n in removed:
            model.graph.node.remove(n)
        model.graph.node.insert(idx, mul)
        model.graph.input[0].type.tensor_type.shape.Clear()
        model.set_tensor_shape(iname, shape)
        model.set_tensor_datatype(iname, DataType[step["dtype"]])
        update_io(model, input_scale=s, input_dtype=step["dtype"], input_steps=steps,
                  input_has_quantizer=has_q)
        return model, True
