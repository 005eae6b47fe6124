"""Constructs the lowering cannot handle exactly are refused with one line naming the node."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.test_passes_common import QGraph
from toolchain.errors import UserError
from toolchain.lower import lower_model

W = np.array([[1.0, -2.0, 3.0], [0.0, 1.0, -1.0]]) * 0.25


def mlp(input_scale=2**-4, middle=None, act=True):
    """input Quant -> Gemm -> [middle op] -> Relu -> UINT2 -> Gemm."""
    g = QGraph([1, 3])
    x = g.quant("global_in", input_scale, 8)
    h = g.gemm(x, g.weight(W, 0.25, 4))
    if middle:
        h = g.node(middle, [h])
    if act:
        h = g.quant(g.node("Relu", [h]), 0.5, 2, signed=False)
    else:
        h = g.node("Relu", [h])
    return g.build(g.gemm(h, g.weight(W[:, :2] * 2, 0.5, 4)))


def test_unsupported_op_is_named():
    with pytest.raises(UserError, match=r"Sigmoid_\d+ \(Sigmoid\): op type Sigmoid is not supported"):
        lower_model(mlp(middle="Sigmoid"))


def test_non_power_of_two_input_scale_is_refused():
    with pytest.raises(UserError, match=r"Gemm_\d+_MatMul \(MatMul\): its input is scaled by 0\.1.*power of two"):
        lower_model(mlp(input_scale=0.1), strict=True)


def test_activation_without_quantizer_is_refused():
    with pytest.raises(UserError, match=r"MatMul\): its input comes from Relu_\d+ \(Relu\).*quantize its output"):
        lower_model(mlp(act=False))


def test_falling_activation_without_weights_is_refused():
    g = QGraph([1, 3])
    x = g.quant("global_in", 2**-4, 8)
    bn = g.batchnorm(x, gamma=[1.0, -1.0, 1.0], beta=[0.0, 0.0, 0.0], mean=[0.0, 0.0, 0.0], var=[1.0, 1.0, 1.0])
    y = g.bipolar(bn)
    src = g.build(g.gemm(y, g.weight(W, 0.25, 4)))
    with pytest.raises(UserError, match=r"falls as its integer input rises on channels \[1\].*no weights"):
        lower_model(src)


def test_missing_input_quantizer_is_refused():
    g = QGraph([1, 3])
    src = g.build(g.gemm("global_in", g.weight(W, 0.25, 4)))
    with pytest.raises(UserError, match="must feed exactly one Quant or BipolarQuant"):
        lower_model(src)


def test_unquantized_weights_are_refused():
    g = QGraph([1, 3])
    x = g.quant("global_in", 2**-4, 8)
    src = g.build(g.gemm(x, g.init(W)))
    with pytest.raises(UserError, match=r"Gemm_\d+ \(Gemm\): weights are not quantized"):
        lower_model(src)


def test_bias_off_the_accumulator_grid_is_refused():
    g = QGraph([1, 3])
    x = g.quant("global_in", 2**-4, 8)
    h = g.gemm(x, g.weight(W, 0.25, 4), bias=g.init([2**-7, 0.0]))  # accumulator step is 2^-6
    y = g.quant(g.node("Relu", [h]), 0.5, 2, signed=False)
    src = g.build(g.gemm(y, g.weight(W[:, :2] * 2, 0.5, 4)))
    with pytest.raises(UserError, match=r"\(Add\): the bias is not on the accumulator grid"):
        lower_model(src, strict=True)


def test_batch_size_is_made_one():
    g = QGraph([2, 3])
    src = g.build(g.gemm(g.quant("global_in", 2**-4, 8), g.weight(W, 0.25, 4)))
    df = lower_model(src)  # the import cleanup sets batch size 1 (qonnx ChangeBatchSize)
    assert df.get_tensor_shape(df.graph.input[0].name)[0] == 1


def test_non_power_of_two_weight_scale_is_refused():
    g = QGraph([1, 3])
    x = g.quant("global_in", 2**-4, 8)
    w = g.bipolar(g.init(np.sign(W) + (W == 0)), scale=0.1)  # Brevitas' default binary weight scale
    src = g.build(g.gemm(x, w))
    with pytest.raises(UserError, match=r"BipolarQuant_\d+ \(BipolarQuant\): weight scale \[0\.1\] is not a power of two"):
        lower_model(src, strict=True)
