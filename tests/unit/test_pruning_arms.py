"""The two bias fixes and the added arms: quantization-phase LR, one-shot end step, l0/l1/stepwise/narrow,
the Ps&Qs schedule, early stopping and the L1 penalty."""

import numpy as np
import pytest
import torch

from toolchain.compress import channel_pruning as cp
from toolchain.compress.channel_pruning import ChannelGate, PruningSchedule, Windows, zhu_gupta
from toolchain.compress.magnitude import psqs_points, schedule
from toolchain.compress.pruning import ChannelMethod, ChannelSpec, parse_prune_spec
from toolchain.data import load_dataset
from toolchain.zoo import load_recipe, with_overrides


def digits(epochs=1):
    recipe = with_overrides(load_recipe("digits-mlp"), epochs=epochs)
    return recipe, load_dataset(recipe)


def _drive(method, steps=60, sparsity=0.5):
    gates = [ChannelGate(4) for _ in range(3)]
    scores = [lambda: torch.tensor([4.0, 3.0, 2.0, 1.0])] * 3
    sched = PruningSchedule(gates, scores, ChannelSpec(sparsity, method), Windows(start=2, interval=10, refresh=5))
    masked_at = [None] * 3
    kept, frozen_at = [], None
    for step in range(1, steps):
        sched.on_step_end(None, step)
        if frozen_at is None and sched.done():
            frozen_at = step
        kept.append([int(g.keep.sum()) for g in gates])
        for k, g in enumerate(gates):
            if masked_at[k] is None and not g.keep.all():
                masked_at[k] = step
    sched.frozen_at = frozen_at
    return sched, gates, masked_at, kept


def test_quantization_phase_runs_at_a_fifth_of_the_pruning_rate(monkeypatch):
    from toolchain.compress import qat

    recipe, split = digits()
    calls = []
    real_fit = qat.fit

    def recording_fit(*args, **kwargs):
        calls.append((kwargs.get("description"), kwargs.get("lr")))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(qat, "fit", recording_fit)
    float_model = cp.train_float(recipe, split, progress=False)
    cp.prune_channels(float_model, recipe, split, ChannelSpec(0.5, epochs=1, qepochs=1), progress=False)
    lrs = {d.split()[0]: lr for d, lr in calls if lr is not None}
    assert lrs["channel"] == pytest.approx(recipe.training.lr * 0.2)
    assert lrs["QAT"] == pytest.approx(lrs["channel"] / 5)  # 0.004 after 0.02 in the reference


@pytest.mark.parametrize("method", [ChannelMethod.ONESHOT, ChannelMethod.L1])
def test_oneshot_masks_at_the_end_step_of_the_layerwise_schedule(method):
    greedy, _, _, _ = _drive(ChannelMethod.GREEDY)
    sched, gates, at, _ = _drive(method)
    assert sched.done()
    assert greedy.frozen_at == 2 + 3 * 11 - 1  # start + 3 windows of interval + 1, last step of the last window
    assert at == [greedy.frozen_at] * 3  # every layer at the step greedy freezes its last layer, not earlier


def test_stepwise_follows_the_zhu_gupta_ramp_to_the_end_step():
    assert zhu_gupta(0.5, 0, 32) == 0.0
    assert zhu_gupta(0.5, 16, 32) == pytest.approx(0.5 * (1 - 0.5 ** 3))
    assert zhu_gupta(0.5, 32, 32) == 0.5
    sched, gates, at, kept = _drive(ChannelMethod.STEPWISE, sparsity=0.75)
    assert sched.done()
    per_step = [k[0] for k in kept]
    assert per_step == sorted(per_step, reverse=True)  # the sparsity only rises (masks nested)
    assert len(set(per_step)) == 4  # 4 → 3 → 2 → 1 channels: gradual, not one jump
    end = 2 + 3 * 11 - 1
    # kept[i] is after step i + 1: the first refresh (start + 5) masks S·(1 − (27/32)³) ≈ 0.30 → 1 of 4
    assert kept[5] == [4, 4, 4] and kept[6] == [3, 3, 3]
    assert kept[end - 1] == [1, 1, 1] and sched.frozen_at == end  # S at the end step, then frozen
    assert all(g.keep.tolist() == [True, False, False, False] for g in gates)


