"""Activation chains -> MultiThreshold (qonnx) with exact thresholds (threshold_search.py).

    a (integer) -> [Mul, Add, BatchNormalization, Relu, Clip ...] -> Quant(s) | BipolarQuant(s)
      ==>  a -> MultiThreshold(T) -> Mul(s)

The MultiThreshold's levels are the quantizer's integers (out_bias = the lowest one; bipolar:
out_scale 2, out_bias -1). A channel whose activation falls as a rises (a negative BatchNorm
scale) is handled as FINN does (FactorOutMulSignMagnitude + Absorb1BitMulIntoMatMul): the weight
column is negated, which needs weights whose negation stays in their DataType.
"""

from __future__ import annotations

import copy
import json

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from toolchain.passes.common import (F32_EXACT, QONNX_DOMAIN, QUANTIZERS, add_initializer, channel_ranges,
                                     initializer, linear_weight_matrix, node_error, node_index, single_consumer)
from toolchain.errors import UserError
from toolchain.passes.exact_thresholds import ExactChain, exact_thresholds
from toolchain.passes.threshold_search import Chain, direction, search, verify
from toolchain.passes.weights import quantizer_params

QUANTIZER_ATTR = "hil_quantizer"  # carried by MultiThreshold -> MVAU/Thresholding, then into metadata
CHAIN_OPS = ("Mul", "Div", "Add", "Sub", "BatchNormalization", "Relu", "Clip")


def _data_input(model: ModelWrapper, node):
    """The one non-constant input of a chain node (None if it has another non-constant input)."""
    dyn = [t for t in node.input if t and initializer(model, t) is None]
    return dyn[0] if len(dyn) == 1 else None


def find_chain(model: ModelWrapper, q):
    """(src, nodes) for the quantizer q, src being the nearest integer tensor upstream through chain
    ops; None when the path is not (yet) integer."""
    nodes, t = [q], _data_input(model, q)
    while t is not None:
        if channel_ranges(model, t) is not None:
            return t, nodes
        p = model.find_producer(t)
        if p is None or p.op_type not in CHAIN_OPS or single_consumer(model, t) is not nodes[0]:
            return None
        nodes.insert(0, p)
        t = _data_input(model, p)
    return None


def _levels(model: ModelWrapper, q, dt: DataType) -> np.ndarray:
    """The quantizer's possible integer outputs, ascending (qonnx intquant min_int/max_int)."""
    from qonnx.custom_op.general.intquant import max_int, min_int

    if dt == DataType["BIPOLAR"]:
        return np.array([-1.0, 1.0])
    attrs = {a.name: a.i for a in q.attribute}
    signed, narrow = bool(attrs.get("signed", 1)), bool(attrs.get("narrow", 0))
    bits = int(initializer(model, q.input[3]).ravel()[0])
    return np.arange(min_int(signed, narrow, bits), max_int(signed, narrow, bits) + 1, dtype=np.float64)


def _check_bias_grid(model: ModelWrapper, nodes: list, lo: np.ndarray, hi: np.ndarray, channels: int) -> None:
    """A bias Add right after the accumulator's scale Muls came from the source's Conv/Gemm, which
    summed it in float32 together with the products: exact (so equal to our separate Mul, Add) only
    if bias / scale is an integer and the sum stays below 2^24."""
    scale = np.ones(channels)
    for node in nodes:
        const = [initializer(model, t) for t in node.input if initializer(model, t) is not None]
        if node.op_type == "Mul" and const:
            scale = scale * np.asarray(const[0], dtype=np.float64).reshape(-1)
        elif node.op_type == "Add" and const:
            r = np.asarray(const[0], dtype=np.float64).reshape(-1) / scale
            if not np.array_equal(r, np.round(r)):
                raise node_error(node, "the bias is not on the accumulator grid (bias / (input scale · weight "
                                 "scale) is not an integer), so the source's float32 sum is not exact; quantize "
                                 "the bias with the accumulator scale (Brevitas Int32Bias)")
            if np.abs(r).max() + max(np.abs(lo).max(), np.abs(hi).max()) >= F32_EXACT:
                raise node_error(node, "accumulator plus bias can exceed 2^24, beyond float32's exact integers")
            return
        else:
            return


def _flip_channels(model: ModelWrapper, src: str, flip: np.ndarray, chain_name: str) -> None:
    """Negate the weights of the accumulator channels in `flip` (FINN Absorb1BitMulIntoMatMul)."""
    producer = model.find_producer(src)
    w_mat = linear_weight_matrix(model, producer)
    channels = np.flatnonzero(flip).tolist()
    if w_mat is None:
        raise node_error(producer or model.find_consumers(src)[0],
                         f"the activation {chain_name} falls as its integer input rises on channels {channels} "
                         "(a negative scale, e.g. BatchNorm gamma < 0) and there are no weights to absorb the sign; "
                         "thresholds can only express rising activations")
    wname = producer.input[1]
    w = initializer(model, wname)
    wdt = model.get_tensor_datatype(wname)
    axis = 0 if producer.op_type == "Conv" else 1
    sign = np.where(flip, -1.0, 1.0).reshape([-1 if i == axis else 1 for i in range(w.ndim)])
    flipped = w * sign
    if flipped.min() < wdt.min() or flipped.max() > wdt.max():
        raise node_error(producer, f"the activation {chain_name} falls as the accumulator rises on channels "
                         f"{channels} (negative BatchNorm gamma); absorbing the sign negates those weights, which "
                         f"leaves {wdt.name}; use narrow-range (symmetric) weight quantization")
    model.set_initializer(wname, flipped.astype(np.float32))


