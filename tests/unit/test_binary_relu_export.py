"""A 1-bit UNSIGNED activation (QuantReLU, bit width 1: values {0, s}) exports exactly.

Brevitas exports every 1-bit quantizer as BipolarQuant ({-s, +s}); toolchain/compress/brevitas_export.py
(unsigned_binary_as_quant) puts an ordinary Quant(bitwidth=1, signed=0) back for unsigned ones. Without
it `hil train --act-bits 1` on a ReLU recipe could not be exported (every sample differed)."""

import numpy as np

from toolchain.compress.calibrate import CalibrationConfig, calibrate_activations
from toolchain.compress.model import build_model
from toolchain.data import verification_inputs
from toolchain.export import export_and_verify
from toolchain.zoo import load_recipe, with_overrides


def _one_bit_relu_digits_mlp(seed=0):
    import torch

    recipe = with_overrides(load_recipe("digits-mlp"), weight_bits=2, act_bits=1)
    torch.manual_seed(seed)
    model = build_model(recipe)
    calibrate_activations(model, verification_inputs(recipe, 256, seed), CalibrationConfig(seed=seed))
    return recipe, model


def test_one_bit_relu_exports_as_unsigned_quant_and_bit_exact(tmp_path):
    recipe, model = _one_bit_relu_digits_mlp()
    x = verification_inputs(recipe, 300, 0)
    result = export_and_verify(model, recipe, x, tmp_path / "m.onnx")
    assert result["mismatches"] == 0
    assert "BipolarQuant" not in result["nodes"]  # digits-mlp has ReLU activations: none is bipolar

    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    one_bit = [n for n in graph.node if n.op_type == "Quant" and n.input[3] in inits
               and float(np.asarray(inits[n.input[3]]).ravel()[0]) == 1.0]
    assert len(one_bit) == 2  # the two hidden ReLUs of digits-mlp's three layers
    assert all({a.name: a.i for a in n.attribute if a.name == "signed"}["signed"] == 0 for n in one_bit)
