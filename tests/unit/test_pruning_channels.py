"""Channel pruning: the layout of hidden layers, the greedy/one-shot schedules, exact physical removal."""

import numpy as np
import pytest
import torch

from toolchain.compress.calibrate import calibrate_activations
from toolchain.compress.channel_pruning import ChannelGate, PruningSchedule, Windows, prune_channels, train_float
from toolchain.compress.channel_removal import hidden_layers, remove_channels, zero_channels
from toolchain.compress.model import build_model
from toolchain.compress.pruning import ChannelMethod, ChannelSpec
from toolchain.compress.qat import fit, predict
from toolchain.data import Split
from toolchain.zoo import Recipe, load_recipe, with_overrides


def bn_cnn() -> Recipe:
    """conv 8 → maxpool → dense 16 → dense 10 with BatchNorm: a dense consumer after a 3×3 flatten."""
    return Recipe.model_validate({
        "name": "bn-cnn", "dataset": {"name": "digits", "images": True},
        "architecture": {"input_shape": [1, 8, 8], "batchnorm": True,
                         "layers": [{"type": "conv", "channels": 8, "kernel": 3}, {"type": "maxpool", "kernel": 2},
                                    {"type": "dense", "units": 16}, {"type": "dense", "units": 10}]},
        "quant": {"weight_bits": 4, "act_bits": 4}, "training": {"epochs": 1, "batch_size": 32}})


def random_split(shape, n=192, seed=0) -> Split:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, *shape)).astype(np.float32)
    y = rng.integers(0, 10, n)
    return Split(x, y, x[:64], y[:64])


def test_hidden_layer_layout():
    mlp = load_recipe("digits-mlp")
    layout = hidden_layers(build_model(mlp), mlp)
    assert [(h.compute, h.act, h.consumer, h.channels, h.positions) for h in layout] == [(1, 2, 3, 64, 1), (3, 4, 5, 32, 1)]
    cnn = bn_cnn()
    conv, dense = hidden_layers(build_model(cnn), cnn)
    assert (conv.compute, conv.norm, conv.act, conv.consumer, conv.channels, conv.positions) == (1, 2, 3, 6, 8, 9)
    assert (dense.compute, dense.norm, dense.act, dense.consumer, dense.channels, dense.positions) == (6, 7, 8, 9, 16, 1)


def _trained_quant(recipe, split):
    torch.manual_seed(0)
    model = build_model(recipe)
    calibrate_activations(model, split.x_train)
    fit(model, split.x_train, split.y_train, recipe.training, False, epochs=1, progress=False)
    return model


@pytest.mark.parametrize("recipe_fn", [bn_cnn, lambda: with_overrides(load_recipe("digits-cnn"), epochs=1)])
def test_removed_channels_give_exactly_the_masked_outputs(recipe_fn):
    recipe = recipe_fn()
    split = random_split(recipe.architecture.input_shape)
    model = _trained_quant(recipe, split)
    gen = torch.Generator().manual_seed(1)
    keep = [torch.rand(h.channels, generator=gen) > 0.5 for h in hidden_layers(model, recipe)]
    zero_channels(model, recipe, keep)
    narrow, narrow_recipe = remove_channels(model, recipe, keep)
    assert narrow.training == model.training
    x = split.x_train
    wide_out, narrow_out = predict(model, x), predict(narrow, x)
    assert np.array_equal(wide_out, narrow_out)  # bit-identical, not close
    widths = [l for l in narrow_recipe.architecture.layers if l.type != "maxpool"][:-1]
    assert [getattr(l, "channels", None) or l.units for l in widths] == [int(k.sum()) for k in keep]
    # the narrow recipe rebuilds the same model from the state dict (what a checkpoint stores)
    rebuilt = build_model(narrow_recipe)
    rebuilt.load_state_dict(narrow.state_dict())
    assert np.array_equal(predict(rebuilt, x), narrow_out)


