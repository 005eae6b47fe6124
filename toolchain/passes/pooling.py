"""Global average pooling (GlobalAveragePool, or ReduceMean over H, W) -> GlobalAccPool + a scalar 1/(H·W) (FINN InferGlobalAccPoolLayer,
finn/transformation/fpgadataflow/convert_to_hw_layers.py: GlobalAccPool followed by Mul(1/(H·W))).

* GlobalAvgPoolToSum (front, NCHW): GAP(Mul(x_int, s)) -> Mul(GAP(x_int), s) (the pool is linear);
  then GAP(x_int) -> ReduceSum(x_int, axes (2, 3)) -> Mul(1/(H·W)): the sum is an integer tensor
  (typed, exact in float32 below 2^24), the Mul streamlines down into the next layer like any scale.
  H·W must be a power of two: then the source's float32 average and sum·2^-k are the same numbers.
* accpool_channels_last (called by channels_last.py): the NCHW ReduceSum -> GlobalAccPool (NHWC).
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hw.ops.base import make_hw_node
from toolchain.passes.common import (F32_EXACT, add_initializer, channel_ranges, data_and_const, dtype_for_range,
                                     is_float_dtype, is_po2, new_tensor, node_error, node_index, single_consumer)


def _is_global_mean(model: ModelWrapper, node) -> bool:
    """GlobalAveragePool, or ReduceMean over axes (2, 3) of a 4-D tensor keeping them (what torch's
    adaptive_avg_pool2d(x, 1) exports to); another ReduceMean is refused."""
    if node.op_type == "GlobalAveragePool":
        return True
    if node.op_type != "ReduceMean":
        return False
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = model.get_initializer(node.input[1])
    shape = model.get_tensor_shape(node.input[0]) or []
    if len(shape) != 4 or axes is None or sorted(int(a) % 4 for a in np.ravel(axes)) != [2, 3] \
            or not attrs.get("keepdims", 1):
        raise node_error(node, f"only a mean over the whole image (axes 2, 3 of an NCHW tensor, keepdims) is "
                         f"supported, as global average pooling; got axes {None if axes is None else list(np.ravel(axes))}")
    return True


class GlobalAvgPoolToSum(Transformation):
    def apply(self, model: ModelWrapper):
        for gap in list(model.graph.node):
            if not _is_global_mean(model, gap):
                continue
            if self._move_scale(model, gap):
                return model, True
            ranges = channel_ranges(model, gap.input[0])
            if ranges is None:
                continue  # not integer yet (or never: CheckAllDataflow names it)
            self._to_sum(model, gap, ranges)
            return model, True
        return model, False

    @staticmethod
    def _move_scale(model: ModelWrapper, gap) -> bool:
        mul = model.find_producer(gap.input[0])
        if mul is None or mul.op_type != "Mul" or single_consumer(model, gap.input[0]) is None:
            return False
        x, c = data_and_const(model, mul)
        if x is None or c.size != 1 or is_float_dtype(model.get_tensor_datatype(x)):
            return False
        out = gap.output[0]
        pooled = new_tensor(model, model.get_tensor_shape(out), hint=f"{gap.name}_int")
        gap.input[0], gap.output[0] = x, pooled  # (a ReduceMean's axes input stays)
        model.graph.node.remove(mul)
        scale = helper.make_node("Mul", [pooled, add_initializer(model, mul.name, np.float32(c.ravel()[0]))], [out],
                                 name=mul.name)
        model.graph.node.insert(node_index(model, gap) + 1, scale)
        return True

    @staticmethod
    def _to_sum(model: ModelWrapper, gap, ranges) -> None:
        _, _, h, w = model.get_tensor_shape(gap.input[0])
        n = h * w
        if not is_po2(np.array(1.0 / n)):
            raise node_error(gap, f"averages {h}x{w} = {n} positions; only a power-of-two count keeps the float32 "
                             "average exact (sum · 2^-k): pool a 2x2, 4x4, 8x8, ... feature map")
        lo, hi = int(ranges[0].min()) * n, int(ranges[1].max()) * n
        if max(-lo, hi) >= F32_EXACT:
            raise node_error(gap, "the sum over the image can exceed 2^24, beyond float32's exact integers")
        out = gap.output[0]
        total = new_tensor(model, model.get_tensor_shape(out), dtype_for_range(lo, hi), f"{gap.name}_sum")
        axes = add_initializer(model, f"{gap.name}_axes", np.array([2, 3]))
        reduce = helper.make_node("ReduceSum", [gap.input[0], axes], [total], name=gap.name, keepdims=1)
        model.set_initializer(axes, np.array([2, 3], dtype=np.int64))  # ReduceSum needs int64 axes
        scale = helper.make_node("Mul", [total, add_initializer(model, f"{gap.name}_mean", np.float32(1.0 / n))],
                                 [out], name=f"{gap.name}_mean")
        idx = node_index(model, gap)
        model.graph.node.remove(gap)
        model.graph.node.insert(idx, scale)
        model.graph.node.insert(idx, reduce)


def accpool_channels_last(model: ModelWrapper, node, shapes: dict) -> None:
    """ReduceSum over (H, W) of an NCHW integer tensor -> GlobalAccPool on NHWC (the same sums)."""
    axes = model.get_initializer(node.input[1]) if len(node.input) > 1 else None
    if axes is None or sorted(np.asarray(axes).tolist()) != [2, 3]:
        raise node_error(node, "only a sum over the whole image (axes 2, 3) becomes a GlobalAccPool")
    n, c, h, w = shapes[node.input[0]]
    dt = model.get_tensor_datatype(node.input[0])
    acc = make_hw_node("GlobalAccPool", [node.input[0]], [node.output[0]], node.name, NumChannels=c, PE=1,
                       inputDataType=dt.name, numInputVectors=[n, h, w])
    idx = node_index(model, node)
    model.graph.node.remove(node)
    model.graph.node.insert(idx, acc)
