"""Pruned models export bit-exact: pruned weights are exact zeros in QONNX, pruned channels are gone."""

import numpy as np
import pytest
import torch
import yaml

from toolchain.compress.pruning import pruned_count
from toolchain.export import export_run
from toolchain.onnxio import load_model
from toolchain.train import load_run, train_recipe


def quant_weights(model) -> list[np.ndarray]:
    """The weight tensors entering the QONNX quantizers (Quant / BipolarQuant), in graph order."""
    out = []
    for node in model.graph.node:
        if node.op_type in ("Quant", "BipolarQuant"):
            w = model.get_initializer(node.input[0])
            if w is not None and w.ndim >= 2:
                out.append(w)
    return out


def _train_export(tmp_path, recipe, prune, epochs=2):
    run = tmp_path / "run"
    metrics = train_recipe(str(recipe), run, epochs=epochs, prune=prune, float_baseline=False)
    result = export_run(str(run), run / "model.onnx", samples=600)
    return metrics, result, load_model(run / "model.onnx"), run


def test_unstructured_pruned_weights_are_exact_zeros_in_qonnx(tmp_path):
    metrics, result, model, run = _train_export(tmp_path, "digits-mlp", "unstructured:0.8,step=0.4,epochs=1")
    assert result["mismatches"] == 0 and result["samples"] == 600
    _, torch_model = load_run(run)
    torch_weights = [m.weight.detach().numpy() for m in torch_model.modules() if hasattr(m, "quant_weight")]
    onnx_weights = quant_weights(model)
    assert len(onnx_weights) == 3
    zeros = 0
    for tw, ow in zip(torch_weights, onnx_weights):
        assert np.array_equal(ow == 0, tw == 0)  # Gemm(transB) weights: the same zero pattern, exactly 0.0
        zeros += int((ow == 0).sum())
    # magnitude.py prunes globally to exactly pruned_count(0.8, 6,464) = 5,171 float weights (round half up);
    # masks are nested and re-applied after every step, and nothing else zeroes a float weight
    total = sum(w.size for w in onnx_weights)
    assert total == 64 * 64 + 64 * 32 + 32 * 10
    assert zeros == pruned_count(0.8, total) == 5171
    # on the 4-bit integer grid a survivor may also round to 0, so the metrics (which count integer zeros,
    # as qonnx inference_cost does after folding the weight quantizers) are at least that sparse, and
    # every integer nonzero costs weight bits (4) x input bits (8 for the first layer's input quantizer,
    # the recipe's 4-bit activations after it) BOPs, exactly
    int_zeros = [round(layer["sparsity"] * layer["weights"]) for layer in metrics["layers"].values()]
    assert all(iz >= int((w == 0).sum()) for iz, w in zip(int_zeros, onnx_weights))
    assert metrics["sparsity"] == sum(int_zeros) / total >= 5171 / total
    nonzero = [w.size - iz for w, iz in zip(onnx_weights, int_zeros)]
    assert metrics["bops"] == 4 * (8 * nonzero[0] + 4 * nonzero[1] + 4 * nonzero[2])
    assert metrics["macs"] == sum(nonzero) <= total - 5171 and metrics["dense_macs"] == total


def test_channel_pruning_halves_the_hidden_layers_of_digits_mlp(tmp_path):
    metrics, result, model, _ = _train_export(tmp_path, "digits-mlp", "channels:0.5")
    assert result["mismatches"] == 0
    assert [w.shape for w in quant_weights(model)] == [(32, 64), (16, 32), (10, 16)]  # not masks: fewer channels
    assert metrics["channels"] == {"layer0": {"channels": 32, "of": 64}, "layer1": {"channels": 16, "of": 32},
                                   "layer2": {"channels": 10, "of": 10}}
    assert metrics["float_bops"] == 32 * 32 * (64 * 64 + 64 * 32 + 32 * 10)  # the dense float reference
    assert metrics["dense_macs"] > metrics["macs"]


def _recipe_file(tmp_path, name, layers, batchnorm=False, images=False, shape=(64,)):
    data = {"name": name, "dataset": {"name": "digits", "images": images},
            "architecture": {"input_shape": list(shape), "layers": layers, "batchnorm": batchnorm},
            "quant": {"weight_bits": 4, "act_bits": 4}, "training": {"epochs": 2, "batch_size": 64}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_channel_pruned_cnn_with_batchnorm_exports_narrower_and_exact(tmp_path):
    recipe = _recipe_file(tmp_path, "bn-cnn", [{"type": "conv", "channels": 8, "kernel": 3},
                                               {"type": "maxpool", "kernel": 2},
                                               {"type": "dense", "units": 16}, {"type": "dense", "units": 10}],
                          batchnorm=True, images=True, shape=(1, 8, 8))
    _, result, model, _ = _train_export(tmp_path, recipe, "channels:0.5,method=oneshot,epochs=2,qepochs=1")
    assert result["mismatches"] == 0
    assert [w.shape for w in quant_weights(model)] == [(4, 1, 3, 3), (8, 36), (10, 8)]


def test_per_layer_bits_ternary_binary_and_pruning(tmp_path):
    """Per-layer weight/activation bits, binary and ternary weights, with both kinds of pruning."""
    layers = [{"type": "dense", "units": 32, "weight_bits": 2, "act_bits": 3},  # ternary weights
              {"type": "dense", "units": 16, "weight_bits": 1, "act_bits": 2},  # binary weights
              {"type": "dense", "units": 10, "weight_bits": 8}]
    recipe = _recipe_file(tmp_path, "mixed", layers)
    metrics, result, model, _ = _train_export(tmp_path, recipe, "channels:0.25")
    assert result["mismatches"] == 0
    assert [w.shape for w in quant_weights(model)] == [(24, 64), (12, 24), (10, 12)]
    assert {n.op_type for n in model.graph.node} >= {"Quant", "BipolarQuant"}
    assert [l["bits"] for l in metrics["layers"].values()] == [2, 1, 8]

    layers[1]["weight_bits"] = 3  # binary weights cannot hold a pruned zero: use 3 bits for QAP
    recipe = _recipe_file(tmp_path, "mixed2", layers)
    metrics, result, model, run = _train_export(tmp_path, recipe, "unstructured:0.5,step=0.5,epochs=1")
    assert result["mismatches"] == 0
    _, torch_model = load_run(run)
    ternary = torch_model.body[1].quant_weight()
    ints = torch.unique((ternary.value / ternary.scale).round())
    assert set(ints.tolist()) <= {-1.0, 0.0, 1.0}  # ternary
    assert metrics["sparsity"] >= 0.5
