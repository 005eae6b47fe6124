"""torch ≡ QONNX: every recipe, trained briefly or untrained, exports bit-exact on ≥ 500 samples."""

import numpy as np
import pytest

from toolchain.export import export_run
from toolchain.onnxio import load_model
from toolchain.train import train_recipe

MLP_RECIPES = ["digits-mlp", "mnist-mlp", "tfc-w1a1", "cybsec-mlp"]
ALL_RECIPES = ["digits-mlp", "digits-cnn", "mnist-mlp", "tfc-w1a1", "jet-mlp", "cybsec-mlp", "cnv-w1a1"]


def _train_and_export(recipe: str, tmp_path, epochs: int = 2) -> dict:
    run = tmp_path / "run"
    train_recipe(recipe, run, epochs=epochs, float_baseline=False)
    result = export_run(str(run), run / "model.onnx", samples=600)
    assert (run / "model.onnx").exists()
    return result


@pytest.mark.slow
@pytest.mark.parametrize("recipe", MLP_RECIPES)
def test_trained_mlp_exports_bit_exact(recipe, tmp_path):
    result = _train_and_export(recipe, tmp_path)
    assert result["samples"] == 600
    assert result["mismatches"] == 0


@pytest.mark.slow
def test_trained_jet_mlp_exports_bit_exact(jet_recipe, tmp_path):
    result = _train_and_export(str(jet_recipe), tmp_path)
    assert result["samples"] >= 500 and result["mismatches"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ALL_RECIPES)
def test_untrained_export_is_bit_exact(recipe, tmp_path):
    out = tmp_path / f"{recipe}.onnx"
    result = export_run(recipe, out, untrained=True, samples=500)
    assert result["mismatches"] == 0 and result["samples"] == 500
    model = load_model(out)
    ops = {n.op_type for n in model.graph.node}
    assert ops & {"Quant", "BipolarQuant"}, ops  # a QONNX file, with its quantizers


@pytest.mark.slow
def test_binary_recipes_export_bipolar_quantizers(tmp_path):
    export_run("tfc-w1a1", tmp_path / "tfc.onnx", untrained=True, samples=500)
    model = load_model(tmp_path / "tfc.onnx")
    weights = [n for n in model.graph.node if n.op_type == "BipolarQuant" and model.get_initializer(n.input[0]) is not None]
    assert len(weights) == 4  # one binary weight tensor per dense layer
    for node in weights:
        assert np.all(model.get_initializer(node.input[1]) == 1.0)  # power-of-two (unit) scale: exact products


@pytest.mark.slow
def test_digits_mlp_reaches_95_percent_at_4_bits(tmp_path):
    metrics = train_recipe("digits-mlp", tmp_path / "run", weight_bits=4, act_bits=4)
    assert metrics["accuracy"] >= 0.95
    assert metrics["float_accuracy"] > 0.9
    assert metrics["bops"] > 0 and metrics["weight_bits_total"] == (64 * 64 + 64 * 32 + 32 * 10) * 4
    assert 0.0 <= metrics["sparsity"] < 1.0


@pytest.mark.slow
def test_mnist_mlp_reaches_90_percent_at_4_bits(tmp_path):
    metrics = train_recipe("mnist-mlp", tmp_path / "run", weight_bits=4, act_bits=4, float_baseline=False)
    assert metrics["accuracy"] >= 0.90
