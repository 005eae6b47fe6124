"""Build a recipe's network: Brevitas QAT layers, or plain float32 layers for the baseline.

The quantizers follow the bit-exact recipe (docs/hls4ml.md §5): power-of-two per-tensor scales,
zero-point 0, round-half-even, integer biases on the accumulator grid (Int32Bias). Binary weights and
activations use Brevitas' bipolar quantizers (BipolarQuant in QONNX); 2-bit weights are narrow-range,
i.e. ternary {-s, 0, s}.

A recipe with `input_kind: uint8` reads raw pixels 0..255 and preprocesses them in its forward as
brevitas_examples/bnn_pynq FC.py / CNV.py (with FINN's ToTensor ÷255 in front): x/255, then 2x-1,
then its input quantizer (bipolar for input_bits 1, else signed input_bits, Q1.7 for 8 bits as CNV).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from toolchain.compress.blocks import block_layer_bits, build_block, is_block
from toolchain.zoo import Activation, Conv, Dense, InputKind, MaxPool, Recipe


@dataclass(frozen=True)
class LayerBits:
    weight: int
    act: int


def layer_bits(recipe: Recipe) -> list[Optional[LayerBits]]:
    """Per layer (None for pooling): the recipe default unless the layer overrides it. A block
    (compress/blocks.py) counts once per weighted module it holds, in module order."""
    per_layer = _per_layer_bits(recipe)
    if any(is_block(l) for l in recipe.architecture.layers):
        return block_layer_bits(recipe, per_layer)
    return per_layer


def _per_layer_bits(recipe: Recipe) -> list[Optional[LayerBits]]:
    q = recipe.quant
    return [None if isinstance(l, MaxPool) or not hasattr(l, "act_bits") else
            LayerBits(getattr(l, "weight_bits", None) or q.weight_bits, l.act_bits or q.act_bits)
            for l in recipe.architecture.layers]


class QuantNet(nn.Module):
    """features → classifier logits → optional output quantizer (bipolar for binary classifiers)."""

    def __init__(self, body: nn.Sequential, head: Optional[nn.Module]):
        super().__init__()
        self.body = body
        self.head = head

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out.value if hasattr(out, "value") else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.head is not None:
            out = self.head(out)
        return out.value if hasattr(out, "value") else out


def _quantizers():
    from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int32Bias,
                                SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst,
                                Uint8ActPerTensorFixedPoint)

    class BipolarWeight(SignedBinaryWeightPerTensorConst):
        scaling_const = 1.0  # Brevitas' default 0.1 is not a power of two: products would not be exact

    return dict(int_act=Int8ActPerTensorFixedPoint, uint_act=Uint8ActPerTensorFixedPoint,
                weight=Int8WeightPerTensorFixedPoint, bias=Int32Bias,
                bin_act=SignedBinaryActPerTensorConst, bin_weight=BipolarWeight)


class PixelPreprocess(nn.Module):
    """Pixels 0..255 -> [-1, 1]: x/255 (FINN's ToTensor, finn/util/pytorch.py) then 2x-1 (bnn_pynq
    FC.forward / CNV.forward). Float32 ops that the ONNX export reproduces exactly (Div, Mul, Sub)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / 255.0
        return 2.0 * x - 1.0


def _input_quantizer_kind(kind: InputKind, bits: int) -> InputKind:
    """The quantizer behind the pixels of a uint8 input: bipolar for 1 bit, else signed integer."""
    if kind is InputKind.UINT8:
        return InputKind.BIPOLAR if bits == 1 else InputKind.INT
    return kind


