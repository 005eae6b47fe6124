"""Unstructured QAP masks: the Ps&Qs schedule, exact counts, nesting, exact zeros under QAT, rewinding."""

import numpy as np
import pytest
import torch

from toolchain.compress.magnitude import (WeightMasks, initial_weights, prune_unstructured, rewind, schedule,
                                          weight_layers)
from toolchain.compress.model import build_model
from toolchain.compress.pruning import Scope, UnstructuredSpec
from toolchain.compress.qat import fit
from toolchain.data import Split
from toolchain.zoo import load_recipe, with_overrides


def test_schedule_prunes_ten_percent_of_the_original_weights_per_step():
    assert schedule(0.8, 0.1) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    assert schedule(0.95, 0.1)[-2:] == pytest.approx([0.9, 0.95])
    assert schedule(0.05, 0.1) == [0.05]
    assert schedule(0.0, 0.1) == []


@pytest.fixture
def small():
    recipe = with_overrides(load_recipe("digits-mlp"), epochs=1)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (256, 64)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    torch.manual_seed(0)
    return recipe, build_model(recipe), Split(x, y, x[:64], y[:64])


def _integer_weights(module):
    qw = module.quant_weight()
    return (qw.value / qw.scale).detach()


def test_global_masks_are_exact_nested_and_global(small):
    recipe, model, _ = small
    masks = WeightMasks(weight_layers(model))
    total = sum(m.weight.numel() for _, m in masks.layers)
    masks.prune_to(0.3, Scope.GLOBAL)
    first = {n: m.clone() for n, m in masks.masks.items()}
    assert sum(int((~m).sum()) for m in first.values()) == round(0.3 * total)
    masks.prune_to(0.6, Scope.GLOBAL)
    assert sum(int((~m).sum()) for m in masks.masks.values()) == round(0.6 * total)
    for name, mask in masks.masks.items():
        assert not (mask & ~first[name]).any()  # nothing pruned comes back
    fractions = masks.pruned_fractions()
    assert len(set(round(f, 3) for f in fractions.values())) > 1  # global: layers end up unequal


def test_layerwise_masks_prune_each_layer_equally(small):
    _, model, _ = small
    masks = WeightMasks(weight_layers(model))
    masks.prune_to(0.5, Scope.LAYERWISE)
    for name, module in masks.layers:
        assert int((~masks.masks[name]).sum()) == module.weight.numel() // 2


def test_pruned_weights_stay_exactly_zero_through_qat(small):
    recipe, model, split = small
    masks = WeightMasks(weight_layers(model))
    masks.prune_to(0.7, Scope.GLOBAL)
    fit(model, split.x_train, split.y_train, recipe.training, False, callbacks=[masks], epochs=2, progress=False)
    for name, module in masks.layers:
        mask = masks.masks[name]
        assert torch.all(module.weight[~mask] == 0)
        assert torch.all(_integer_weights(module)[~mask] == 0)  # the quantized weight is exactly 0
        assert module.weight[mask].abs().min() > 0  # the survivors were trained, not zeroed


def test_rewinding_resets_survivors_to_their_initial_values(small):
    recipe, model, split = small
    initial = initial_weights(model)
    assert not any("quant" in k for k in initial)  # learned quantizer scales are not rewound
    masks = WeightMasks(weight_layers(model))
    fit(model, split.x_train, split.y_train, recipe.training, False, epochs=1, progress=False)
    masks.prune_to(0.4, Scope.GLOBAL)
    rewind(model, initial, masks)
    for name, module in masks.layers:
        mask = masks.masks[name]
        assert torch.equal(module.weight[mask], initial[f"{name}.weight"][mask])
        assert torch.all(module.weight[~mask] == 0)


def test_lottery_ticket_run_keeps_its_masks(small):
    recipe, model, split = small
    model, extra = prune_unstructured(model, recipe, split, UnstructuredSpec(0.3, step=0.15, epochs=1, rewind=True),
                                      progress=False)
    assert extra["pruning"]["schedule"] == pytest.approx([0.15, 0.3])
    total = sum(m.weight.numel() for _, m in weight_layers(model))
    assert sum(int((m.weight == 0).sum()) for _, m in weight_layers(model)) >= round(0.3 * total)


def test_unstructured_metrics_report_pruned_fraction_per_layer(small):
    recipe, model, split = small
    model, extra = prune_unstructured(model, recipe, split, UnstructuredSpec(0.5, step=0.25, epochs=1),
                                      progress=False)
    layers = extra["pruning"]["layers"]
    assert set(layers) == {n for n, _ in weight_layers(model)}
    total = sum(m.weight.numel() for _, m in weight_layers(model))
    pruned = sum(layers[n]["pruned"] * m.weight.numel() for n, m in weight_layers(model))
    assert pruned == pytest.approx(0.5 * total, abs=1)
    zeros = sum(int((m.weight == 0).sum()) for _, m in weight_layers(model))
    assert zeros >= 0.5 * total - 1
