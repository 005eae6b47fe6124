"""Network blocks that are not a plain chain of layers (issue 15), built from the same layer factory
as compress/model.py (`make`: Brevitas layers with the project's quantizers, or float32 twins).

* residual (zoo.Residual): the basic block of He et al. 2016, "Deep Residual Learning" Fig. 2 --
  conv k×k → act → conv k×k, plus the shortcut (identity, or a 1×1 projection conv when the channel
  count changes, their option B), joined by an add, then the activation. Both add inputs pass ONE
  shared signed quantizer (one Brevitas QuantIdentity called twice, so one learned power-of-two
  scale): the join then adds two integer streams on the same scale, which the lowering turns into
  DuplicateStreams at the fork and AddStreams at the join (toolchain/passes/residual.py), bit-exact.
* dwsep (zoo.DepthwiseSeparable): MobileNet's block (Howard et al. 2017 Fig. 3) -- a depthwise conv
  (groups = channels) → act → a pointwise 1×1 conv → act; lowered to SWG(depthwise) + VVAU + MVAU.
* globalavgpool (zoo.GlobalAvgPool): the average over the image, as ONNX GlobalAveragePool on the
  float tensor, then an activation quantizer for the classifier; exact because H·W is a power of two
  (toolchain/passes/pooling.py).
* conv1d (zoo.Conv1d): a 1×k convolution of a (C, 1, T) signal, then the activation; lowered to the
  1-D sliding window (SWG1D) + MVAU.
* upsample (zoo.Upsample): nearest-neighbour upsampling (ONNX Resize; Brevitas passes the QuantTensor
  through), lowered to an Upsample node (toolchain/passes/upsample.py).
"""

from __future__ import annotations

import torch
from torch import nn

from toolchain.zoo import Conv1d, DepthwiseSeparable, GlobalAvgPool, InputKind, Recipe, Residual, Upsample

BLOCKS = (Residual, DepthwiseSeparable, GlobalAvgPool, Conv1d, Upsample)


def is_block(layer) -> bool:
    return isinstance(layer, BLOCKS)


def join_bits(act_bits: int) -> int:
    """Width of the shared join quantizer: signed, one bit more than the activations (the conv
    branch is signed), at most 8."""
    return min(act_bits + 1, 8)


class ResidualBlock(nn.Module):
    def __init__(self, make, c_in: int, layer: Residual, bits, activation):
        super().__init__()
        k, pad = layer.kernel, layer.kernel // 2
        self.conv1 = make.conv(c_in, layer.channels, k, bits.weight, True, padding=pad)
        self.act1 = make.act(activation, bits.act)
        self.conv2 = make.conv(layer.channels, layer.channels, k, bits.weight, True, padding=pad)
        self.shortcut = None if c_in == layer.channels else make.conv(c_in, layer.channels, 1, bits.weight, True)
        self.join = make.input(InputKind.INT, join_bits(bits.act))  # shared by both inputs of the add
        self.act2 = make.act(activation, bits.act)

    def forward(self, x):
        y = self.join(self.conv2(self.act1(self.conv1(x))))
        s = self.join(x if self.shortcut is None else self.shortcut(x))
        return self.act2(y + s)


class DepthwiseSeparableBlock(nn.Module):
    def __init__(self, make, c_in: int, layer: DepthwiseSeparable, bits, activation):
        super().__init__()
        self.depthwise = make.conv(c_in, c_in, layer.kernel, bits.weight, True, padding=layer.padding, groups=c_in)
        self.act1 = make.act(activation, bits.act)
        self.pointwise = make.conv(c_in, layer.channels, 1, bits.weight, True)
        self.act2 = make.act(activation, bits.act)

    def forward(self, x):
        return self.act2(self.pointwise(self.act1(self.depthwise(x))))


class GlobalAvgPoolBlock(nn.Module):
    """The average over the image (ONNX GlobalAveragePool), then the activation quantizer (the
    averages are >= 0 after ReLU activations, so its ReLU changes nothing): the classifier reads a
    quantized tensor, as Brevitas' QuantLinear needs."""

    def __init__(self, make, bits, activation):
        super().__init__()
        self.act = make.act(activation, bits.act)

    def forward(self, x):
        x = x.value if hasattr(x, "value") else x  # a QuantTensor's values: the pool is float
        return self.act(torch.nn.functional.adaptive_avg_pool2d(x, 1))


class Conv1dBlock(nn.Module):
    def __init__(self, make, c_in: int, layer: Conv1d, bits, activation):
        super().__init__()
        self.conv = make.conv(c_in, layer.channels, (1, layer.kernel), bits.weight, True)
        self.act = make.act(activation, bits.act)

    def forward(self, x):
        return self.act(self.conv(x))


def block_output_shape(layer, shape) -> tuple[int, ...]:
    """Output shape (C, H, W) of a block whose input has `shape`."""
    if isinstance(layer, Residual):
        return (layer.channels, shape[1], shape[2])
    if isinstance(layer, DepthwiseSeparable):
        grow = 2 * layer.padding - layer.kernel + 1
        return (layer.channels, shape[1] + grow, shape[2] + grow)
    if isinstance(layer, GlobalAvgPool):
        return (shape[0], 1, 1)
    if isinstance(layer, Conv1d):
        return (layer.channels, shape[1], shape[2] - layer.kernel + 1)
    if isinstance(layer, Upsample):
        return (shape[0], shape[1] * layer.scale, shape[2] * layer.scale)
    raise TypeError(f"not a block: {layer!r}")


def build_block(make, layer, bits, shape: list[int], activation) -> tuple[nn.Module, list[int]]:
    """(module, output shape) of a block whose input has `shape`."""
    if isinstance(layer, Residual):
        module = ResidualBlock(make, shape[0], layer, bits, activation)
    elif isinstance(layer, DepthwiseSeparable):
        module = DepthwiseSeparableBlock(make, shape[0], layer, bits, activation)
    elif isinstance(layer, GlobalAvgPool):
        module = GlobalAvgPoolBlock(make, bits, activation)
    elif isinstance(layer, Conv1d):
        module = Conv1dBlock(make, shape[0], layer, bits, activation)
    elif isinstance(layer, Upsample):
        module = nn.Upsample(scale_factor=layer.scale, mode="nearest")
    else:
        raise TypeError(f"not a block: {layer!r}")
    return module, list(block_output_shape(layer, shape))


def weighted_modules(layer, c_in: int) -> int:
    """How many weighted (Linear/Conv) modules the block holds, in module order."""
    if isinstance(layer, Residual):
        return 2 if c_in == layer.channels else 3
    if isinstance(layer, DepthwiseSeparable):
        return 2
    if isinstance(layer, GlobalAvgPool):
        return 0
    if isinstance(layer, Conv1d):
        return 1
    if isinstance(layer, Upsample):
        return 0
    raise TypeError(f"not a block: {layer!r}")


def block_layer_bits(recipe: Recipe, per_layer: list) -> list:
    """compress/model.py layer_bits for a recipe with blocks: a block's bits once per weighted module
    it holds (the order of model.modules()), so per-module statistics line up."""
    out, channels = [], recipe.architecture.input_shape[0]
    for layer, b in zip(recipe.architecture.layers, per_layer):
        if is_block(layer):
            out += [b] * weighted_modules(layer, channels)
        else:
            out.append(b)
        channels = getattr(layer, "channels", channels)
    return out
