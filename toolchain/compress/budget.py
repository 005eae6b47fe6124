"""Resource-aware channel pruning: `hil train RECIPE --budget LUT=20000,BRAM_18K=100 --part Pynq-Z2`.

hls4ml's hardware-aware optimizer (hls4ml/optimization/dsp_aware_pruning/__init__.py,
optimize_keras_model_for_hls4ml; the masks in keras/masking.py, __get_masks_global; the solver in
knapsack.py, solve_knapsack) is a knapsack: every structure (a neuron, a filter) is an item whose value
is its weight norm, normalized by the largest in its layer, and whose weight is the resources it costs;
the kept structures maximize the total value under the resource budget. Same here, on our IR and in
PyTorch, for the channels of every hidden layer:

- the cost of a channel of hidden layer h is the design's marginal cost per channel: the estimate of
  the design with h narrowed by half its channels, subtracted from the full design's, per channel
  removed. The estimate is `hil estimate` of the lowered untrained design (a CostFn handed in by the
  orchestration layer, toolchain/sweep/costing.py), i.e. the ops' own cost methods (hw/ops/*.py
  finn_resources / calibrated_resources): the producer's rows, the consumer's columns, thresholds,
  stream widths, FIFOs and the folding SetFolding picks for the narrower layer, all included;
- the value of a channel is the L1 norm of its incoming weights in the trained model over the largest
  in its layer (hls4ml's `l1` ranking, global masking);
- channels of one layer cost the same, so the knapsack keeps the k_h most valuable channels of each
  layer; (k_h) is found exactly by enumeration (small nets) or greedily (hls4ml's greedy solver: value
  per budget-normalized cost), with at least one channel per layer;
- the linear model is an approximation (folding and BRAM come in steps): the chosen design is estimated
  again, and while it exceeds the budget the knapsack's capacity is lowered by the excess and solved again.

Then the channels are removed physically (channel_removal.remove_channels), the narrower quantized model
is fine-tuned (half the recipe's epochs at the pruning phase's learning rate, channel_pruning.FINE_TUNE_LR:
removing channels of a trained model is a large step, as masking them is in the float pruning phase)
and metrics.json gets the estimate before and after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from toolchain.errors import UserError

RESOURCES = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")  # hw/cost/resources.py KEYS (estimate's "total")
EXACT_LIMIT = 200_000  # width combinations enumerated exactly; more: greedy
TIGHTEN_ROUNDS = 6
CostFn = Callable[[object], dict]  # recipe -> estimate "total" {LUT, FF, DSP, BRAM_18K, URAM} (None: not estimated)


class BudgetUnreachable(UserError):
    """No channel widths meet the budget (a sweep prunes such a point before training)."""


@dataclass(frozen=True)
class Budget:
    limits: dict[str, float]  # resource -> the most the design may use

    def text(self) -> str:
        return ",".join(f"{k}={v:g}" for k, v in self.limits.items())


def parse_budget(text: str) -> Budget:
    """`LUT=20000,BRAM_18K=100` -> Budget; UserError (exit 2) names what is wrong."""
    limits: dict[str, float] = {}
    for part in (text or "").split(","):
        key, eq, value = (p.strip() for p in part.partition("="))
        if not eq or not key:
            raise UserError(f"--budget '{text}': expected RESOURCE=LIMIT[,RESOURCE=LIMIT...] with RESOURCE one of "
                            f"{', '.join(RESOURCES)} (e.g. LUT=20000,BRAM_18K=100)")
        name = {r.lower(): r for r in RESOURCES}.get(key.lower())
        if name is None:
            raise UserError(f"--budget: unknown resource '{key}'; known: {', '.join(RESOURCES)}")
        if name in limits:
            raise UserError(f"--budget: {name} is given twice")
        try:
            limit = float(value)
        except ValueError:
            raise UserError(f"--budget: {name} must be a number, got '{value}'") from None
        if not math.isfinite(limit) or limit <= 0:
            raise UserError(f"--budget: {name} must be a positive number, got '{value}'")
        limits[name] = limit
    return Budget(limits)


@dataclass(frozen=True)
class LayerCost:
    layer: int  # index in recipe.architecture.layers
    channels: int
    per_channel: dict[str, float]  # marginal cost of one channel, per budgeted resource


@dataclass
class ChannelCosts:
    full: dict[str, float]  # the dense design's estimate
    fixed: dict[str, float]  # what the linear model charges with zero channels everywhere
    layers: list[LayerCost] = field(default_factory=list)

    def predict(self, kept: list[int]) -> dict[str, float]:
        return {r: self.fixed[r] + sum(l.per_channel[r] * k for l, k in zip(self.layers, kept)) for r in self.fixed}


def _widths(recipe) -> list[tuple[int, int]]:
    """(layer index, width) of every hidden dense/conv layer (the classifier keeps its classes)."""
    from toolchain.compress.shapes import width
    from toolchain.zoo import Conv, Dense

    compute = [(i, l) for i, l in enumerate(recipe.architecture.layers) if isinstance(l, (Dense, Conv))]
    return [(i, width(l)) for i, l in compute[:-1]]


def with_widths(recipe, widths: dict[int, int]):
    from toolchain.zoo import Conv

    layers = list(recipe.architecture.layers)
    for i, n in widths.items():
        layers[i] = layers[i].model_copy(update={"channels" if isinstance(layers[i], Conv) else "units": n})
    return recipe.model_copy(update={"architecture": recipe.architecture.model_copy(update={"layers": layers})})


def _total(cost: CostFn, recipe, budget: Budget) -> dict[str, float]:
    total = cost(recipe)
    missing = [r for r in budget.limits if total.get(r) is None]
    if missing:
        raise UserError(f"--budget: the cost model does not estimate {', '.join(missing)}; budget other resources "
                        f"(or use the calibrated cost model, which estimates FF)")
    return {r: float(total[r]) for r in budget.limits}


def channel_costs(recipe, cost: CostFn, budget: Budget) -> ChannelCosts:
    """The marginal cost per channel of every hidden layer, from the estimates of narrowed designs."""
    full = _total(cost, recipe, budget)
    layers = []
    for index, n in _widths(recipe):
        removed = max(1, n // 2) if n > 1 else 0
        if removed == 0:
            layers.append(LayerCost(index, n, {r: 0.0 for r in budget.limits}))
            continue
        narrow = _total(cost, with_widths(recipe, {index: n - removed}), budget)
        # a narrower layer can fold differently and cost more somewhere: the per-channel cost is >= 0
        layers.append(LayerCost(index, n, {r: max(0.0, (full[r] - narrow[r]) / removed) for r in budget.limits}))
    fixed = {r: full[r] - sum(l.per_channel[r] * l.channels for l in layers) for r in budget.limits}
    return ChannelCosts(full=full, fixed=fixed, layers=layers)


def solve(values: list[np.ndarray], costs: ChannelCosts, capacity: dict[str, float]) -> Optional[list[int]]:
    """Channels kept per layer (>= 1 each): the most total value whose predicted cost fits `capacity`;
    None when even one channel per layer does not. `values[h]` sorted from the most valuable down."""
    prefix = [np.concatenate([[0.0], np.cumsum(v)]) for v in values]
    sizes = [l.channels for l in costs.layers]
    if not sizes:
        return [] if all(costs.fixed[r] <= capacity[r] for r in capacity) else None
    if math.prod(sizes) <= EXACT_LIMIT:
        grids = np.meshgrid(*[np.arange(1, n + 1) for n in sizes], indexing="ij")
        kept = [g.ravel() for g in grids]
        ok = np.ones(kept[0].shape, dtype=bool)
        for r, cap in capacity.items():
            use = costs.fixed[r] + sum(l.per_channel[r] * k for l, k in zip(costs.layers, kept))
            ok &= use <= cap + 1e-9
        if not ok.any():
            return None
        score = sum(p[k] for p, k in zip(prefix, kept))
        score = np.where(ok, score, -np.inf)
        best = int(np.argmax(score))  # ties: the first, i.e. the fewest channels in the early layers
        return [int(k[best]) for k in kept]
    return _greedy(values, costs, capacity)


def _greedy(values: list[np.ndarray], costs: ChannelCosts, capacity: dict[str, float]) -> Optional[list[int]]:
    """Start from every channel; drop the channel with the least value per budget-normalized cost saved
    (hls4ml's greedy knapsack, run from the other end) until the prediction fits."""
    kept = [l.channels for l in costs.layers]
    scale = {r: max(cap, 1e-9) for r, cap in capacity.items()}
    while True:
        use = costs.predict(kept)
        over = [r for r in capacity if use[r] > capacity[r] + 1e-9]
        if not over:
            return kept
        best, best_ratio = None, math.inf
        for h, l in enumerate(costs.layers):
            saving = sum(l.per_channel[r] / scale[r] for r in over)
            if kept[h] > 1 and saving > 0:
                ratio = values[h][kept[h] - 1] / saving
                if ratio < best_ratio:
                    best, best_ratio = h, ratio
        if best is None:
            return None
        kept[best] -= 1


def channel_values(model, recipe) -> list[np.ndarray]:
    """Per hidden layer: the L1 norm of each channel's incoming weights over the layer's largest."""
    import torch

    from toolchain.compress.channel_removal import hidden_layers

    out = []
    with torch.no_grad():
        for h in hidden_layers(model, recipe):
            norm = model.body[h.compute].weight.detach().abs().flatten(1).sum(1).numpy().astype(np.float64)
            out.append(norm / norm.max() if norm.max() > 0 else np.ones_like(norm))
    return out


@dataclass
class BudgetPlan:
    """What `hil train --budget` needs: the budget, the design it is measured on, and the cost oracle."""
    budget: Budget
    part: str
    target_fps: Optional[float]
    clock_ns: float
    cost: CostFn
    costs: Optional[ChannelCosts] = None

    def check(self, recipe) -> ChannelCosts:
        """Before any training: the marginal costs, and a budget no width can meet refused (exit 2)."""
        self.costs = channel_costs(recipe, self.cost, self.budget)
        uniform = [np.ones(l.channels) for l in self.costs.layers]
        if solve(uniform, self.costs, self.budget.limits) is None:
            least = self.costs.predict([1] * len(self.costs.layers))
            raise BudgetUnreachable(f"--budget {self.budget.text()}: even one channel per hidden layer needs about "
                            + ", ".join(f"{r} {least[r]:.0f}" for r in self.budget.limits) + f" on {self.part}")
        return self.costs

    def describe(self) -> dict:
        return {"limits": dict(self.budget.limits), "part": self.part, "target_fps": self.target_fps,
                "clock_ns": self.clock_ns}


def choose_widths(plan: BudgetPlan, recipe, values: list[np.ndarray]) -> tuple[list[int], dict, dict, int]:
    """(kept per layer, the chosen design's estimate (every resource), its prediction, rounds): the
    knapsack, re-estimated and tightened by the excess until the estimate fits (or the rounds run
    out: reported as not fitting)."""
    costs = plan.costs or plan.check(recipe)
    capacity = dict(plan.budget.limits)
    order = [np.sort(v)[::-1] for v in values]
    for rounds in range(1, TIGHTEN_ROUNDS + 1):
        kept = solve(order, costs, capacity)
        if kept is None:
            raise BudgetUnreachable(f"--budget {plan.budget.text()}: no channel widths meet it on {plan.part} "
                            f"(the linear cost model was tightened {rounds - 1} times)")
        chosen = with_widths(recipe, {l.layer: k for l, k in zip(costs.layers, kept)})
        after = _total(plan.cost, chosen, plan.budget)
        excess = {r: after[r] - plan.budget.limits[r] for r in capacity if after[r] > plan.budget.limits[r]}
        if not excess:
            break
        capacity = {r: capacity[r] - excess.get(r, 0.0) for r in capacity}
    return kept, dict(plan.cost(chosen)), costs.predict(kept), rounds


def prune_to_budget(model, recipe, split, plan: BudgetPlan, progress: bool = True):
    """A trained quantized model -> (the narrower fine-tuned model, its recipe, metrics["budget"])."""
    import torch

    from toolchain.compress.channel_pruning import FINE_TUNE_LR
    from toolchain.compress.channel_removal import hidden_layers, remove_channels
    from toolchain.compress.qat import evaluate, fit

    bip = recipe.architecture.bipolar_output
    before_accuracy = evaluate(model, split.x_test, split.y_test, bip)
    values = channel_values(model, recipe)
    kept, after, predicted, rounds = choose_widths(plan, recipe, values)
    keep = []
    for v, k in zip(values, kept):
        mask = torch.zeros(len(v), dtype=torch.bool)
        mask[torch.from_numpy(np.argsort(-v, kind="stable")[:k].copy())] = True
        keep.append(mask)
    hidden = hidden_layers(model, recipe)
    narrow_model, narrow = remove_channels(model, recipe, keep)
    tr = narrow.training
    epochs = max(1, tr.epochs // 2)
    fit(narrow_model, split.x_train, split.y_train, tr, bip, epochs=epochs, lr=tr.lr * FINE_TUNE_LR,
        description=f"fine-tuning {narrow.name} (budget {plan.budget.text()})", progress=progress)
    costs = plan.costs
    info = {**plan.describe(), "before": dict(plan.cost(recipe)), "after": after, "predicted": predicted,
            "fits": all(after[r] <= lim for r, lim in plan.budget.limits.items()), "rounds": rounds,
            "accuracy_before": before_accuracy, "fine_tune_epochs": epochs,
            "layers": {h.name: {"channels": k, "of": h.channels,
                                "cost_per_channel": dict(l.per_channel)}
                       for h, k, l in zip(hidden, kept, costs.layers)}}
    return narrow_model, narrow, {"budget": info}