class _QuantLayers:
    """Factory of Brevitas layers with the project's quantizers."""

    def __init__(self):
        import brevitas.nn as qnn

        self.qnn, self.q = qnn, _quantizers()

    def weight_kwargs(self, bits: int, bias: bool) -> dict:
        kw = dict(weight_quant=self.q["bin_weight"]) if bits == 1 else \
            dict(weight_quant=self.q["weight"], weight_bit_width=bits)
        if bias:
            kw["bias_quant"] = self.q["bias"]
        return dict(kw, return_quant_tensor=True)

    def dense(self, n_in: int, n_out: int, bits: int, bias: bool) -> nn.Module:
        return self.qnn.QuantLinear(n_in, n_out, bias=bias, **self.weight_kwargs(bits, bias))

    def conv(self, c_in: int, c_out: int, k: int, bits: int, bias: bool, padding: int = 0, groups: int = 1) -> nn.Module:
        return self.qnn.QuantConv2d(c_in, c_out, k, bias=bias, padding=padding, groups=groups,
                                    **self.weight_kwargs(bits, bias))

    def act(self, kind: Activation, bits: int) -> nn.Module:
        if kind is Activation.SIGN:
            return self.qnn.QuantIdentity(act_quant=self.q["bin_act"], return_quant_tensor=True)
        return self.qnn.QuantReLU(act_quant=self.q["uint_act"], bit_width=bits, return_quant_tensor=True)

    def input(self, kind: InputKind, bits: int) -> nn.Module:
        if _input_quantizer_kind(kind, bits) is InputKind.BIPOLAR:
            return self.qnn.QuantIdentity(act_quant=self.q["bin_act"], return_quant_tensor=True)
        return self.qnn.QuantIdentity(act_quant=self.q["int_act"], bit_width=bits, return_quant_tensor=True)

    def pool(self, k: int) -> nn.Module:
        return nn.MaxPool2d(k)  # Brevitas passes QuantTensors through max-pooling unchanged

    def bipolar_out(self) -> nn.Module:
        return self.qnn.QuantIdentity(act_quant=self.q["bin_act"], return_quant_tensor=False)


class _FloatLayers:
    """The same topology in float32 (the baseline)."""

    def dense(self, n_in, n_out, bits, bias):
        return nn.Linear(n_in, n_out, bias=bias)

    def conv(self, c_in, c_out, k, bits, bias, padding=0, groups=1):
        return nn.Conv2d(c_in, c_out, k, bias=bias, padding=padding, groups=groups)

    def act(self, kind, bits):
        return nn.Hardtanh() if kind is Activation.SIGN else nn.ReLU()

    def input(self, kind, bits):
        return nn.Identity()

    def pool(self, k):
        return nn.MaxPool2d(k)

    def bipolar_out(self):
        return None


class Flatten(nn.Module):
    def forward(self, x):
        return x.flatten(1)


def build_model(recipe: Recipe, quantized: bool = True) -> QuantNet:
    arch = recipe.architecture
    make = _QuantLayers() if quantized else _FloatLayers()
    bits = _per_layer_bits(recipe)
    shape = list(arch.input_shape)  # running (C, H, W) or (F,)
    modules: list[nn.Module] = [PixelPreprocess()] if arch.input_kind is InputKind.UINT8 else []
    modules.append(make.input(arch.input_kind, arch.input_bits))
    last = len(arch.layers) - 1
    for i, (layer, b) in enumerate(zip(arch.layers, bits)):
        hidden = i != last
        if is_block(layer):  # a residual / depthwise-separable / ... block: compress/blocks.py
            module, shape = build_block(make, layer, b, shape, arch.activation)
            modules.append(module)
            continue
        if isinstance(layer, MaxPool):
            modules.append(make.pool(layer.kernel))
            shape = [shape[0], shape[1] // layer.kernel, shape[2] // layer.kernel]
            continue
        bias = hidden and not arch.batchnorm  # BatchNorm carries the shift; the classifier has no bias
        if isinstance(layer, Conv):
            modules.append(make.conv(shape[0], layer.channels, layer.kernel, b.weight, bias, padding=layer.padding))
            grow = 2 * layer.padding - layer.kernel + 1
            shape = [layer.channels, shape[1] + grow, shape[2] + grow]
            norm = nn.BatchNorm2d
        else:
            if len(shape) > 1:
                modules.append(Flatten())
                shape = [shape[0] * shape[1] * shape[2]]
            modules.append(make.dense(shape[0], layer.units, b.weight, bias))
            shape = [layer.units]
            norm = nn.BatchNorm1d
        if hidden:
            if arch.batchnorm:
                modules.append(norm(shape[0]))
            modules.append(make.act(arch.activation, b.act))
    head = make.bipolar_out() if arch.bipolar_output else None
    return QuantNet(nn.Sequential(*modules), head)
