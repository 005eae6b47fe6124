"""Resource-aware channel pruning (`hil train --budget`, toolchain/compress/budget.py): the budget
syntax, the knapsack against brute force, the marginal cost per channel from the real estimate, and
the whole command on digits-mlp (QAT, knapsack, removal, fine-tuning, estimate before and after)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from toolchain.compress.budget import (Budget, BudgetPlan, BudgetUnreachable, ChannelCosts, LayerCost, channel_costs,
                                       choose_widths, parse_budget, solve, with_widths)
from toolchain.errors import UserError


def test_budget_syntax():
    assert parse_budget("LUT=20000,bram_18k=100").limits == {"LUT": 20000.0, "BRAM_18K": 100.0}
    for text, words in [("LUTS=5", "unknown resource 'LUTS'"), ("LUT=-5", "positive"), ("LUT=0", "positive"),
                        ("LUT=nan", "positive"), ("LUT=inf", "positive"), ("LUT=many", "number"),
                        ("LUT=1,LUT=2", "twice"), ("LUT", "RESOURCE=LIMIT"), ("", "RESOURCE=LIMIT")]:
        with pytest.raises(UserError, match=words):
            parse_budget(text)


def _brute(values, costs, capacity):
    best, arg = -1.0, None
    for kept in itertools.product(*[range(1, l.channels + 1) for l in costs.layers]):
        use = costs.predict(list(kept))
        if all(use[r] <= capacity[r] + 1e-9 for r in capacity):
            score = sum(v[:k].sum() for v, k in zip(values, kept))
            if score > best + 1e-12:
                best, arg = score, list(kept)
    return best, arg


def test_knapsack_is_exact_and_the_greedy_fits():
    from toolchain.compress import budget

    rng = np.random.default_rng(0)
    for _ in range(20):
        sizes = rng.integers(2, 9, size=3)
        costs = ChannelCosts(full={}, fixed={"LUT": 50.0, "BRAM_18K": 1.0},
                             layers=[LayerCost(i, int(n), {"LUT": float(rng.uniform(1, 20)),
                                                           "BRAM_18K": float(rng.uniform(0, 0.5))})
                                     for i, n in enumerate(sizes)])
        values = [np.sort(rng.uniform(0, 1, n))[::-1] for n in sizes]
        capacity = {"LUT": float(rng.uniform(60, 300)), "BRAM_18K": float(rng.uniform(1.5, 6))}
        best, arg = _brute(values, costs, capacity)
        kept = solve(values, costs, capacity)
        if arg is None:
            assert kept is None
            continue
        assert sum(v[:k].sum() for v, k in zip(values, kept)) == pytest.approx(best)
        greedy = budget._greedy(values, costs, capacity)
        use = costs.predict(greedy)
        assert all(use[r] <= capacity[r] + 1e-9 for r in capacity) and min(greedy) >= 1


@pytest.fixture(scope="module")
def cost():
    """The estimate of digits-mlp designs on Pynq-Z2 at 1e5 frames/s (memoized across the tests)."""
    from toolchain.sweep.costing import resource_cost

    return resource_cost(part="Pynq-Z2", target_fps=1e5, clock_ns=10.0)


def test_marginal_costs_come_from_the_estimate_and_the_chosen_design_fits(cost):
    """digits-mlp (64-32-10): the per-channel cost is the estimate's own difference; the widths chosen
    for a budget between the smallest and the dense design meet it when estimated again; a budget
    below one channel per layer is refused before any training."""
    from toolchain.zoo import load_recipe

    recipe = load_recipe("digits-mlp")
    budget = Budget({"LUT": 1300.0})
    costs = channel_costs(recipe, cost, budget)
    full, narrow0 = cost(recipe)["LUT"], cost(with_widths(recipe, {0: 32}))["LUT"]
    assert costs.full["LUT"] == full > 1300
    assert [l.channels for l in costs.layers] == [64, 32]
    assert costs.layers[0].per_channel["LUT"] == pytest.approx((full - narrow0) / 32) and narrow0 < full
    plan = BudgetPlan(budget, "Pynq-Z2", 1e5, 10.0, cost)
    kept, after, predicted, _ = choose_widths(plan, recipe, [np.ones(64), np.ones(32)])
    assert after["LUT"] <= 1300 and kept != [64, 32]
    assert after == cost(with_widths(recipe, {0: kept[0], 1: kept[1]}))
    with pytest.raises(BudgetUnreachable, match="one channel per hidden layer"):
        BudgetPlan(Budget({"LUT": 100.0}), "Pynq-Z2", 1e5, 10.0, cost).check(recipe)


def test_train_with_a_budget_reports_the_estimate_before_and_after(tmp_path, cost):
    """`hil train digits-mlp --budget LUT=1300 --part Pynq-Z2 --target-fps 1e5` (in process, 1 epoch):
    the run folder holds the narrower model, which exports and lowers bit-exact, and whose trained
    design meets the budget."""
    import jsonschema

    from toolchain.estimate import estimate
    from toolchain.export import export_run
    from toolchain.lower import lower_file
    from toolchain.onnxio import load_model
    from toolchain.schemas import schema
    from toolchain.train import train_recipe

    out = tmp_path / "run"
    plan = BudgetPlan(parse_budget("LUT=1300"), "Pynq-Z2", 1e5, 10.0, cost)
    metrics = train_recipe("digits-mlp", out, epochs=1, float_baseline=False, budget=plan)
    jsonschema.validate(json.loads(json.dumps(metrics)), schema("train"))
    b = metrics["budget"]
    assert b["before"]["LUT"] > 1300 >= b["after"]["LUT"] and b["fits"] is True
    layers = list(b["layers"].values())
    assert [l["of"] for l in layers] == [64, 32] and any(l["channels"] < l["of"] for l in layers)
    assert all(l["cost_per_channel"]["LUT"] > 0 for l in layers)
    assert metrics["accuracy"] > 0.3  # fine-tuned after the removal (10 classes: chance is 0.1)
    assert json.loads((out / "metrics.json").read_text())["budget"] == b
    export_run(str(out), tmp_path / "m.onnx", samples=100)
    lower_file(tmp_path / "m.onnx", tmp_path / "d.onnx", samples=100, target_fps=1e5, clock_ns=10.0, part="Pynq-Z2")
    trained = estimate(load_model(tmp_path / "d.onnx"), part="Pynq-Z2", clock_ns=10.0)["total"]["LUT"]
    # `after` is the chosen widths' design with untrained weights; the trained weights' accumulator
    # widths move the estimate by a few LUT, and the design still meets the budget
    assert trained <= 1300 and abs(trained - b["after"]["LUT"]) <= 0.02 * b["after"]["LUT"]


def test_budget_options_are_checked_before_training():
    from toolchain.cli import _budget_plan

    for args, words in [(("LUT=20000", None), "--part"), (("LUT=20000", "NoSuchBoard"), "NoSuchBoard"),
                        (("GATES=5", "Pynq-Z2"), "GATES"), (("LUT=-1", "Pynq-Z2"), "positive")]:
        with pytest.raises(UserError, match=words):
            _budget_plan(*args, None, 10.0, "finn", 0)
    with pytest.raises(UserError, match="go with --budget"):
        _budget_plan(None, "Pynq-Z2", None, 10.0, "finn", 0)
    with pytest.raises(UserError, match="finn or calibrated"):
        _budget_plan("LUT=5", "Pynq-Z2", None, 10.0, "synth", 0)
