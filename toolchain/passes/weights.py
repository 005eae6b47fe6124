"""Weights: fold weight quantizers into integer initializers with their DataType, split the scale into
a Mul after the layer, and make every linear layer a bias-free MatMul or Conv (FINN
FoldQuantWeights + GemmToMatMul + ExtractBiasFromConv, docs/finn.md §1.2).

    Gemm(x, Quant(W), b)  ->  MatMul(x, W_int^T) -> Mul(s_w) -> Add(b)
    Conv(x, Quant(W), b)  ->  Conv(x, W_int)     -> Mul(s_w) -> Add(b)
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name

from toolchain.passes.common import (QUANTIZERS, add_initializer, initializer, insert_nodes, is_float_dtype, is_po2,
                                     new_tensor, node_error, node_index, quant_dtype)

LINEAR = ("Gemm", "MatMul", "Conv")


def run_const_quant(model: ModelWrapper, q) -> np.ndarray:
    """Execute a quantizer whose inputs are all initializers (qonnx's own execution)."""
    context = {name: initializer(model, name) for name in q.input}
    getCustomOp(q).execute_node(context, model.graph)
    return np.asarray(context[q.output[0]], dtype=np.float32)


def _attr(node, name: str, default):
    a = get_by_name(node.attribute, name)
    return default if a is None else helper.get_attribute_value(a)


def quantizer_params(model: ModelWrapper, q) -> tuple[np.ndarray, DataType]:
    """(scale, integer DataType) of a Quant/BipolarQuant with constant parameters."""
    params = [initializer(model, t) for t in q.input[1:]]
    if any(p is None for p in params):
        raise node_error(q, "scale, zero point and bit width must be constants")
    scale = params[0]
    if (scale <= 0).any():
        raise node_error(q, f"scale must be positive, got {scale.ravel()[:4]}")
    if q.op_type == "BipolarQuant":
        return scale, DataType["BIPOLAR"]
    zeropt, bits = params[1], params[2]
    if (zeropt != 0).any():
        raise node_error(q, "only zero point 0 is supported (FINN also requires it); re-export with a symmetric quantizer")
    if bits.size != 1 or float(bits.ravel()[0]) != int(bits.ravel()[0]) or not 1 <= int(bits.ravel()[0]) <= 32:
        raise node_error(q, f"bit width must be a constant integer in 1..32, got {bits.ravel()}")
    return scale, quant_dtype(bool(_attr(q, "signed", 1)), bool(_attr(q, "narrow", 0)), int(bits.ravel()[0]))


def _out_channel_scale(q, scale: np.ndarray, w_shape: tuple, out_axis: int) -> np.ndarray:
    """The weight scale as a per-output-channel vector (or a scalar)."""
    if scale.size == 1:
        return scale.reshape(())
    full = np.broadcast_to(scale, w_shape)
    per_out = np.moveaxis(full, out_axis, 0).reshape(w_shape[out_axis], -1)
    if not (per_out == per_out[:, :1]).all():
        raise node_error(q, "the weight scale varies along the input axis; only per-tensor or per-output-channel "
                         "scales can be lowered")
    return per_out[:, 0]


class FoldWeightQuant(Transformation):
    """Quant/BipolarQuant on a weight initializer -> integer initializer (annotated) + scale Mul. A
    non-power-of-two scale is refused under --strict; otherwise its Mul (and the bias Add, which the
    source summed inside its Gemm/Conv) is recorded in options.inexact (options.py)."""

    def __init__(self, options=None):
        super().__init__()
        from toolchain.passes.options import LowerOptions

        self.options = options if options is not None else LowerOptions(strict=True)

    def apply(self, model: ModelWrapper):
        for node in list(model.graph.node):
            if node.op_type in LINEAR:
                if self._fold(model, node):
                    return model, True
        return model, False

    def _fold(self, model: ModelWrapper, node) -> bool:
        wname = node.input[1]
        q = model.find_producer(wname)
        if q is None:
            w = initializer(model, wname)
            if w is None:
                raise node_error(node, "the weight input must be a constant (a quantized initializer)")
            if is_float_dtype(model.get_tensor_datatype(wname)) or node.op_type == "Gemm":
                raise node_error(node, "weights are not quantized: put a Quant or BipolarQuant on the weight "
                                 "(Brevitas weight_quant) so the lowering gets integer weights")
            return False  # already folded
        if q.op_type not in QUANTIZERS or initializer(model, q.input[0]) is None:
            raise node_error(node, f"the weight comes from {q.name} ({q.op_type}); expected a Quant or "
                             "BipolarQuant on a constant initializer")
        if len(model.find_consumers(wname)) != 1:
            raise node_error(q, "a quantized weight shared by several layers is not supported")
        scale, dt = quantizer_params(model, q)
        po2 = is_po2(scale)
        if not po2 and self.options.strict:
            raise node_error(q, f"weight scale {scale.ravel()[:4]} is not a power of two, so the source's float32 "
                             "products are not exact integers; use power-of-two weight scales (Brevitas "
                             "*FixedPoint quantizers, or scaling_const=1.0 for binary weights)")
        wq = run_const_quant(model, q)
        w_int = wq.astype(np.float64) / np.broadcast_to(scale, wq.shape).astype(np.float64)
        # a float scale: float32(w_int · s) / s is w_int up to float32 rounding
        tol = 0.0 if po2 else 2.0**-10
        if np.abs(w_int - np.round(w_int)).max(initial=0.0) > tol:
            raise node_error(q, "quantized weights divided by the scale are not integers")
        self._rewrite(model, node, q, np.round(w_int), scale, dt, exact=po2)
        return True

    def _rewrite(self, model: ModelWrapper, node, q, w_int: np.ndarray, scale: np.ndarray, dt: DataType,
                 exact: bool) -> None:
        out = node.output[0]
        out_shape = model.get_tensor_shape(out)
        bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
        if node.op_type == "Gemm":
            if _attr(node, "transA", 0) or _attr(node, "alpha", 1.0) != 1.0 or _attr(node, "beta", 1.0) != 1.0:
                raise node_error(node, "only Gemm with transA=0, alpha=1, beta=1 is supported")
            trans_b = bool(_attr(node, "transB", 0))
            s = _out_channel_scale(q, scale, w_int.shape, 0 if trans_b else 1)
            w_mat = w_int.T if trans_b else w_int
            linear = helper.make_node("MatMul", [node.input[0], ""], ["?"], name=f"{node.name}_MatMul")
            bias_shape = (out_shape[-1],)
        elif node.op_type == "MatMul":
            s = _out_channel_scale(q, scale, w_int.shape, 1)
            w_mat = w_int
            linear = helper.make_node("MatMul", [node.input[0], ""], ["?"], name=node.name)
            bias_shape = (out_shape[-1],)
        else:
            group = _attr(node, "group", 1)
            if group != 1 and not (group == w_int.shape[0] and w_int.shape[1] == 1):
                raise node_error(node, f"grouped convolutions (group {group}) are supported only as depthwise "
                                 "convolutions (group = channels, one input channel per filter: a VVAU)")
            s = _out_channel_scale(q, scale, w_int.shape, 0)
            w_mat = w_int
            linear = helper.make_node("Conv", [node.input[0], ""], ["?"], name=node.name)
            linear.attribute.extend(node.attribute)
            bias_shape = (1, out_shape[1], 1, 1)
        linear.input[1] = add_initializer(model, f"{node.name}_W", w_mat, dt)
        acc = new_tensor(model, out_shape, hint=f"{node.name}_acc")
        linear.output[0] = acc
        mul_out = new_tensor(model, out_shape, hint=f"{node.name}_scaled") if bias else out
        s_arr = s if s.ndim == 0 else s.reshape(bias_shape)
        mul = helper.make_node("Mul", [acc, add_initializer(model, f"{node.name}_wscale", s_arr)], [mul_out],
                               name=f"{node.name}_wscale")
        new = [linear, mul]
        if bias:
            b = initializer(model, bias)
            b_name = bias
            if b is not None and b.shape != bias_shape and b.size == int(np.prod(bias_shape)):
                b_name = add_initializer(model, f"{node.name}_bias", b.reshape(bias_shape))
            elif b is None and node.op_type == "Conv":
                raise node_error(node, "the bias must be a constant (or a quantizer on a constant)")
            new.append(helper.make_node("Add", [mul_out, b_name], [out], name=f"{node.name}_bias"))
            self.options.fused_bias.add(f"{node.name}_bias")  # the source summed it with the products
        if not exact:
            self.options.inexact.add(mul.name)
        model.graph.node.remove(q)
        idx = node_index(model, node)
        model.graph.node.remove(node)
        insert_nodes(model, idx, new)


def _is_weight(model: ModelWrapper, tensor: str) -> bool:
    return any(c.op_type in LINEAR and list(c.input).index(tensor) == 1 for c in model.find_consumers(tensor) or [])


class FoldConstQuant(Transformation):
    """A quantizer whose inputs are all constants and whose output is not a layer's weight (a bias)
    becomes a float initializer of its output, computed by qonnx's own Quant execution."""

    def apply(self, model: ModelWrapper):
        for node in list(model.graph.node):
            if (node.op_type in QUANTIZERS and all(initializer(model, t) is not None for t in node.input)
                    and not _is_weight(model, node.output[0])):
                model.set_initializer(node.output[0], run_const_quant(model, node))
                model.graph.node.remove(node)
                return model, True
        return model, False
