"""Neural efficiency and aIQ (Schaub & Hotaling, "Assessing intelligence in artificial neural networks",
arXiv 2006.02909), as Ps&Qs computes them (Hawks et al. 2021 §2.4; pytorch-jet-classify tools/aiq.py::calc_AiQ
and TensorEfficiency.py):

- a layer's microstate for one input is its binarized output, (x > 0) per neuron, recorded at the output of
  every Linear/Conv layer (at the BatchNorm output when there is one), the classifier included;
- layer efficiency = Shannon entropy (bits) of the microstates' frequencies over the data ÷ the number of
  neurons (the maximum entropy); for a convolution the neurons are the channels and every position is
  one microstate;
- network efficiency η = the geometric mean of the layer efficiencies;
- aIQ = (acc^β · η)^(1/(β+1)), β = 2.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

BETA = 2


def entropy_bits(states: np.ndarray) -> float:
    """Shannon entropy (bits) of the rows of a bool array, each row one microstate."""
    counts = Counter(map(bytes, np.packbits(states, axis=1)))
    p = np.array(list(counts.values()), dtype=np.float64) / len(states)
    return float(-(p * np.log2(p)).sum())


def layer_efficiency(states: np.ndarray) -> float:
    return entropy_bits(states) / states.shape[1]


def network_efficiency(efficiencies: list[float]) -> float:
    if min(efficiencies) <= 0:
        return 0.0
    return math.exp(sum(math.log(e) for e in efficiencies) / len(efficiencies))


def aiq(accuracy: float, efficiency: float, beta: float = BETA) -> float:
    return (accuracy ** beta * efficiency) ** (1.0 / (beta + 1.0))


@dataclass(frozen=True)
class Efficiency:
    layers: dict[str, float]
    network: float
    accuracy: float

    @property
    def aiq(self) -> float:
        return aiq(self.accuracy, self.network)

    def metrics(self) -> dict:
        return {"net_efficiency": self.network, "aiq": self.aiq, "aiq_beta": BETA, "layer_efficiency": self.layers}


def _recorded(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules whose outputs are the layers' microstates: each Linear/Conv, or its BatchNorm."""
    body = list(model.body.named_children())
    out = []
    for i, (name, m) in enumerate(body):
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nxt = body[i + 1][1] if i + 1 < len(body) else None
            norm = isinstance(nxt, nn.modules.batchnorm._BatchNorm)
            out.append((f"body.{body[i + 1][0]}" if norm else f"body.{name}", nxt if norm else m))
    return out


def efficiency(model: nn.Module, x: np.ndarray, accuracy: float, batch: int = 1024) -> Efficiency:
    """Neural efficiency of `model` over the inputs `x`, and aIQ with the given accuracy (a fraction)."""
    layers = _recorded(model)
    states: dict[str, list[np.ndarray]] = {name: [] for name, _ in layers}

    def hook(name):
        def record(module, args, out):
            v = (out.value if hasattr(out, "value") else out).detach()
            if v.dim() > 2:  # channels are the neurons, every position a microstate
                v = v.movedim(1, -1).reshape(-1, v.shape[1])
            states[name].append((v > 0).numpy())
        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in layers]
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch):
                model(torch.from_numpy(x[i:i + batch]))
    finally:
        for h in handles:
            h.remove()
    eff = {name: layer_efficiency(np.concatenate(s)) for name, s in states.items()}
    return Efficiency(eff, network_efficiency(list(eff.values())), accuracy)