def test_l0_gate_scores_the_fraction_of_nonzero_activations():
    gate = ChannelGate(3, nonzero=True)
    gate.collect = True
    relu = torch.nn.ReLU().train()
    gate(relu, None, torch.tensor([[5.0, 0.0, 0.1], [0.0, 0.0, 0.2]]))
    gate(relu, None, torch.tensor([[7.0, 1.0, 0.3], [9.0, 0.0, 0.4]]))
    assert torch.allclose(gate.magnitude, torch.tensor([0.75, 0.25, 1.0]))  # magnitude would rank channel 2 last


@pytest.mark.parametrize("method", ["l0", "l1", "stepwise", "oneshot", "weight"])
def test_each_arm_prunes_digits_in_one_epoch(method):
    recipe, split = digits()
    float_model = cp.train_float(recipe, split, progress=False)
    spec = parse_prune_spec(f"channels:0.5,method={method},epochs=1,qepochs=1")
    model, narrow, extra = cp.prune_channels(float_model, recipe, split, spec, progress=False)
    assert [l.units for l in narrow.architecture.layers] == [32, 16, 10]
    assert extra["pruning"]["spec"] == f"channels:0.5,method={method},epochs=1,qepochs=1"
    from toolchain.compress.qat import evaluate

    assert evaluate(model, split.x_test, split.y_test, False) > 0.5  # it still classifies digits


def test_narrow_baseline_trains_the_narrower_net_from_scratch():
    recipe, split = digits()
    float_model = cp.train_float(recipe, split, progress=False)
    before = {k: v.clone() for k, v in float_model.state_dict().items()}
    spec = parse_prune_spec("channels:0.75,method=narrow,qepochs=1")
    model, narrow, extra = cp.prune_channels(float_model, recipe, split, spec, progress=False)
    assert [l.units for l in narrow.architecture.layers] == [16, 8, 10]  # a quarter of the width
    assert all(torch.equal(v, float_model.state_dict()[k]) for k, v in before.items())  # the dense net is unused
    # from scratch: the narrow float weights are those of training the narrow recipe with the same seed
    ref, _, _ = cp.train_narrow(recipe, split, spec, progress=False)
    again, _, _ = cp.train_narrow(recipe, split, spec, progress=False)
    assert torch.equal(ref.body[1].weight, again.body[1].weight)
    assert not torch.equal(ref.body[1].weight, float_model.body[1].weight[:16, :])


def test_psqs_schedule_reaches_98_9_percent():
    assert psqs_points() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1 - 1 / 30, 1 - 1 / 90])
    assert schedule(0.989, 0.1, psqs=True)[-2:] == pytest.approx([1 - 1 / 30, 0.989])
    assert len(schedule(0.989, 0.1, psqs=True)) == 11
    spec = parse_prune_spec("unstructured:0.989,step=psqs,patience=3,l1=1e-4")
    assert (spec.psqs, spec.patience, spec.l1) == (True, 3, 1e-4)
    assert parse_prune_spec(spec.text()) == spec


def test_early_stopping_stops_and_restores_the_best_weights():
    from toolchain.compress.model import build_model
    from toolchain.compress.qat import EarlyStopping, fit, loss_fn

    recipe, split = digits()
    torch.manual_seed(0)
    model = build_model(recipe, quantized=False)
    x, y = split.x_train, split.y_train
    # validation labels shifted by one: training on the true labels makes the held-out loss worse
    stop = EarlyStopping(x[:200], (y[:200] + 1) % 10, patience=2)
    fit(model, x, y, recipe.training, False, epochs=20, stop=stop, progress=False)
    assert stop.history[0] < 20
    with torch.no_grad():
        val = float(loss_fn(model.logits(torch.from_numpy(x[:200])), torch.from_numpy((y[:200] + 1) % 10), False))
    assert val == pytest.approx(stop.best)  # the best epoch's weights are back


def test_l1_penalty_shrinks_the_weights():
    from toolchain.compress.model import build_model
    from toolchain.compress.qat import fit, l1_penalty

    recipe, split = digits()
    norms = []
    for l1 in (0.0, 1e-3):
        torch.manual_seed(0)
        model = build_model(recipe, quantized=False)
        fit(model, split.x_train, split.y_train, recipe.training, False, epochs=2, l1=l1, progress=False)
        norms.append(float(l1_penalty(model)))
    assert norms[1] < 0.8 * norms[0]
