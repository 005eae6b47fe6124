"""Conversion to dataflow ops (FINN convert_to_hw_layers.py, docs/finn.md §1.4):

* Im2Col -> [FMPadding +] SWG                       (InferConvInpGen)
* MaxPoolNHWC (stride == kernel) -> StreamingMaxPool (InferStreamingMaxPool)
* MatMul [+ MultiThreshold] -> MVAU                 (InferQuantizedMatrixVectorActivation); bipolar
  inputs and weights -> binaryXnorMode=1, acc = popcount = (dot + MW)/2, so a dot threshold T
  becomes ceil((T + MW)/2) and a bare popcount is followed by Mul(2), Add(-MW) (qonnx
  ConvertBipolarMatMulToXnorPopcount), absorbed into the output mapping later
* leftover MultiThreshold -> Thresholding          (InferThresholdingLayer)
* the flatten Reshape between two dataflow ops is dropped (the stream is the same words)

Datatype attributes get placeholders here; bitwidth.py sets the minimal ones.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hw.ops.base import DOMAIN, make_hw_node
from toolchain.errors import UserError
from toolchain.passes.thresholds import QUANTIZER_ATTR
from toolchain.passes.common import (add_initializer, bypass, initializer, insert_nodes, is_float_dtype, new_tensor,
                                     node_error, node_index, single_consumer)

PLACEHOLDER = "INT32"


def _attrs(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _replace(model: ModelWrapper, old: list, new: list) -> None:
    idx = node_index(model, old[0])
    for n in old:
        model.graph.node.remove(n)
    insert_nodes(model, idx, new)


def _int_input(model: ModelWrapper, node, tensor: str) -> DataType:
    dt = model.get_tensor_datatype(tensor)
    if is_float_dtype(dt):
        p = model.find_producer(tensor)
        origin = f"{p.name} ({p.op_type})" if p is not None else "the graph input"
        raise node_error(node, f"its input comes from {origin}, which is not an integer tensor: only activation "
                         "chains that end in a Quant/BipolarQuant become thresholds; quantize its output")
    return dt


def _carry_provenance(mt, node) -> None:
    """Keep the thresholds' source-quantizer record (thresholds.py) on the dataflow node."""
    for a in (mt.attribute if mt is not None else []):
        if a.name == QUANTIZER_ATTR:
            node.attribute.append(a)


class Im2ColToSWG(Transformation):
    def apply(self, model: ModelWrapper):
        for node in list(model.graph.node):
            if node.op_type == "Im2Col":
                self._convert(model, node)
                return model, True
        return model, False

    def _convert(self, model: ModelWrapper, node) -> None:
        a = _attrs(node)
        conv = node.name.removesuffix("_im2col")
        x, out = node.input[0], node.output[0]
        idt = _int_input(model, node, x)
        _, h, w, c = model.get_tensor_shape(x)
        _, oh, ow, _ = model.get_tensor_shape(out)
        pads = list(a.get("pad_amount", [0, 0, 0, 0]))
        k, stride, dil = list(a["kernel_size"]), list(a["stride"]), list(a.get("dilations", [1, 1]))
        hp, wp = h + pads[0] + pads[2], w + pads[1] + pads[3]
        if k[0] == 1 and h == 1 and k[1] > 1:  # a 1-D window over a 1×W signal (passes/conv1d.py)
            from toolchain.passes.conv1d import swg1d_node

            _replace(model, [node], [swg1d_node(node, conv, idt, c, w, ow, k, stride, dil, pads)])
            return
        if k[0] != k[1] or stride[0] != stride[1] or hp != wp or oh != ow or dil != [1, 1]:
            raise UserError(f"{conv} (Conv): the sliding-window generator needs a square kernel, stride and (padded) "
                            f"image and dilation 1 (FINN's HLS SWG); got kernel {k}, stride {stride}, image {hp}x{wp}, "
                            f"dilation {dil}")
        new = []
        if any(pads):
            if not idt.allowed(0):
                raise UserError(f"{conv} (Conv): zero padding of a {idt.name} input is not exact (0 is not a {idt.name} "
                                    "value); remove the padding or quantize the input to a signed/unsigned integer")
            padded = new_tensor(model, [1, h + pads[0] + pads[2], w + pads[1] + pads[3], c], idt, f"{conv}_padded")
            new.append(make_hw_node("FMPadding", [x], [padded], f"{conv}_pad", ImgDim=[h, w], Padding=pads,
                                    NumChannels=c, SIMD=1, inputDataType=idt.name))
            x, h, w = padded, h + pads[0] + pads[2], w + pads[1] + pads[3]
        new.append(make_hw_node("SWG", [x], [out], f"{conv}_swg", ConvKernelDim=list(a["kernel_size"]),
                                IFMChannels=c, IFMDim=[h, w], OFMDim=[oh, ow], SIMD=1, Stride=list(a["stride"]),
                                Dilation=list(a.get("dilations", [1, 1])), inputDataType=idt.name,
                                outputDataType=idt.name, depthwise=int(a.get("depthwise", 0))))
        _replace(model, [node], new)


