"""The papers' own cost definitions, next to qonnx's (footprint.py):

- `bops_psqs`: Ps&Qs's BOPs (Hawks et al. 2021; pytorch-jet-classify tools/param_count.py::calc_BOPS,
  after Fahim et al. 2021 Eq. 1), summed over the Linear/Conv layers:
      m·n·(p·b_a·b_w + b_a + b_w + log2 n)
  m outputs, n inputs per output (fan-in), p the fraction of weights and biases that are non-zero,
  b_w the weight bits, b_a the bits of the layer's input: 32 for the first layer (the paper's default
  `input_data_precision=32`), then the activation bits of the previous layer. A float model is 32/32.
  For a convolution, m counts every output (channels × positions) and n = c_in·k·k. Unlike qonnx's
  Σ MAC·b_a·b_w, the accumulation terms (b_a + b_w + log2 n) are charged for pruned weights too.
- `feature_map_elems`: the seed paper's feature-map count N_f: every layer's output, summed per sample,
  as torchinfo's "total output" counts it (the output of every leaf module of the float network:
  Linear/Conv, BatchNorm, ReLU, pooling, flatten), docs/compression.md §1.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


def forward_with_hooks(model: nn.Module, input_shape, modules, hook) -> None:
    """One forward pass of a single zero sample through `model` with `hook(module, args, output)`
    registered on each of `modules` (removed afterwards): how the footprint and BOPs metrics read
    every layer's output size, as torchinfo does."""
    handles = [m.register_forward_hook(hook) for m in modules]
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()


FIRST_INPUT_BITS = 32  # Ps&Qs: calc_BOPS(model, input_data_precision=32)


@dataclass(frozen=True)
class LayerCost:
    m: int  # outputs
    n: int  # fan-in
    p: float  # fraction of non-zero weights and biases
    b_a: int
    b_w: int

    @property
    def bops(self) -> float:
        return self.m * self.n * (self.p * self.b_a * self.b_w + self.b_a + self.b_w + math.log2(self.n))


def _nonzero_fraction(module: nn.Module) -> float:
    """Non-zero weights and biases on the integer grid for a Brevitas layer (a weight that rounds to 0
    costs nothing), the float values otherwise."""
    if hasattr(module, "quant_weight"):
        with torch.no_grad():
            qw = module.quant_weight()
            w = (qw.value / qw.scale).round()
    else:
        w = module.weight.detach()
    nz, total = int((w != 0).sum()), w.numel()
    if module.bias is not None:
        nz, total = nz + int((module.bias.detach() != 0).sum()), total + module.bias.numel()
    return nz / total


def layer_costs(model: nn.Module, recipe, quantized: bool = True) -> list[LayerCost]:
    """One LayerCost per Linear/Conv of `model` (built from `recipe`), in network order."""
    from toolchain.compress.model import layer_bits

    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    bits = [b for b in layer_bits(recipe) if b is not None]
    outputs: dict[int, int] = {}
    forward_with_hooks(model, recipe.architecture.input_shape, layers, lambda mod, a, out: outputs.__setitem__(
        id(mod), int((out.value if hasattr(out, "value") else out)[0].numel())))
    costs, b_a = [], FIRST_INPUT_BITS
    for module, b in zip(layers, bits):
        n = module.in_features if isinstance(module, nn.Linear) else \
            module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        b_w = b.weight if quantized else 32
        costs.append(LayerCost(outputs[id(module)], n, _nonzero_fraction(module), b_a, b_w))
        b_a = b.act if quantized else 32
    return costs


def bops_psqs(model: nn.Module, recipe, quantized: bool = True) -> float:
    return sum(c.bops for c in layer_costs(model, recipe, quantized))


def float_bops_psqs(recipe) -> float:
    """The float 32-bit dense reference of the recipe under the Ps&Qs definition (p = 1)."""
    from toolchain.compress.model import build_model

    model = build_model(recipe, quantized=False)
    return sum(LayerCost(c.m, c.n, 1.0, 32, 32).bops for c in layer_costs(model, recipe, quantized=False))


def feature_map_elems(recipe) -> int:
    """Σ over the leaf modules of the recipe's float network of their output elements, per sample."""
    from toolchain.compress.model import build_model

    model = build_model(recipe, quantized=False)
    total = []
    # nn.Identity stands in for the input quantizer: not a layer of the network
    leaves = [m for m in model.modules() if not list(m.children()) and not isinstance(m, nn.Identity)
              and type(m).__name__ != "PixelPreprocess"]
    forward_with_hooks(model, recipe.architecture.input_shape, leaves,
                       lambda mod, a, out: total.append(int(out[0].numel())))
    return sum(total)
