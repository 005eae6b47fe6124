"""Ps&Qs BOPs, the two footprints and aIQ, against networks computed by hand."""

import math

import numpy as np
import pytest
import torch

from toolchain.compress import aiq, costs
from toolchain.compress.model import build_model
from toolchain.zoo import Recipe, load_recipe


def tiny(bits=4) -> Recipe:
    return Recipe.model_validate({
        "name": "tiny", "dataset": {"name": "digits"},
        "architecture": {"input_shape": [4], "layers": [{"type": "dense", "units": 3}, {"type": "dense", "units": 2}]},
        "quant": {"weight_bits": bits, "act_bits": bits}})


def test_bops_psqs_of_a_hand_computed_network():
    model = build_model(tiny(4))
    fc1, fc2 = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        fc1.weight.copy_(torch.tensor([[1.0, 0, 0, -1], [0, 1, 0, 1], [1, 0, -1, 0]]))  # 6 of 12 non-zero
        fc1.bias.fill_(0.5)  # 3 biases: p = (6 + 3) / 15
        fc2.weight.fill_(1.0)  # no bias on the classifier
    # layer 1: m=3, n=4, b_a=32 (the input), b_w=4; layer 2: m=2, n=3, b_a=4 (the ReLU's bits), b_w=4
    hand = 3 * 4 * (0.6 * 32 * 4 + 32 + 4 + 2) + 2 * 3 * (1.0 * 4 * 4 + 4 + 4 + math.log2(3))
    assert costs.bops_psqs(model, tiny(4)) == pytest.approx(hand, rel=1e-12)
    # the float 32-bit reference: p = 1, 32 bits everywhere
    ref = 3 * 4 * (32 * 32 + 64 + 2) + 2 * 3 * (32 * 32 + 64 + math.log2(3))
    assert costs.float_bops_psqs(tiny(4)) == pytest.approx(ref, rel=1e-12)


def test_float_bops_psqs_of_mnist_mlp_and_the_issue_hand_calculation():
    r = load_recipe("mnist-mlp")
    hand = 64 * 784 * (1024 + 64 + math.log2(784)) + 2 * 64 * 64 * (1024 + 64 + 6) + 10 * 64 * (1024 + 64 + 6)
    assert costs.float_bops_psqs(r) == pytest.approx(hand, rel=1e-12)
    # W4 with 10 % of every layer's weights left: the issue's ≈ 21× reduction under this definition
    w4 = 64 * 784 * (0.1 * 32 * 4 + 36 + math.log2(784)) + 2 * 64 * 64 * (0.1 * 16 + 8 + 6) + 10 * 64 * (0.1 * 16 + 8 + 6)
    layers = [costs.LayerCost(64, 784, 0.1, 32, 4), costs.LayerCost(64, 64, 0.1, 4, 4),
              costs.LayerCost(64, 64, 0.1, 4, 4), costs.LayerCost(10, 64, 0.1, 4, 4)]
    assert sum(c.bops for c in layers) == pytest.approx(w4, rel=1e-12)
    assert 20.5 < hand / w4 < 21.5


def test_feature_map_elements_count_every_layer_output():
    # digits-mlp: Linear 64, ReLU 64, Linear 32, ReLU 32, Linear 10
    assert costs.feature_map_elems(load_recipe("digits-mlp")) == 64 + 64 + 32 + 32 + 10
    cnn = Recipe.model_validate({
        "name": "bn-cnn", "dataset": {"name": "digits", "images": True},
        "architecture": {"input_shape": [1, 8, 8], "batchnorm": True,
                         "layers": [{"type": "conv", "channels": 8, "kernel": 3}, {"type": "maxpool", "kernel": 2},
                                    {"type": "dense", "units": 16}, {"type": "dense", "units": 10}]},
        "quant": {"weight_bits": 4, "act_bits": 4}})
    # conv/BN/ReLU 8×6×6 each, maxpool and flatten 8×3×3 each, dense/BN/ReLU 16 each, classifier 10
    assert costs.feature_map_elems(cnn) == 3 * 288 + 2 * 72 + 3 * 16 + 10


