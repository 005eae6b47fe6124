"""Structured channel pruning by the seed paper's method (Zhang, Colbert, Das 2022; docs/compression.md §1).

Pipeline, as in the authors' code (mlzxy/mdpi2022):
1. a dense float model, trained (the paper starts from a dense pretrained checkpoint);
2. the float pruning phase: the activation channels of every hidden layer are masked by a forward hook;
   - greedy (the paper): layers in network order; layer k collects the running mean of |activation| per
     channel (`magnitude ← (t·magnitude + mean|x|)/(t+1)`, batch and spatial dims averaged) and refreshes
     its mask only in its own window [start_k, start_k + interval], start_{k+1} = start_k + interval + 1;
     the mask then freezes, so later layers are scored on activations that carry the earlier masks;
   - l0 (the `*_bern` configs): the greedy schedule, channels scored by their fraction of non-zero
     activations (`x = (x != 0)` before the running mean; APoZ-like);
   - oneshot (ablation `*_nly`): every layer scored on the unpruned net and masked at once, at the END
     step of the layerwise schedule (the step greedy freezes its last layer), so both arms get the same
     fine-tuning after their final mask;
   - weight (ablation `w*_mag`): the greedy schedule, channels scored by the L1 norm of their weights;
   - l1: weight-L1 scores, one-shot at the same end step;
   - stepwise (the `*_zg` configs): every layer at once, activation-magnitude scores, the sparsity raised
     along Zhu & Gupta's cubic schedule s(t) = S·(1 − (1 − t/T)³) (arXiv 1710.01878, Eq. 1) at every
     refresh, reaching S at the same end step T; masks are nested (a masked channel is never revived);
   - narrow (`baseline_half/quarter`): no pruning, the narrower network trained from scratch;
   the channels below the sparsity quantile are masked; training (fine-tuning) goes on throughout;
3. the masked channels are removed physically (channel_removal.py): a narrower recipe;
4. the quantization phase: the narrower Brevitas model, initialized from the float weights, activation
   ranges calibrated (calibrate.py), then QAT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from toolchain.compress.calibrate import calibrate_activations, load_float_weights
from toolchain.compress.channel_removal import HiddenLayer, hidden_layers, remove_channels
from toolchain.compress.magnitude import keep_largest
from toolchain.compress.pruning import ChannelMethod, ChannelSpec, pruned_count

FINE_TUNE_LR = 0.2  # float pruning phase, relative to the recipe's learning rate
# quantization phase, relative to the recipe's rate: 1/5 of the pruning phase's, as the reference
# (mdpi2022 configs: LR 0.02 for pruning, 0.004 for the quantization phase, docs/compression.md §1.1)
QUANT_LR = FINE_TUNE_LR / 5


class ChannelGate:
    """Forward hook on a hidden activation: per-channel running mean of |activation|, and the channel mask."""

    def __init__(self, channels: int, nonzero: bool = False):
        self.keep = torch.ones(channels, dtype=torch.bool)
        self.magnitude = torch.zeros(channels)
        self.collect, self.steps = False, 0
        self.nonzero = nonzero  # L0: score the fraction of non-zero activations instead of their magnitude

    def __call__(self, module: nn.Module, args, output: torch.Tensor) -> torch.Tensor:
        if self.collect and module.training:
            a = (output.detach() != 0).to(output.dtype) if self.nonzero else output.detach().abs()
            m = a.mean(dim=[d for d in range(a.dim()) if d != 1])
            self.magnitude = (self.steps * self.magnitude + m) / (self.steps + 1)
            self.steps += 1
        if self.keep.all():
            return output
        return output * self.keep.view(1, -1, *([1] * (output.dim() - 2))).to(output.dtype)

    def mask(self, scores: torch.Tensor, sparsity: float, nested: bool = False) -> None:
        if nested:  # already-masked channels score below every live one, so they stay masked
            scores = torch.where(self.keep, scores, torch.tensor(-1.0))
        self.keep = keep_largest(scores, pruned_count(sparsity, len(scores)))


@dataclass(frozen=True)
class Windows:
    start: int  # first step of the first window
    interval: int  # steps per window
    refresh: int  # mask refresh period inside a window

    @classmethod
    def for_data(cls, steps_per_epoch: int) -> "Windows":
        """Half an epoch of plain fine-tuning, then one epoch per layer, five refreshes per window."""
        interval = max(5, steps_per_epoch)
        return cls(start=steps_per_epoch // 2, interval=interval, refresh=max(1, interval // 5))

    def steps_needed(self, layers: int) -> int:
        return self.start + layers * (self.interval + 1)

    def end(self, layers: int) -> int:
        """Offset from `start` of the step at which the layerwise schedule freezes its last layer."""
        return layers * (self.interval + 1) - 1


AT_ONCE = (ChannelMethod.ONESHOT, ChannelMethod.L1)  # every layer masked once, at the end step


def zhu_gupta(target: float, t: int, total: int) -> float:
    """Zhu & Gupta's gradual schedule (arXiv 1710.01878, Eq. 1) from 0 at t = 0 to `target` at t = total."""
    return target * (1.0 - (1.0 - min(t, total) / total) ** 3)


