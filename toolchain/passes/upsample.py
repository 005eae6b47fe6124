"""Nearest-neighbour upsampling (ONNX Resize, mode "nearest", integer scales over H, W) ->
Upsample (FINN InferUpsample, finn/transformation/fpgadataflow/convert_to_hw_layers.py ->
UpsampleNearestNeighbour).

* ResizeNearest (front, NCHW): a scalar Mul before the Resize moves past it (copying values commutes
  with any scale) and an integer input type passes through; any other Resize is refused by name.
* upsample_channels_last (called by channels_last.py): the NCHW Resize -> Upsample (NHWC).
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hw.ops.base import make_hw_node
from toolchain.passes.common import (add_initializer, data_and_const, is_float_dtype, new_tensor, node_error,
                                     node_index, single_consumer)


def _check_nearest(model: ModelWrapper, node) -> tuple[int, int]:
    """(scale_h, scale_w) of a Resize that is a nearest-neighbour upsampling by integer factors."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    mode = attrs.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    src, dst = model.get_tensor_shape(node.input[0]), model.get_tensor_shape(node.output[0])
    if mode != "nearest" or len(src) != 4 or src[:2] != dst[:2] or dst[2] % src[2] or dst[3] % src[3]:
        raise node_error(node, f"only nearest-neighbour upsampling of H, W by integer factors is supported "
                         f"(mode {mode}, {src} -> {dst})")
    return dst[2] // src[2], dst[3] // src[3]


class ResizeNearest(Transformation):
    def apply(self, model: ModelWrapper):
        for node in list(model.graph.node):
            if node.op_type != "Resize":
                continue
            _check_nearest(model, node)
            mul = model.find_producer(node.input[0])
            if mul is not None and mul.op_type == "Mul" and single_consumer(model, node.input[0]) is not None:
                x, c = data_and_const(model, mul)
                if x is not None and c.size == 1:
                    out = node.output[0]
                    moved = new_tensor(model, model.get_tensor_shape(out), model.get_tensor_datatype(x),
                                       f"{node.name}_int")
                    node.input[0], node.output[0] = x, moved
                    model.graph.node.remove(mul)
                    scale = helper.make_node("Mul", [moved, add_initializer(model, mul.name, np.float32(c.ravel()[0]))],
                                             [out], name=mul.name)
                    model.graph.node.insert(node_index(model, node) + 1, scale)
                    return model, True
            dt = model.get_tensor_datatype(node.input[0])
            if not is_float_dtype(dt) and model.get_tensor_datatype(node.output[0]) != dt:
                model.set_tensor_datatype(node.output[0], dt)
                return model, True
        return model, False


def upsample_channels_last(model: ModelWrapper, node, shapes: dict) -> None:
    """The NCHW Resize (checked nearest, integer factors) -> Upsample on NHWC."""
    _check_nearest(model, node)
    n, c, hi, wi = shapes[node.input[0]]
    _, _, ho, wo = shapes[node.output[0]]
    dt = model.get_tensor_datatype(node.input[0])
    if is_float_dtype(dt):
        raise node_error(node, "upsamples a float tensor: quantize its input")
    up = make_hw_node("Upsample", [node.input[0]], [node.output[0]], node.name, SIMD=1, HI=hi, WI=wi, HO=ho, WO=wo,
                      NumChannels=c, inputDataType=dt.name, batchSize=n)
    idx = node_index(model, node)
    model.graph.node.remove(node)
    model.graph.node.insert(idx, up)