class MaxPoolToStreaming(Transformation):
    def apply(self, model: ModelWrapper):
        for node in list(model.graph.node):
            if node.op_type == "MaxPoolNHWC":
                self._convert(model, node)
                return model, True
        return model, False

    def _convert(self, model: ModelWrapper, node) -> None:
        a = _attrs(node)
        k, s = list(a["kernel_shape"]), list(a.get("strides", a["kernel_shape"]))
        _, h, w, c = model.get_tensor_shape(node.input[0])
        dt = _int_input(model, node, node.input[0])
        problems = []
        if k != s:
            problems.append(f"stride {s} differs from kernel {k} (needs SWG + Pool, not supported)")
        if any(a.get("pads", [0, 0, 0, 0])) or a.get("ceil_mode", 0):
            problems.append("padding / ceil_mode is not supported")
        if k[0] != k[1] or h != w:
            problems.append(f"only square pooling of square images is supported (kernel {k}, image {h}x{w})")
        elif h % k[0]:
            problems.append(f"the image size {h} must be a multiple of the kernel {k[0]}")
        if problems:
            raise node_error(node, "; ".join(problems))
        _replace(model, [node], [make_hw_node("StreamingMaxPool", [node.input[0]], [node.output[0]], node.name,
                                              ImgDim=[h, w], PoolDim=k, NumChannels=c, PE=1, dataType=dt.name)])


def _activation(model: ModelWrapper, mt) -> tuple[DataType, int]:
    """(output DataType, ActVal) of a MultiThreshold (FINN: out_scale 1 and an integer out_bias, or
    the bipolar out_scale 2 / out_bias -1 with ActVal 0)."""
    a = _attrs(mt)
    scale, bias = float(a.get("out_scale", 1.0)), float(a.get("out_bias", 0.0))
    odt = model.get_tensor_datatype(mt.output[0])
    if odt == DataType["BIPOLAR"] and (scale, bias) == (2.0, -1.0):
        return odt, 0
    if scale != 1.0 or bias != int(bias):
        raise node_error(mt, f"out_scale {scale} / out_bias {bias} cannot be an MVAU/Thresholding activation")
    return odt, int(bias)


