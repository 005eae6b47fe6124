"""Physical removal of pruned channels: a narrower recipe and a model that computes exactly the masked one.

Pruning channel c of hidden layer k removes output channel c of its Linear/Conv (weight row, bias), of its
BatchNorm (affine parameters and running statistics), and input channel c of the next Linear/Conv (for a
dense layer after a flatten, the H·W inputs that came from channel c). Everything else — in particular the
Brevitas quantizers' state (learned activation scales) — is copied unchanged; per-tensor scales do not
depend on the number of channels.

Exactness for a quantized model: the narrower model computes exactly what the masked model computes when
the masked channels' weights are zero (`zero_channels`): the removed inputs contributed 0, and the
per-tensor weight scales (max-|w| statistics) are unchanged because the removed weights were 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import nn

from toolchain.compress.shapes import input_shapes, width
from toolchain.errors import UserError
from toolchain.zoo import Conv, MaxPool, Recipe


@dataclass(frozen=True)
class HiddenLayer:
    """A prunable hidden layer: where its parts sit in `model.body`."""

    layer: int  # index in recipe.architecture.layers
    compute: int  # body index of its Linear/Conv
    norm: Optional[int]  # body index of its BatchNorm
    act: int  # body index of its activation
    consumer: int  # body index of the next Linear/Conv
    channels: int
    positions: int  # consumer inputs per channel: H·W when the consumer is dense after a flatten, else 1

    @property
    def name(self) -> str:
        return f"body.{self.compute}"


def hidden_layers(model: nn.Module, recipe: Recipe) -> list[HiddenLayer]:
    """Every hidden Linear/Conv layer of a model built by compress/model.py, in network order."""
    body = model.body
    compute = [i for i, m in enumerate(body) if isinstance(m, (nn.Linear, nn.Conv2d))]
    layers = [i for i, l in enumerate(recipe.architecture.layers) if not isinstance(l, MaxPool)]
    if len(compute) != len(layers):
        raise ValueError(f"model has {len(compute)} weight layers, recipe {len(layers)}")
    shapes = input_shapes(recipe)
    found = []
    for k in range(len(compute) - 1):
        i = compute[k]
        norm = i + 1 if isinstance(body[i + 1], nn.modules.batchnorm._BatchNorm) else None
        nxt = recipe.architecture.layers[layers[k + 1]]
        shape = shapes[layers[k + 1]]
        positions = shape[1] * shape[2] if not isinstance(nxt, Conv) and len(shape) == 3 else 1
        found.append(HiddenLayer(layers[k], i, norm, (norm or i) + 1, compute[k + 1],
                                 width(recipe.architecture.layers[layers[k]]), positions))
    return found


def _indices(keep: torch.Tensor, hidden: HiddenLayer) -> torch.Tensor:
    if keep.dtype != torch.bool or keep.shape != (hidden.channels,):
        raise ValueError(f"{hidden.name}: keep mask must be bool of shape ({hidden.channels},)")
    idx = torch.nonzero(keep).flatten()
    if len(idx) == 0:
        raise UserError(f"layer {hidden.layer} ({hidden.name}) would be pruned to zero channels")
    return idx


def _consumer_columns(idx: torch.Tensor, positions: int) -> torch.Tensor:
    return (idx[:, None] * positions + torch.arange(positions)).flatten()


def zero_channels(model: nn.Module, recipe: Recipe, keep: Sequence[torch.Tensor]) -> None:
    """Mask channels in place: zero their producing weights, bias and BatchNorm affine, and the consumer's inputs."""
    body = model.body
    with torch.no_grad():
        for hidden, k in zip(hidden_layers(model, recipe), keep):
            drop = ~k
            producer, consumer = body[hidden.compute], body[hidden.consumer]
            producer.weight[drop] = 0
            if producer.bias is not None:
                producer.bias[drop] = 0
            if hidden.norm is not None:
                body[hidden.norm].weight[drop] = 0
                body[hidden.norm].bias[drop] = 0
            cols = _consumer_columns(torch.nonzero(drop).flatten(), hidden.positions)
            consumer.weight[:, cols] = 0


def narrow_recipe(recipe: Recipe, hidden: Sequence[HiddenLayer], kept: Sequence[int]) -> Recipe:
    """The recipe with each hidden layer's width set to its kept channel count."""
    layers = list(recipe.architecture.layers)
    for h, n in zip(hidden, kept):
        field = "channels" if isinstance(layers[h.layer], Conv) else "units"
        layers[h.layer] = layers[h.layer].model_copy(update={field: n})
    widths = ", ".join(f"{h.channels}→{n}" for h, n in zip(hidden, kept))
    return recipe.model_copy(update={"architecture": recipe.architecture.model_copy(update={"layers": layers}),
                                     "notes": (recipe.notes + "\n" if recipe.notes else "") +
                                     f"channel-pruned: hidden widths {widths}"})


def _slice_state(state: dict, hidden: Sequence[HiddenLayer], idx: Sequence[torch.Tensor]) -> dict:
    rows = {h.compute: i for h, i in zip(hidden, idx)}
    norms = {h.norm: i for h, i in zip(hidden, idx) if h.norm is not None}
    cols = {h.consumer: _consumer_columns(i, h.positions) for h, i in zip(hidden, idx)}
    out = {}
    for key, t in state.items():
        parts = key.split(".")
        pos = int(parts[1]) if len(parts) == 3 and parts[0] == "body" else None
        leaf = parts[-1]
        if pos in rows and leaf in ("weight", "bias"):
            t = t[rows[pos]]
        if pos in cols and leaf == "weight":
            t = t[:, cols[pos]]
        if pos in norms and leaf in ("weight", "bias", "running_mean", "running_var"):
            t = t[norms[pos]]
        out[key] = t.clone()
    return out


def remove_channels(model: nn.Module, recipe: Recipe, keep: Sequence[torch.Tensor]) -> tuple[nn.Module, Recipe]:
    """The narrower model (float or Brevitas, as `model`) without the channels where keep is False."""
    from toolchain.compress.model import build_model

    hidden = hidden_layers(model, recipe)
    if len(keep) != len(hidden):
        raise ValueError(f"{len(keep)} keep masks for {len(hidden)} hidden layers")
    idx = [_indices(k, h) for h, k in zip(hidden, keep)]
    narrow = narrow_recipe(recipe, hidden, [len(i) for i in idx])
    quantized = any(hasattr(m, "quant_weight") for m in model.modules())
    new = build_model(narrow, quantized=quantized)
    result = new.load_state_dict(_slice_state(model.state_dict(), hidden, idx), strict=False)
    missing = [k for k in result.missing_keys if not k.endswith(".value")]  # scales the wide model never set
    if missing or result.unexpected_keys:
        raise ValueError(f"channel removal left state unmatched: {missing[:3]} {result.unexpected_keys[:3]}")
    new.train(model.training)
    return new, narrow


def channel_counts(recipe: Recipe, original: Recipe) -> dict[str, dict[str, int]]:
    """Remaining channels per layer (hidden and output), by recipe layer index."""
    counts = {}
    for i, (now, was) in enumerate(zip(recipe.architecture.layers, original.architecture.layers)):
        if not isinstance(now, MaxPool) and (hasattr(now, "channels") or hasattr(now, "units")):  # pools: none
            counts[f"layer{i}"] = {"channels": width(now), "of": width(was)}
    return counts

