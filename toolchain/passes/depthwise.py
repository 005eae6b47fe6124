"""Depthwise convolutions -> SWG (depthwise=1) + VVAU (FINN LowerConvsToMatMul's depthwise branch +
InferConvInpGen + InferVectorVectorActivation, finn/transformation/fpgadataflow/convert_to_hw_layers.py).

channels_last.py lowers a depthwise Conv (group = channels) as FINN does: an Im2Col marked
depthwise=1 and a MatMul on the dense (kh·kw·C, C) equivalent of the (C, 1, kh, kw) weights, the
weight tensor annotated with FINN's sparsity marker {"dw": {"kernel_shape": [kh, kw]}} (the graph
stays executable by qonnx). MatMulToVVAU turns such a MatMul (+ the MultiThreshold after it) into a
VVAU with the (C, 1, kh, kw) weights recovered from the dense matrix.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hw.ops.base import make_hw_node
from toolchain.passes.common import add_initializer, initializer, is_float_dtype, node_error, single_consumer


def depthwise_matrix(w: np.ndarray) -> np.ndarray:
    """(C, 1, kh, kw) depthwise weights -> the dense (kh·kw·C, C) matrix of the im2col product:
    row (i, j, c) (im2col order), column c holds w[c, 0, i, j]; every other entry is 0."""
    c, _, kh, kw = w.shape
    dense = np.zeros((kh, kw, c, c), dtype=w.dtype)
    idx = np.arange(c)
    dense[:, :, idx, idx] = w[:, 0].transpose(1, 2, 0)
    return dense.reshape(kh * kw * c, c)


def depthwise_weights(dense: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """The inverse of depthwise_matrix: FINN's VVAU weights (C, 1, kh, kw)."""
    c = dense.shape[1]
    taps = dense.reshape(kh, kw, c, c)
    idx = np.arange(c)
    w = taps[:, :, idx, idx].transpose(2, 0, 1)[:, None]
    if not np.array_equal(depthwise_matrix(w), dense):
        raise ValueError("the dense matrix is not depthwise (nonzero entries off the channel diagonal)")
    return w


def _dw_kernel(model: ModelWrapper, wname: str):
    sparsity = model.get_tensor_sparsity(wname)
    if not sparsity or "dw" not in sparsity:
        return None
    return list(sparsity["dw"]["kernel_shape"])


class MatMulToVVAU(Transformation):
    def apply(self, model: ModelWrapper):
        for node in list(model.graph.node):
            if node.op_type == "MatMul" and _dw_kernel(model, node.input[1]) is not None:
                self._convert(model, node)
                return model, True
        return model, False

    def _convert(self, model: ModelWrapper, mm) -> None:
        from toolchain.passes.convert import PLACEHOLDER, _activation, _carry_provenance, _int_input, _replace

        x, wname = mm.input[0], mm.input[1]
        kh, kw = _dw_kernel(model, wname)
        dense, wdt = initializer(model, wname), model.get_tensor_datatype(wname)
        if dense is None or is_float_dtype(wdt):
            raise node_error(mm, "expected integer depthwise weights (a quantized initializer)")
        idt = _int_input(model, mm, x)
        w = depthwise_weights(dense, kh, kw)
        _, oh, ow, _ = model.get_tensor_shape(mm.output[0])
        attrs = dict(PE=1, SIMD=1, Dim=[oh, ow], Channels=w.shape[0], Kernel=[kh, kw], inputDataType=idt.name,
                     weightDataType=wdt.name, accDataType=PLACEHOLDER)
        inputs = [x, add_initializer(model, f"{mm.name}_W", w, wdt)]
        mt = single_consumer(model, mm.output[0])
        mt = mt if mt is not None and mt.op_type == "MultiThreshold" else None
        old = [mm]
        if mt is not None:
            odt, actval = _activation(model, mt)
            inputs.append(add_initializer(model, f"{mm.name}_T", initializer(model, mt.input[1])))
            out = mt.output[0]
            attrs.update(noActivation=0, ActVal=actval, outputDataType=odt.name)
            old.append(mt)
        else:
            out = mm.output[0]
            attrs.update(noActivation=1, ActVal=0, outputDataType=PLACEHOLDER)
        vvau = make_hw_node("VVAU", inputs, [out], mm.name, **attrs)
        _carry_provenance(mt, vvau)
        _replace(model, old, [vvau])