def test_footprint_reports_both_definitions():
    from toolchain.compress.calibrate import calibrate_activations
    from toolchain.compress.footprint import footprint

    r = load_recipe("digits-mlp")
    torch.manual_seed(0)
    model = build_model(r)
    calibrate_activations(model, np.random.default_rng(0).uniform(0, 1, (64, 64)).astype(np.float32))
    fp = footprint(model, r, r, 0.9)
    # the quantized tensors: the 8-bit input quantizer (64) and the two 4-bit ReLUs (64, 32)
    assert fp["act_mem_bits_quant"] == fp["act_mem_bits"] == 64 * 8 + (64 + 32) * 4
    assert fp["act_mem_bits_all"] == 202 * 4
    assert fp["bops_qonnx"] == fp["bops"]
    assert fp["bops_psqs"] == pytest.approx(costs.bops_psqs(model, r))
    assert fp["bops_psqs_reduction"] == pytest.approx(fp["float_bops_psqs"] / fp["bops_psqs"])


def test_layer_entropy_and_efficiency_by_hand():
    states = np.array([[1, 0], [1, 0], [0, 1], [1, 1]], dtype=bool)  # frequencies 1/2, 1/4, 1/4
    assert aiq.entropy_bits(states) == pytest.approx(1.5)
    assert aiq.layer_efficiency(states) == pytest.approx(0.75)
    assert aiq.network_efficiency([0.75, 0.5]) == pytest.approx(math.sqrt(0.375))
    assert aiq.aiq(0.9, math.sqrt(0.375)) == pytest.approx((0.81 * math.sqrt(0.375)) ** (1 / 3))


def test_efficiency_of_a_hand_built_network():
    r = Recipe.model_validate({
        "name": "two", "dataset": {"name": "digits"},
        "architecture": {"input_shape": [2], "layers": [{"type": "dense", "units": 2}, {"type": "dense", "units": 2}]},
        "quant": {"weight_bits": 4, "act_bits": 4}})
    model = build_model(r, quantized=False)
    fc1, fc2 = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        fc1.weight.copy_(torch.eye(2))
        fc1.bias.zero_()
        fc2.weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    x = np.array([[1, -1], [1, -1], [-1, 1], [1, 1]], dtype=np.float32)
    # layer 1 states 10, 10, 01, 11 → 1.5 bits / 2; layer 2 = (relu(x1), relu(x1)): 11, 11, 00, 11
    e2 = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)) / 2
    eff = aiq.efficiency(model, x, accuracy=0.5)
    assert eff.layers == pytest.approx({"body.1": 0.75, "body.3": e2})
    assert eff.network == pytest.approx(math.sqrt(0.75 * e2))
    assert eff.aiq == pytest.approx((0.25 * math.sqrt(0.75 * e2)) ** (1 / 3))


@pytest.mark.parametrize("wb,ab", [(4, 4), pytest.param(8, 8, marks=pytest.mark.slow),
                                   pytest.param(4, 8, marks=pytest.mark.slow)])
def test_direct_costs_equal_the_qonnx_export(wb, ab):
    """footprint(via_qonnx=False), used by scripts/reproduce_seed.py, gives the export path's numbers,
    on a channel-pruned digits-mlp with zeroed rows and weights that round to 0."""
    from toolchain.compress.calibrate import calibrate_activations
    from toolchain.compress.channel_removal import remove_channels
    from toolchain.compress.footprint import footprint
    from toolchain.zoo import with_overrides

    dense = with_overrides(load_recipe("digits-mlp"), weight_bits=wb, act_bits=ab)
    torch.manual_seed(1)
    wide = build_model(dense, quantized=False)
    _, narrow = remove_channels(wide, dense, [torch.arange(64) < 40, torch.arange(32) < 20])
    model = build_model(narrow)
    with torch.no_grad():
        model.body[1].weight[:5] = 0
    calibrate_activations(model, np.random.default_rng(0).uniform(0, 1, (64, 64)).astype(np.float32))
    a, b = footprint(model, narrow, dense, 0.9), footprint(model, narrow, dense, 0.9, via_qonnx=False)
    keys = ("bops_qonnx", "macs", "dense_macs", "float_bops", "weight_mem_bits", "perf_per_mbit", "bops_psqs")
    assert a["macs"] < 40 * 64 + 20 * 40 + 10 * 20  # the zeroed rows are discounted
    assert {k: b[k] for k in keys} == pytest.approx({k: a[k] for k in keys}, rel=1e-12)
