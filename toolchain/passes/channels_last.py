"""Channels-last conversion of the conv path (our ops are NHWC), once every float op is gone.

* graph input and every 4D tensor: (N, C, H, W) -> (N, H, W, C);
* Conv(W_int) -> Im2Col (qonnx, im2col order (kh, kw, C) as the SWG) + MatMul(W (kh·kw·C, OC))
  (qonnx LowerConvsToMatMul); a 1x1 stride-1 unpadded Conv is a MatMul alone;
* MaxPool -> MaxPoolNHWC; MultiThreshold data_layout NCHW -> NHWC;
* the NCHW flatten before the first dense layer: flattening NHWC data orders the features
  (h, w, c), so the dense layer's weight rows are permuted from (c, h, w) to (h, w, c)
  (FINN RemoveCNVtoFCFlatten).
"""

from __future__ import annotations

from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name

from toolchain.passes.common import (QONNX_DOMAIN, add_initializer, initializer, insert_nodes, is_float_dtype,
                                     new_tensor, node_error, node_index)

NHWC = (0, 2, 3, 1)


def _ints(node, name: str, default):
    a = get_by_name(node.attribute, name)
    return list(a.ints) if a is not None else list(default)


def _nhwc(shape) -> list[int]:
    return [shape[i] for i in NHWC]


class ToChannelsLast(Transformation):
    """Rewrite every NCHW tensor and layout-dependent node (one pass over the graph)."""

    def apply(self, model: ModelWrapper):
        four_d = {vi.name for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output)
                  if len(vi.type.tensor_type.shape.dim) == 4}
        if not four_d or model.get_metadata_prop("hil_layout") == "NHWC":
            return model, False
        old_shapes = {t: model.get_tensor_shape(t) for t in four_d}
        for node in list(model.graph.node):
            self._node(model, node, old_shapes)
        for t, shape in old_shapes.items():
            model.set_tensor_shape(t, _nhwc(shape))
        model.set_metadata_prop("hil_layout", "NHWC")
        return model, False

    def _node(self, model: ModelWrapper, node, shapes: dict) -> None:
        touches = [t for t in list(node.input) + list(node.output) if t in shapes]
        if not touches:
            return
        if node.op_type == "Conv":
            self._conv(model, node, shapes)
        elif node.op_type == "MaxPool":
            self._maxpool(model, node)
        elif node.op_type == "Resize":  # nearest-neighbour upsampling (passes/upsample.py)
            from toolchain.passes.upsample import upsample_channels_last

            upsample_channels_last(model, node, shapes)
        elif node.op_type == "ReduceSum":  # a global average pool's sum (passes/pooling.py)
            from toolchain.passes.pooling import accpool_channels_last

            accpool_channels_last(model, node, shapes)
        elif node.op_type == "MultiThreshold":
            get_by_name(node.attribute, "data_layout").s = b"NHWC"
        elif node.op_type in ("Reshape", "Flatten") and node.output[0] not in shapes:
            self._flatten(model, node, shapes[node.input[0]])
        elif node.op_type in ("Mul", "Add", "Sub", "Div", "Relu"):
            for i, t in enumerate(node.input):
                c = initializer(model, t)
                if c is not None and c.ndim == 4:
                    node.input[i] = add_initializer(model, f"{node.name}_nhwc", c.transpose(NHWC))
        else:
            raise node_error(node, "cannot convert this op to channels-last (NHWC) for the dataflow ops")

    def _conv(self, model: ModelWrapper, node, shapes: dict) -> None:
        w = initializer(model, node.input[1])
        wdt = model.get_tensor_datatype(node.input[1])
        if w is None or is_float_dtype(wdt) or len(node.input) > 2:
            raise node_error(node, "expected integer weights and no bias input at this point")
        oc, ic, kh, kw = w.shape
        _, _, h, wd = shapes[node.input[0]]
        stride = _ints(node, "strides", [1, 1])
        pads = _ints(node, "pads", [0, 0, 0, 0])
        dil = _ints(node, "dilations", [1, 1])
        group = get_by_name(node.attribute, "group")
        depthwise = group is not None and group.i > 1  # weights.py admits only group == channels
        if depthwise:  # the dense (kh·kw·C, C) equivalent, marked for the VVAU (passes/depthwise.py)
            from toolchain.passes.depthwise import depthwise_matrix

            w_mat, ic = depthwise_matrix(w), oc
        else:
            w_mat = w.transpose(2, 3, 1, 0).reshape(kh * kw * ic, oc)  # rows in (kh, kw, C) order
        w_name = add_initializer(model, f"{node.name}_W", w_mat, wdt)
        if depthwise:
            model.set_tensor_sparsity(w_name, {"dw": {"kernel_shape": [kh, kw]}})  # FINN's marker
        out_shape = _nhwc(shapes[node.output[0]])
        new, x = [], node.input[0]
        if (kh, kw) != (1, 1) or stride != [1, 1] or any(pads) or depthwise:
            cols = new_tensor(model, out_shape[:3] + [kh * kw * ic], model.get_tensor_datatype(x), f"{node.name}_cols")
            new.append(helper.make_node("Im2Col", [x], [cols], domain=QONNX_DOMAIN, name=f"{node.name}_im2col",
                                        stride=stride, kernel_size=[kh, kw], pad_amount=pads, dilations=dil,
                                        input_shape=f"(1,{h},{wd},{ic})", depthwise=int(depthwise)))
            x = cols
        new.append(helper.make_node("MatMul", [x, w_name], [node.output[0]], name=node.name))
        idx = node_index(model, node)
        model.graph.node.remove(node)
        insert_nodes(model, idx, new)

    def _maxpool(self, model: ModelWrapper, node) -> None:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("storage_order", 0) or any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise node_error(node, "dilated max-pooling (or storage_order 1) is not supported")
        k = list(attrs["kernel_shape"])
        new = helper.make_node("MaxPoolNHWC", list(node.input), list(node.output), domain=QONNX_DOMAIN, name=node.name,
                               kernel_shape=k, strides=list(attrs.get("strides", k)),
                               pads=list(attrs.get("pads", [0, 0, 0, 0])), ceil_mode=attrs.get("ceil_mode", 0))
        idx = node_index(model, node)
        model.graph.node.remove(node)
        model.graph.node.insert(idx, new)

    def _flatten(self, model: ModelWrapper, node, in_shape) -> None:
        n, c, h, w = in_shape
        out_shape = model.get_tensor_shape(node.output[0])
        if list(out_shape) != [n, c * h * w]:
            raise node_error(node, f"reshapes {in_shape} to {out_shape}; only the flatten to (N, C·H·W) before a "
                             "dense layer is supported")
        if h * w == 1:
            return
        for consumer in model.find_consumers(node.output[0]) or []:
            wname = consumer.input[1] if consumer.op_type == "MatMul" else None
            wmat = initializer(model, wname) if wname else None
            if wmat is None or consumer.input[0] != node.output[0]:
                raise node_error(node, f"the flattened {c}x{h}x{w} features feed {consumer.name} "
                                 f"({consumer.op_type}); only a dense layer can absorb the NHWC feature order")
            rows = wmat.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(c * h * w, -1)
            consumer.input[1] = add_initializer(model, f"{consumer.name}_W", rows, model.get_tensor_datatype(wname))