class PruningSchedule:
    """TrainCallback driving the gates: greedy/weight layer by layer, or oneshot all at once."""

    def __init__(self, gates: list[ChannelGate], scores: list[Callable[[], torch.Tensor]], spec: ChannelSpec,
                 windows: Windows):
        self.gates, self.scores, self.spec, self.w = gates, scores, spec, windows
        self.frozen = 0

    def on_epoch_end(self, model: nn.Module, epoch: int) -> None:
        pass

    def on_step_end(self, model: nn.Module, step: int) -> None:
        t = step - self.w.start
        if t < 0 or self.frozen == len(self.gates):
            return
        end = self.w.end(len(self.gates))
        if self.spec.method in AT_ONCE or self.spec.method is ChannelMethod.STEPWISE:
            for gate in self.gates:
                gate.collect = t < end
            stepwise = self.spec.method is ChannelMethod.STEPWISE
            if t == end or (stepwise and t > 0 and t % self.w.refresh == 0):
                s = zhu_gupta(self.spec.sparsity, t, end) if stepwise else self.spec.sparsity
                for gate, score in zip(self.gates, self.scores):
                    gate.mask(score(), s, nested=stepwise)
            if t == end:
                self.frozen = len(self.gates)
            return
        k, offset = divmod(t, self.w.interval + 1)
        gate = self.gates[k]
        gate.collect = offset < self.w.interval
        if offset > 0 and (offset % self.w.refresh == 0 or offset == self.w.interval):
            gate.mask(self.scores[k](), self.spec.sparsity)
        if offset == self.w.interval:
            self.frozen = k + 1

    def done(self) -> bool:
        return self.frozen == len(self.gates)


def _scorers(model: nn.Module, hidden: list[HiddenLayer], gates: list[ChannelGate], method: ChannelMethod):
    if method in (ChannelMethod.WEIGHT, ChannelMethod.L1):
        return [lambda h=h: model.body[h.compute].weight.detach().abs().flatten(1).sum(1) for h in hidden]
    return [lambda g=g: g.magnitude.clone() for g in gates]


def train_float(recipe, split, progress: bool = True) -> nn.Module:
    """The dense float32 model of the recipe, trained with the recipe's schedule and seed."""
    import numpy as np

    from toolchain.compress.model import build_model
    from toolchain.compress.qat import fit

    torch.manual_seed(recipe.training.seed)
    np.random.seed(recipe.training.seed)
    model = build_model(recipe, quantized=False)
    fit(model, split.x_train, split.y_train, recipe.training, recipe.architecture.bipolar_output,
        description=f"float32 {recipe.name}", progress=progress)
    return model


