"""The integer input stream.

A float graph input: the input quantizer is computed on the host.

    global_in (float) -> Quant(s) -> ...   ==>   global_in (INT8, x_int) -> Mul(s) -> ...

The dataflow graph reads x_int = Quant(x) / s (BipolarQuant: ±1); "hil_io" records input_scale and
input_dtype, and `toolchain.lower.stream_inputs` rebuilds the mapping from the source model.

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
from toolchain.passes.common import QUANTIZERS, add_initializer, get_io, is_float_dtype, update_io
from toolchain.passes.weights import quantizer_params


def integer_input_dtype(model: ModelWrapper) -> Optional[DataType]:
    """The graph input's integer DataType annotation, or None for a float input."""
    dt = model.get_tensor_datatype(model.graph.input[0].name)
    return None if is_float_dtype(dt) else dt


def input_quantizer(model: ModelWrapper):
    """The quantizer node reading the graph input (UserError unless there is exactly one)."""
    iname = model.graph.input[0].name
    readers = model.find_consumers(iname) or []
    if len(readers) != 1 or readers[0].op_type not in QUANTIZERS:
        found = ", ".join(f"{n.name} ({n.op_type})" for n in readers) or "nothing"
        raise UserError(f"graph input {iname} must feed exactly one Quant or BipolarQuant (the input quantizer), "
                        f"it feeds {found}; add an input quantizer (Brevitas QuantIdentity) to the model")
    return readers[0]


class InputQuantToStream(Transformation):
    """Replace the input quantizer by a scale Mul on an integer-typed graph input."""

    def apply(self, model: ModelWrapper):
        iname = model.graph.input[0].name
        dt = integer_input_dtype(model)
        if dt is not None:  # already an integer stream: the host sends it as is
            if "input_dtype" not in get_io(model):
                update_io(model, input_scale=1.0, input_dtype=dt.name)
            return model, False
        q = input_quantizer(model)
        scale, dt = quantizer_params(model, q)
        if scale.size != 1:
            raise UserError(f"{q.name} ({q.op_type}): the input scale must be one number (per-tensor), got shape "
                            f"{scale.shape}")
        s = float(scale.ravel()[0])
        mul = helper.make_node("Mul", [iname, add_initializer(model, "input_scale", np.float32(s))], [q.output[0]],
                               name="input_scale")
        idx = list(model.graph.node).index(q)
        model.graph.node.remove(q)
        model.graph.node.insert(idx, mul)
        model.set_tensor_datatype(iname, dt)
        update_io(model, input_scale=s, input_dtype=dt.name)
        return model, True
