"""Streamlining: move scalar scale Muls down the graph until every linear layer reads integers
(FINN MoveScalarMulPastMatMul / MoveScalarMulPastConv / MoveMulPastMaxPool / CollapseRepeatedMul,
docs/finn.md §1.3), exactly:

* past MatMul/Conv for power-of-two scales on integer inputs whose accumulator stays below 2^24
  (then (x·s)·W and (x·W)·s are the same float32 numbers); other scales only when not --strict, the
  moved Mul then recorded as inexact (options.py: equal in exact arithmetic, not in float32);
* past MaxPool only for positive scales; past Reshape/Flatten always;
* two Muls collapse only when one factor is a power of two and the product is exact in float32.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from toolchain.passes.common import (add_initializer, bypass, channel_ranges, data_and_const, is_float_dtype, is_po2,
                                     new_tensor, node_error, node_index, single_consumer)

SHAPE_OPS = ("Reshape", "Flatten")


def _scalar_mul(model: ModelWrapper, node):
    """(data input, scalar) of a Mul by a constant scalar, else (None, None)."""
    if node.op_type != "Mul":
        return None, None
    x, c = data_and_const(model, node)
    if x is None or c.size != 1:
        return None, None
    return x, float(c.ravel()[0])


def _swap(model: ModelWrapper, mul, x: str, s: float, layer) -> None:
    """mul(x) -> layer  ==>  layer(x) -> mul. The layer's output name stays the graph's."""
    out = layer.output[0]
    moved = new_tensor(model, model.get_tensor_shape(out), hint=f"{layer.name}_unscaled")
    layer.input[0] = x
    layer.output[0] = moved
    model.graph.node.remove(mul)
    new_mul = helper.make_node("Mul", [moved, add_initializer(model, f"{mul.name}", np.float32(s))], [out],
                               name=mul.name)
    model.graph.node.insert(node_index(model, layer) + 1, new_mul)
    return moved


class MoveScalarMulPastLinear(Transformation):
    """Mul(x_int, s) -> MatMul/Conv(W_int)  ==>  MatMul/Conv -> Mul(s), s a power of two (or any
    scale unless strict)."""

    def __init__(self, options=None):
        super().__init__()
        from toolchain.passes.options import LowerOptions

        self.options = options if options is not None else LowerOptions(strict=True)

    def apply(self, model: ModelWrapper):
        for mul in list(model.graph.node):
            x, s = _scalar_mul(model, mul)
            if x is None or is_float_dtype(model.get_tensor_datatype(x)):
                continue
            layer = single_consumer(model, mul.output[0])
            if layer is None or layer.op_type not in ("MatMul", "Conv") or layer.input[0] != mul.output[0]:
                continue
            if is_float_dtype(model.get_tensor_datatype(layer.input[1])):
                continue  # weights not folded yet
            if not is_po2(np.array(s)) and self.options.strict:
                raise node_error(layer, f"its input is scaled by {s}, not a power of two, so the float32 layer is "
                                 "not an exact integer computation; use power-of-two scales (Brevitas *FixedPoint "
                                 "quantizers)")
            if not is_po2(np.array(s)):
                self.options.inexact.add(mul.name)
            _swap(model, mul, x, s, layer)
            channel_ranges(model, layer.output[0])  # refuses accumulators beyond float32's exact range
            return model, True
        return model, False


class MoveScalarMulPastShape(Transformation):
    """Mul(x, s) -> MaxPool (s > 0) / Reshape / Flatten  ==>  that op -> Mul(s)."""

    def apply(self, model: ModelWrapper):
        for mul in list(model.graph.node):
            x, s = _scalar_mul(model, mul)
            if x is None:
                continue
            op = single_consumer(model, mul.output[0])
            if op is None or op.op_type not in ("MaxPool",) + SHAPE_OPS or op.input[0] != mul.output[0]:
                continue
            if op.op_type == "MaxPool" and s <= 0:
                raise node_error(op, f"its input is scaled by {s} <= 0, which max-pooling does not commute with")
            dt = model.get_tensor_datatype(x)
            moved = _swap(model, mul, x, s, op)
            model.set_tensor_datatype(moved, dt)
            return model, True
        return model, False


class CollapseScalarMul(Transformation):
    """Mul(Mul(x, a), b) -> Mul(x, a·b) when exact (one factor a power of two, a·b exact in float32)."""

    def __init__(self, options=None):
        super().__init__()
        from toolchain.passes.options import LowerOptions

        self.options = options if options is not None else LowerOptions(strict=True)

    def apply(self, model: ModelWrapper):
        for first in list(model.graph.node):
            x, a = _scalar_mul(model, first)
            if x is None:
                continue
            second = single_consumer(model, first.output[0])
            if second is None:
                continue
            _, b = _scalar_mul(model, second)
            if b is None:
                continue
            ab = a * b
            if not (is_po2(np.array(a)) or is_po2(np.array(b))) or float(np.float32(ab)) != ab:
                continue
            second.input[:] = [x, add_initializer(model, second.name, np.float32(ab))]
            if first.name in self.options.inexact:
                self.options.inexact.add(second.name)
            model.graph.node.remove(first)
            return model, True
        return model, False


class RemoveUnitMul(Transformation):
    """Mul by a constant 1 is removed."""

    def apply(self, model: ModelWrapper):
        for mul in list(model.graph.node):
            x, s = _scalar_mul(model, mul)
            if x is not None and s == 1.0:
                bypass(model, mul, x)
                return model, True
        return model, False


class PassThroughTypes(Transformation):
    """MaxPool / Reshape / Flatten of an integer tensor holds the same integers: copy the DataType."""

    def apply(self, model: ModelWrapper):
        changed = False
        for node in model.graph.node:
            if node.op_type in ("MaxPool",) + SHAPE_OPS:
                dt = model.get_tensor_datatype(node.input[0])
                if not is_float_dtype(dt) and model.get_tensor_datatype(node.output[0]) != dt:
                    model.set_tensor_datatype(node.output[0], dt)
                    changed = True
        return model, changed