class MatMulToMVAU(Transformation):
    def apply(self, model: ModelWrapper):
        for node in list(model.graph.node):
            if node.op_type == "MatMul":
                self._convert(model, node)
                return model, True
        return model, False

    def _convert(self, model: ModelWrapper, mm) -> None:
        x, wname = mm.input[0], mm.input[1]
        w = initializer(model, wname)
        wdt = model.get_tensor_datatype(wname)
        if w is None or is_float_dtype(wdt):
            raise node_error(mm, "expected integer weights (a quantized initializer)")
        idt = _int_input(model, mm, x)
        mw, mh = w.shape
        xnor = idt == DataType["BIPOLAR"] and wdt == DataType["BIPOLAR"]
        mt = single_consumer(model, mm.output[0])
        mt = mt if mt is not None and mt.op_type == "MultiThreshold" else None
        attrs = dict(MW=mw, MH=mh, PE=1, SIMD=1, inputDataType=idt.name, weightDataType=wdt.name,
                     accDataType=PLACEHOLDER, binaryXnorMode=int(xnor),
                     numInputVectors=list(model.get_tensor_shape(x)[:-1]))
        old, tail = [mm], []
        if mt is not None:
            odt, actval = _activation(model, mt)
            thr = initializer(model, mt.input[1])
            if xnor:
                thr = np.ceil((thr.astype(np.float64) + mw) / 2)
            inputs = [x, wname, add_initializer(model, f"{mm.name}_T", thr)]
            out = mt.output[0]
            attrs.update(noActivation=0, ActVal=actval, outputDataType=odt.name)
            old.append(mt)
        else:
            inputs, out = [x, wname], mm.output[0]
            attrs.update(noActivation=1, ActVal=0, outputDataType=PLACEHOLDER)
            if xnor:  # dot = 2·popcount - MW
                pop = new_tensor(model, model.get_tensor_shape(out), DataType[f"UINT{mw.bit_length()}"],
                                 f"{mm.name}_popcount")
                doubled = new_tensor(model, model.get_tensor_shape(out), hint=f"{mm.name}_doubled")
                tail = [helper.make_node("Mul", [pop, add_initializer(model, "xnor_2", np.float32(2))], [doubled],
                                         name=f"{mm.name}_xnor_scale"),
                        helper.make_node("Add", [doubled, add_initializer(model, "xnor_k", np.float32(-mw))], [out],
                                         name=f"{mm.name}_xnor_bias")]
                out = pop
        mvau = make_hw_node("MVAU", inputs, [out], mm.name, **attrs)
        _carry_provenance(mt, mvau)
        _replace(model, old, [mvau] + tail)


class ThresholdsToThresholding(Transformation):
    def apply(self, model: ModelWrapper):
        for node in list(model.graph.node):
            if node.op_type == "MultiThreshold":
                self._convert(model, node)
                return model, True
        return model, False

    def _convert(self, model: ModelWrapper, mt) -> None:
        layout = _attrs(mt).get("data_layout", b"")
        layout = layout.decode() if isinstance(layout, bytes) else layout
        shape = model.get_tensor_shape(mt.input[0])
        if len(shape) == 4 and layout != "NHWC":
            raise node_error(mt, f"expected channels-last data, got layout {layout or 'unknown'}")
        idt = _int_input(model, mt, mt.input[0])
        thr = initializer(model, mt.input[1])
        odt, actval = _activation(model, mt)
        node = make_hw_node(
            "Thresholding", [mt.input[0], mt.input[1]], [mt.output[0]], f"{mt.name}", NumChannels=shape[-1], PE=1,
            numSteps=thr.shape[1], inputDataType=idt.name, weightDataType=idt.name, outputDataType=odt.name,
            ActVal=actval, numInputVectors=list(shape[:-1]))
        _carry_provenance(mt, node)
        _replace(model, [mt], [node])


class RemoveFlatten(Transformation):
    """A Reshape/Flatten between dataflow ops carries the same stream words: drop it."""

    def apply(self, model: ModelWrapper):
        for node in list(model.graph.node):
            if node.op_type not in ("Reshape", "Flatten"):
                continue
            producer = model.find_producer(node.input[0])
            readers = model.find_consumers(node.output[0]) or []
            if (producer is None or producer.domain == DOMAIN) and readers and all(r.domain == DOMAIN for r in readers):
                bypass(model, node, node.input[0])
                return model, True
        return model, False