def test_batchnorm_statistics_follow_their_channels():
    recipe = bn_cnn()
    split = random_split(recipe.architecture.input_shape)
    model = _trained_quant(recipe, split)
    keep = [torch.tensor([True, False, True, True, False, False, True, True]), torch.arange(16) % 3 != 0]
    narrow, _ = remove_channels(model, recipe, keep)
    for bn, k in ((2, keep[0]), (7, keep[1])):
        for key in ("running_mean", "running_var", "weight", "bias"):
            assert torch.equal(getattr(narrow.body[bn], key), getattr(model.body[bn], key)[k])
    # the dense consumer loses the 3×3 inputs of each removed conv channel, and the rows of its own removed units
    expected = model.body[6].weight.view(16, 8, 9)[keep[1]][:, keep[0]].reshape(int(keep[1].sum()), -1)
    assert torch.equal(narrow.body[6].weight, expected)
    assert torch.equal(narrow.body[9].weight, model.body[9].weight[:, keep[1]])


def test_removing_every_channel_is_refused():
    recipe = load_recipe("digits-mlp")
    model = build_model(recipe, quantized=False)
    from toolchain.errors import UserError

    with pytest.raises(UserError, match="zero channels"):
        remove_channels(model, recipe, [torch.zeros(64, dtype=torch.bool), torch.ones(32, dtype=torch.bool)])


def _drive(method, steps=60):
    gates = [ChannelGate(4) for _ in range(3)]
    scores = [lambda: torch.tensor([4.0, 3.0, 2.0, 1.0])] * 3
    sched = PruningSchedule(gates, scores, ChannelSpec(0.5, method), Windows(start=2, interval=10, refresh=5))
    log = []
    for step in range(1, steps):
        sched.on_step_end(None, step)
        log.append(([g.collect for g in gates], [bool(g.keep.all()) for g in gates]))
    return sched, gates, log


def test_greedy_schedule_scores_one_layer_at_a_time_in_network_order():
    sched, gates, log = _drive(ChannelMethod.GREEDY)
    assert sched.done()
    assert all(sum(c) <= 1 for c, _ in log)  # never two layers collecting at once
    first_collect = [next(i for i, (c, _) in enumerate(log) if c[k]) for k in range(3)]
    frozen = [next(i for i, (_, full) in enumerate(log) if not full[k]) for k in range(3)]
    assert first_collect == sorted(first_collect) and frozen == sorted(frozen)
    assert all(frozen[k] < first_collect[k + 1] for k in range(2))  # layer k masked before layer k+1 is scored
    assert all(g.keep.tolist() == [True, True, False, False] for g in gates)


def test_oneshot_schedule_masks_every_layer_at_once():
    sched, gates, log = _drive(ChannelMethod.ONESHOT)
    assert sched.done()
    frozen = [next(i for i, (_, full) in enumerate(log) if not full[k]) for k in range(3)]
    assert len(set(frozen)) == 1
    assert all(all(c) for c, _ in log[1:frozen[0]])  # all layers scored together on the unpruned net


def test_gate_keeps_the_running_mean_of_activation_magnitude():
    gate = ChannelGate(2)
    gate.collect = True
    relu = torch.nn.ReLU().train()
    for a in ([[1.0, 0.0], [3.0, 0.0]], [[2.0, 4.0], [2.0, 4.0]]):
        gate(relu, None, torch.tensor(a))
    assert torch.allclose(gate.magnitude, torch.tensor([2.0, 2.0]))
    gate.keep = torch.tensor([True, False])
    assert torch.equal(gate(relu, None, torch.ones(3, 2)), torch.tensor([[1.0, 0.0]] * 3))


@pytest.mark.parametrize("method", list(ChannelMethod))
def test_prune_channels_halves_the_hidden_layers(method):
    recipe = with_overrides(load_recipe("digits-mlp"), epochs=2)
    split = random_split((64,), n=256)
    model, narrow, extra = prune_channels(train_float(recipe, split, progress=False), recipe, split,
                                          ChannelSpec(0.5, method, epochs=2, qepochs=1), progress=False)
    assert [l.units for l in narrow.architecture.layers] == [32, 16, 10]
    assert [tuple(m.weight.shape) for m in model.body if hasattr(m, "quant_weight")] == [(32, 64), (16, 32), (10, 16)]
    assert extra["pruning"]["layers"]["body.1"] == {"channels": 32, "of": 64, "pruned": 0.5}