def _provenance(q, nodes: list, dt: DataType, scale: np.ndarray) -> dict:
    """Where the thresholds came from (ARCHITECTURE: keep the quantizer beside its thresholds, so a
    fixed-point backend can emit it): the source nodes of the chain, by name, and the quantizer."""
    attrs = {a.name: helper.get_attribute_value(a) for a in q.attribute}
    mode = attrs.get("rounding_mode", b"ROUND")
    return {"quantizer": q.name, "op_type": q.op_type, "chain": [n.name for n in nodes], "dtype": dt.name,
            "scale": np.asarray(scale, dtype=np.float64).ravel().tolist(), "signed": int(attrs.get("signed", 1)),
            "narrow": int(attrs.get("narrow", 0)), "rounding_mode": mode.decode() if isinstance(mode, bytes) else mode}


class ActivationToThresholds(Transformation):
    """One activation chain per application (the fixed-point driver repeats). A chain holding a node
    the source evaluated differently (options.inexact: a float scale moved past a layer, a bias summed
    inside the source's Gemm) or a bias off the accumulator grid gets exact-arithmetic thresholds
    (exact_thresholds.py), refused under --strict; every other chain the source's own float path
    (threshold_search.py), bit-exact with the source."""

    def __init__(self, options=None):
        super().__init__()
        from toolchain.passes.options import LowerOptions

        self.options = options if options is not None else LowerOptions(strict=True)

    def apply(self, model: ModelWrapper):
        for q in list(model.graph.node):
            if q.op_type not in QUANTIZERS or initializer(model, q.input[0]) is not None:
                continue
            found = find_chain(model, q)
            if found is None:
                continue
            self._lower(model, q, *found)
            return model, True
        return model, False

    def _lower(self, model: ModelWrapper, q, src: str, nodes: list) -> None:
        scale, dt = quantizer_params(model, q)
        shape = model.get_tensor_shape(src)
        if len(shape) not in (2, 4):
            raise node_error(q, f"activation on a tensor of shape {shape}; only (N, C) and (N, C, H, W) are supported")
        lo, hi = channel_ranges(model, src)
        if max(np.abs(lo).max(), np.abs(hi).max()) >= F32_EXACT:
            raise node_error(q, "its integer input can exceed 2^24, beyond float32's exact integers")
        exact = any(n.name in self.options.inexact for n in nodes)
        if exact and self.options.strict:
            raise node_error(q, "its input carries a float (non-power-of-two) scale, so the source's float32 "
                             "arithmetic is not exact; lower without --strict (thresholds from exact arithmetic)")
        try:
            _check_bias_grid(model, nodes, lo, hi, shape[1])
        except UserError:
            if self.options.strict:
                raise
            exact = True
        consts = {t: initializer(model, t) for n in nodes for t in n.input if t and initializer(model, t) is not None}
        chain = Chain(src=src, nodes=[copy.deepcopy(n) for n in nodes], consts=consts,
                      opset=list(model.model.opset_import), channels=shape[1], spatial=tuple(shape[2:]),
                      levels=_levels(model, q, dt), scale=np.asarray(scale), name=f"{q.name} ({q.op_type})")
        evaluator = ExactChain(chain) if exact else chain
        sign = direction(evaluator, lo, hi)
        if (sign < 0).any():
            _flip_channels(model, src, sign < 0, chain.name)
            lo, hi = channel_ranges(model, src)
        if exact:
            thresholds = exact_thresholds(chain, lo, hi, sign)
        else:
            thresholds = search(chain, lo, hi, sign)
            verify(chain, thresholds, lo, hi, sign)
        self._rewrite(model, q, src, nodes, chain, thresholds, dt, scale)

    def _rewrite(self, model, q, src, nodes, chain, thresholds, dt, scale) -> None:
        bipolar = dt == DataType["BIPOLAR"]
        out = q.output[0]
        unit = bool((np.asarray(scale) == 1).all())
        levels_out = out if unit else model.make_new_valueinfo_name()
        mt = helper.make_node(
            "MultiThreshold", [src, add_initializer(model, f"{q.name}_thresholds", thresholds)], [levels_out],
            domain=QONNX_DOMAIN, name=f"{q.name}_thresholds", out_dtype=dt.name,
            out_scale=2.0 if bipolar else 1.0, out_bias=-1.0 if bipolar else float(chain.levels[0]),
            data_layout="NCHW" if chain.spatial else "NC")
        mt.attribute.append(helper.make_attribute(QUANTIZER_ATTR, json.dumps(_provenance(q, nodes, dt, scale))))
        new = [mt]
        if not unit:
            model.set_tensor_shape(levels_out, model.get_tensor_shape(out))
            new.append(helper.make_node("Mul", [levels_out, add_initializer(model, f"{q.name}_scale", scale)], [out],
                                        name=f"{q.name}_scale"))
        model.set_tensor_datatype(levels_out, dt)
        idx = node_index(model, nodes[0])
        for n in nodes:
            model.graph.node.remove(n)
        for k, n in enumerate(new):
            model.graph.node.insert(idx + k, n)
