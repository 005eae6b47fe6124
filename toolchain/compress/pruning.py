"""Pruning specs (`hil train --prune`, recipe field `prune`) and the dispatch to the two methods.

    unstructured:S[,scope=global|layerwise][,step=0.1|psqs][,epochs=N][,rewind=true|false][,patience=N][,l1=X]
        quantization-aware pruning (Hawks et al. 2021, "Ps and Qs"): L1-magnitude masks, raised by
        `step` of the original weights per iteration up to S, fine-tuning under QAT in between
        (toolchain/compress/magnitude.py). rewind=true: lottery ticket, rewind to the initial weights.
        step=psqs: the paper's iterations 10 %, 20 %, …, 90 %, 96.7 %, 98.9 % (then S); patience=N: each
        retraining stops early when the held-out loss has not improved for N epochs (best weights kept);
        l1=X: an L1 penalty X·Σ|w| on the weights during every training (the paper: 1e-4).
    channels:S[,method=greedy|oneshot|weight|l1|l0|stepwise|narrow][,epochs=N][,qepochs=N]
        structured channel pruning of every hidden layer (Zhang et al. 2022, the seed paper): greedy
        layerwise activation-magnitude importance (default), or the one-shot / weight-magnitude /
        one-shot weight-L1 / L0 (fraction of non-zero activations) / Zhu–Gupta stepwise ablations; then
        fine-tuning, physical removal and the quantization phase (toolchain/compress/channel_pruning.py).
        `narrow`: the baseline network with S of every hidden layer's channels removed, trained from scratch.

S is the fraction pruned, in [0, 1). `epochs` are the fine-tuning epochs per pruning iteration
(unstructured) or of the float pruning phase (channels); `qepochs` those of the quantization phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional, Union

from toolchain.errors import UserError

SYNTAX = "KIND:SPARSITY[,key=value...] with KIND unstructured or channels (e.g. unstructured:0.8, channels:0.5)"


class Scope(str, Enum):
    GLOBAL = "global"
    LAYERWISE = "layerwise"


class ChannelMethod(str, Enum):
    GREEDY = "greedy"  # the seed paper: layers in network order, each scored with earlier masks frozen
    ONESHOT = "oneshot"  # ablation: every layer scored at once on the unpruned net, masked at the end step
    WEIGHT = "weight"  # ablation: layerwise, channels scored by the L1 norm of their weights
    L1 = "l1"  # ablation: weight-L1 scores, one-shot at the end step
    L0 = "l0"  # ablation: layerwise, channels scored by their fraction of non-zero activations
    STEPWISE = "stepwise"  # ablation: every layer at once, Zhu–Gupta cubic sparsity ramp
    NARROW = "narrow"  # baseline: the narrower network trained from scratch


@dataclass(frozen=True)
class UnstructuredSpec:
    sparsity: float
    scope: Scope = Scope.GLOBAL
    step: float = 0.1  # fraction of the original weights pruned per iteration (Ps&Qs: 10%)
    epochs: Optional[int] = None  # fine-tuning epochs per iteration; None: the recipe's / 4 (all of them if rewinding)
    rewind: bool = False
    psqs: bool = False  # the Ps&Qs iteration points instead of multiples of `step`
    patience: Optional[int] = None  # early stopping of every retraining
    l1: float = 0.0  # L1 penalty on the weights

    def text(self) -> str:
        return f"unstructured:{self.sparsity:g},scope={self.scope.value}," + \
            ("step=psqs" if self.psqs else f"step={self.step:g}") + \
            (f",epochs={self.epochs}" if self.epochs else "") + (",rewind=true" if self.rewind else "") + \
            (f",patience={self.patience}" if self.patience else "") + (f",l1={self.l1:g}" if self.l1 else "")


@dataclass(frozen=True)
class ChannelSpec:
    sparsity: float
    method: ChannelMethod = ChannelMethod.GREEDY
    epochs: Optional[int] = None  # float pruning + fine-tuning phase; None: the recipe's / 2
    qepochs: Optional[int] = None  # quantization phase; None: the recipe's / 2

    def text(self) -> str:
        return f"channels:{self.sparsity:g},method={self.method.value}" + \
            (f",epochs={self.epochs}" if self.epochs else "") + (f",qepochs={self.qepochs}" if self.qepochs else "")


PruneSpec = Union[UnstructuredSpec, ChannelSpec]
_OPTIONS = {"unstructured": ("scope", "step", "epochs", "rewind", "patience", "l1"), "channels": ("method", "epochs", "qepochs")}


def _number(text: str, what: str, kind=float):
    try:
        return kind(text)
    except ValueError:
        raise UserError(f"--prune: {what} must be {'an integer' if kind is int else 'a number'}, got '{text}'") from None


def _choice(enum, text: str, what: str):
    try:
        return enum(text)
    except ValueError:
        raise UserError(f"--prune: unknown {what} '{text}'; known: {', '.join(e.value for e in enum)}") from None


def _sparsity(text: str) -> float:
    s = _number(text, "sparsity")
    if not 0.0 <= s < 1.0:
        raise UserError(f"--prune: sparsity must be in [0, 1), got {text}")
    return s


def _epochs(text: str) -> int:
    n = _number(text, "epochs", int)
    if n < 1:
        raise UserError(f"--prune: epochs must be >= 1, got {text}")
    return n


def parse_prune_spec(text: str) -> PruneSpec:
    """`unstructured:0.8` / `channels:0.5,method=oneshot` → a typed spec, or UserError (exit 2)."""
    kind, sep, rest = text.strip().partition(":")
    if not sep or kind not in _OPTIONS:
        raise UserError(f"--prune '{text}': expected {SYNTAX}")
    head, *pairs = rest.split(",")
    sparsity = _sparsity(head.strip())
    options: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = (p.strip() for p in pair.partition("="))
        if not eq or key not in _OPTIONS[kind]:
            raise UserError(f"--prune '{text}': unknown option '{pair.strip()}' for {kind}; "
                            f"options: {', '.join(o + '=' for o in _OPTIONS[kind])}")
        options[key] = value
    epochs = _epochs(options["epochs"]) if "epochs" in options else None
    if kind == "channels":
        return ChannelSpec(sparsity, _choice(ChannelMethod, options.get("method", "greedy"), "channel-pruning method"),
                           epochs, _epochs(options["qepochs"]) if "qepochs" in options else None)
    psqs = options.get("step") == "psqs"
    step = 0.1 if psqs else _number(options.get("step", "0.1"), "step")
    if not 0.0 < step < 1.0:
        raise UserError(f"--prune: step must be in (0, 1) or psqs, got {step:g}")
    l1 = _number(options.get("l1", "0"), "l1")
    if l1 < 0:
        raise UserError(f"--prune: l1 must be >= 0, got {l1:g}")
    rewind = options.get("rewind", "false").lower()
    if rewind not in ("true", "false"):
        raise UserError(f"--prune: rewind must be true or false, got '{rewind}'")
    return UnstructuredSpec(sparsity, _choice(Scope, options.get("scope", "global"), "pruning scope"), step, epochs,
                            rewind == "true", psqs, _epochs(options["patience"]) if "patience" in options else None, l1)


def pruned_count(sparsity: float, n: int) -> int:
    """How many of n channels (or weights) a sparsity prunes: round half up."""
    return min(n, int(sparsity * n + 0.5))


def check_spec(spec: PruneSpec, recipe) -> None:
    """Refuse, before any training, a spec the recipe cannot take (zero channels, binary weights)."""
    from toolchain.compress.model import layer_bits
    from toolchain.compress.shapes import weight_count, width
    from toolchain.zoo import Conv, Dense

    arch = recipe.architecture
    layers = [(i, l, b) for i, (l, b) in enumerate(zip(arch.layers, layer_bits(recipe))) if b is not None]
    if isinstance(spec, ChannelSpec):
        for i, layer, _ in layers[:-1]:
            n = width(layer)
            if pruned_count(spec.sparsity, n) == n:
                raise UserError(f"--prune {spec.text()}: layer {i} ({layer.type}, {n} channels) would be pruned to "
                                f"zero channels; use a sparsity below {(n - 0.5) / n:.3f}")
        return
    for i, layer, b in layers:
        if b.weight == 1 and spec.sparsity > 0:
            raise UserError(f"--prune {spec.text()}: layer {i} has binary (±1) weights, which cannot be zero; "
                            f"use weight_bits >= 2 (ternary) to prune it")
        if spec.scope is Scope.LAYERWISE and isinstance(layer, (Dense, Conv)):
            n = weight_count(recipe, i)
            if pruned_count(spec.sparsity, n) == n:
                raise UserError(f"--prune {spec.text()}: layer {i} ({n} weights) would be pruned to zero weights")
