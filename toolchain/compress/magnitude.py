"""Unstructured quantization-aware pruning (QAP): Hawks et al. 2021, "Ps and Qs" (docs/compression.md §2).

Brevitas QAT from scratch (the dense first iteration), then an iterative schedule: each iteration prunes
about `step` of the *original* weights more (10%, 20%, … as in pytorch-jet-classify's `iter_prune.py`),
by L1 magnitude of the float weights, globally over every layer or per layer, and fine-tunes under QAT.
Masks are nested: a pruned weight is never revived. With `rewind`, the survivors are reset to their
initial values before each retraining (lottery ticket, the paper's "LT").

A mask zeroes the float weight and is re-applied after every optimizer step, so the weight the model
computes with — and the one exported to QONNX — is exactly 0 (round(0 / s) = 0 for any scale s).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from toolchain.compress.pruning import Scope, UnstructuredSpec, pruned_count
from toolchain.errors import UserError

PointCallback = Callable[[float, nn.Module], None]


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every layer with a weight matrix (Brevitas or float), in network order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


# Ps&Qs's iterations prune these fractions of the REMAINING weights (pytorch-jet-classify iter_prune.py;
# paper_plots/plot_megascript.py::prunevals): cumulative 10 %, 20 %, …, 90 %, then 96.7 % and 98.9 %
PSQS_FRACTIONS = (1 / 10, 1 / 9, 1 / 8, 1 / 7, 1 / 6, 1 / 5, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 2 / 3)


def psqs_points() -> list[float]:
    remaining, points = 1.0, []
    for f in PSQS_FRACTIONS:
        remaining *= 1.0 - f
        points.append(round(1.0 - remaining, 9))
    return points


def schedule(target: float, step: float, psqs: bool = False) -> list[float]:
    """The cumulative sparsities of the iterations: step, 2·step, … (or the Ps&Qs points), then `target`
    itself (a point within 0.1 pp of the target is replaced by it)."""
    if psqs:
        return [p for p in psqs_points() if p < target - 1e-3] + ([target] if target > 0 else [])
    points, k = [], 1
    while k * step < target - 1e-9:
        points.append(round(k * step, 9))
        k += 1
    return points + ([target] if target > 0 else [])


def keep_largest(scores: torch.Tensor, n_prune: int) -> torch.Tensor:
    """A bool mask that drops the n_prune smallest scores (ties: the earlier index goes first)."""
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    keep[torch.argsort(scores.flatten(), stable=True)[:n_prune]] = False
    return keep.view_as(scores)


class WeightMasks:
    """Per-layer bool masks; a TrainCallback that keeps masked weights at exactly zero."""

    def __init__(self, layers: list[tuple[str, nn.Module]]):
        self.layers = layers
        self.masks = {n: torch.ones_like(m.weight, dtype=torch.bool) for n, m in layers}

    def apply(self) -> None:
        with torch.no_grad():
            for name, module in self.layers:
                module.weight.mul_(self.masks[name])

    def on_step_end(self, model: nn.Module, step: int) -> None:
        self.apply()

    def on_epoch_end(self, model: nn.Module, epoch: int) -> None:
        pass

    def _scores(self, module: nn.Module, name: str) -> torch.Tensor:
        # already-pruned weights score -1, below every |w|, so masks stay nested
        return torch.where(self.masks[name], module.weight.detach().abs(), torch.tensor(-1.0))

    def prune_to(self, sparsity: float, scope: Scope) -> None:
        """Raise the masks to `sparsity` of the weights (of all layers, or of each layer)."""
        if scope is Scope.LAYERWISE:
            for name, module in self.layers:
                self.masks[name] = keep_largest(self._scores(module, name), pruned_count(sparsity, module.weight.numel()))
        else:
            scores = [self._scores(m, n) for n, m in self.layers]
            flat = torch.cat([s.flatten() for s in scores])
            keep = keep_largest(flat, pruned_count(sparsity, flat.numel()))
            for (name, _), part in zip(self.layers, torch.split(keep, [s.numel() for s in scores])):
                self.masks[name] = part.view_as(self.masks[name])
        for name, mask in self.masks.items():
            if not mask.any():
                raise UserError(f"pruning to {sparsity:g} removes every weight of layer {name}; "
                                f"use a lower sparsity or scope=layerwise")
        self.apply()

    def pruned_fractions(self) -> dict[str, float]:
        return {n: float(1.0 - m.float().mean()) for n, m in self.masks.items()}


def initial_weights(model: nn.Module) -> dict:
    """The state a lottery-ticket rewind returns to: weights, biases, BatchNorm (not the quantizer scales)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "quant" not in k}


def rewind(model: nn.Module, initial: dict, masks: WeightMasks) -> None:
    """Reset the surviving weights to `initial` (pruned ones stay 0); learned quantizer scales are kept."""
    result = model.load_state_dict(initial, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys
    masks.apply()


def iteration_schedule(spec: UnstructuredSpec, training) -> tuple[int, float]:
    """(epochs, learning rate) of each retraining: a quarter of the recipe's epochs at a fifth of its rate
    (fine-tuning), or the full schedule after a lottery-ticket rewind."""
    if spec.rewind:
        return spec.epochs or training.epochs, training.lr
    return spec.epochs or max(1, training.epochs // 4), training.lr * FINE_TUNE_LR


def prune_unstructured(model: nn.Module, recipe, split, spec: UnstructuredSpec,
                       on_point: Optional[PointCallback] = None, progress: bool = True) -> tuple[nn.Module, dict]:
    """QAT of a calibrated Brevitas `model`, then the iterative pruning schedule up to spec.sparsity.

    `on_point(sparsity, model)` is called after the dense training and after each iteration.
    """
    from toolchain.compress.qat import fit

    bip, tr = recipe.architecture.bipolar_output, recipe.training
    x, y = split.x_train, split.y_train
    initial = initial_weights(model) if spec.rewind else None
    fit(model, x, y, tr, bip, l1=spec.l1, description=f"QAT {recipe.name} (dense)", progress=progress)
    if on_point:
        on_point(0.0, model)
    masks = WeightMasks(weight_layers(model))
    epochs, lr = iteration_schedule(spec, tr)
    points = schedule(spec.sparsity, spec.step, spec.psqs)
    stop = None
    if spec.patience:  # Ps&Qs: early stopping on a held-out tenth of the training set
        from toolchain.compress.qat import EarlyStopping, hold_out

        x, y, x_val, y_val = hold_out(x, y, seed=tr.seed)
        stop = EarlyStopping(x_val, y_val, spec.patience)
    for s in points:
        masks.prune_to(s, spec.scope)
        if initial is not None:
            rewind(model, initial, masks)
        fit(model, x, y, tr, bip, callbacks=[masks], epochs=epochs, lr=lr, l1=spec.l1, stop=stop,
            description=f"QAP {recipe.name} {s:.0%}", progress=progress)
        if on_point:
            on_point(s, model)
    extra = {"pruning": {"kind": "unstructured", "spec": spec.text(), "schedule": points,
                         "epochs_per_iteration": epochs,
                         "epochs_run": stop.history if stop else [epochs] * len(points),
                         "layers": {n: {"pruned": f} for n, f in masks.pruned_fractions().items()}}}
    return model, extra


FINE_TUNE_LR = 0.2  # fine-tuning learning rate, relative to the recipe's