def mask_float(model: nn.Module, recipe, split, spec: ChannelSpec, progress: bool = True) -> list[torch.Tensor]:
    """Phase 2 on a trained float `model` (in place): the pruning schedule with fine-tuning → keep masks."""
    from toolchain.compress.qat import fit

    tr = recipe.training
    hidden = hidden_layers(model, recipe)
    gates = [ChannelGate(h.channels, nonzero=spec.method is ChannelMethod.L0) for h in hidden]
    handles = [model.body[h.act].register_forward_hook(g) for h, g in zip(hidden, gates)]
    steps_per_epoch = math.ceil(len(split.x_train) / tr.batch_size)
    windows = Windows.for_data(steps_per_epoch)
    # every arm runs the layerwise schedule's length, so every arm's last mask comes at the same step
    epochs = max(spec.epochs or tr.epochs // 2, math.ceil(windows.steps_needed(len(hidden)) / steps_per_epoch))
    schedule = PruningSchedule(gates, _scorers(model, hidden, gates, spec.method), spec, windows)
    try:
        fit(model, split.x_train, split.y_train, tr, recipe.architecture.bipolar_output, callbacks=[schedule],
            epochs=epochs, lr=tr.lr * FINE_TUNE_LR, description=f"channel pruning {spec.method.value}",
            progress=progress)
    finally:
        for handle in handles:
            handle.remove()
    assert schedule.done(), "the pruning windows did not fit in the fine-tuning phase"
    return [g.keep for g in gates]


def quantize_narrow(float_model: nn.Module, narrow, split, spec: ChannelSpec, progress: bool = True) -> nn.Module:
    """Phase 4: the narrower recipe's Brevitas model from the float weights, calibrated, then QAT."""
    from toolchain.compress.model import build_model
    from toolchain.compress.qat import fit

    tr = narrow.training
    qmodel = build_model(narrow)
    load_float_weights(qmodel, float_model)
    calibrate_activations(qmodel, split.x_train)
    fit(qmodel, split.x_train, split.y_train, tr, narrow.architecture.bipolar_output,
        epochs=spec.qepochs or max(1, tr.epochs // 2), lr=tr.lr * QUANT_LR,
        description=f"QAT {narrow.name} (pruned)", progress=progress)
    return qmodel


def narrow_keep(model: nn.Module, recipe, sparsity: float) -> list[torch.Tensor]:
    """The `narrow` baseline's layout: the first channels of every hidden layer, as many as pruning keeps."""
    return [torch.arange(h.channels) < h.channels - pruned_count(sparsity, h.channels)
            for h in hidden_layers(model, recipe)]


def train_narrow(recipe, split, spec: ChannelSpec, progress: bool = True):
    """The `narrow` baseline (the reference's baseline_half/quarter): the narrower float network trained
    from scratch with the recipe's schedule and seed → (float model, its recipe, keep masks)."""
    from toolchain.compress.model import build_model

    wide = build_model(recipe, quantized=False)
    keep = narrow_keep(wide, recipe, spec.sparsity)
    _, narrow = remove_channels(wide, recipe, keep)
    return train_float(narrow, split, progress), narrow, keep


def prune_channels(float_model: nn.Module, recipe, split, spec: ChannelSpec, progress: bool = True):
    """A trained float model → (narrower quantized model, its recipe, metrics). `float_model` is modified
    (`narrow` ignores it and trains the narrower network from scratch)."""
    from toolchain.compress.qat import evaluate

    if spec.method is ChannelMethod.NARROW:
        narrow_float, narrow, keep = train_narrow(recipe, split, spec, progress)
    else:
        keep = mask_float(float_model, recipe, split, spec, progress)
        narrow_float, narrow = remove_channels(float_model, recipe, keep)
    bip = recipe.architecture.bipolar_output
    qmodel = quantize_narrow(narrow_float, narrow, split, spec, progress)
    hidden = hidden_layers(float_model, recipe)
    extra = {"pruning": {"kind": "channels", "spec": spec.text(),
                         "float_pruned_accuracy": evaluate(narrow_float, split.x_test, split.y_test, bip),
                         "layers": {h.name: {"channels": int(k.sum()), "of": h.channels, "pruned": 1 - float(k.float().mean())}
                                    for h, k in zip(hidden, keep)}}}
    return qmodel, narrow, extra
