"""Statistics-based calibration of the activation quantizers, and post-training quantization (PTQ).

Every activation quantizer of the project (docs/hls4ml.md §5) is symmetric with zero-point 0 and a
power-of-two per-tensor scale held by Brevitas' `ParameterFromRuntimeStatsScaling` as log2 of a range
statistic r: scale = 2^ceil(log2 r) / 2^b (unsigned) or / 2^(b-1) (signed). Calibration measures r on
data and sets it directly, one quantizer at a time in network order, so that each quantizer is
calibrated on the already-quantized outputs of the layers before it. The quantizer then leaves its
statistics-collection phase: r becomes the initial value of its learned scale (QAT) or stays fixed (PTQ).

Range statistics (the quantizers are symmetric, so the range is one number r ≥ |x|):
- `minmax`: r = max(|running min|, |running max|) over the whole calibration set;
- `percentile`: r = running mean over batches of the q-th percentile of |x| (Brevitas' own statistic
  is AbsPercentile 99.999 averaged the same way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Iterator

import numpy as np
import torch
from torch import nn

from toolchain.errors import UserError


class RangeStat(str, Enum):
    MINMAX = "minmax"
    PERCENTILE = "percentile"


@dataclass(frozen=True)
class CalibrationConfig:
    method: RangeStat = RangeStat.PERCENTILE
    percentile: float = 99.99
    samples: int = 2048  # calibration samples taken from the front of a seeded permutation
    batch: int = 512
    seed: int = 0

    def __post_init__(self):
        if not 0.0 < self.percentile <= 100.0:
            raise UserError(f"calibration percentile must be in (0, 100], got {self.percentile}")
        if self.samples < 1 or self.batch < 1:
            raise UserError("calibration samples and batch must be >= 1")


@dataclass
class ActQuantizer:
    """One activation quantizer: the module that sees the pre-quantization tensor, and its scale."""

    name: str
    tensor_quant: nn.Module  # RescalingIntQuant: its input is the tensor to quantize
    scaling: nn.Module  # ParameterFromRuntimeStatsScaling

    def set_range(self, r: float) -> None:
        log2r = math.log2(r) if r > 0 else 0.0  # a dead (all-zero) tensor: any scale is exact
        with torch.no_grad():
            self.scaling.value.fill_(log2r)
        self.scaling.counter = self.scaling.collect_stats_steps + 1  # statistics phase over

    def is_calibrated(self) -> bool:
        return self.scaling.counter > self.scaling.collect_stats_steps


def act_quantizers(model: nn.Module) -> list[ActQuantizer]:
    """The statistics-scaled activation quantizers of a Brevitas model, in network order."""
    from brevitas.core.scaling import ParameterFromRuntimeStatsScaling

    found = []
    for name, module in model.named_modules():
        scaling = getattr(module, "scaling_impl", None)
        if isinstance(scaling, ParameterFromRuntimeStatsScaling) and name.endswith("tensor_quant"):
            found.append(ActQuantizer(name, module, scaling))
    return found


class _RangeMeter:
    def __init__(self, config: CalibrationConfig):
        self.config, self.total, self.count = config, 0.0, 0

    def __call__(self, module, args) -> None:
        a = args[0].detach().abs().flatten()
        if self.config.method is RangeStat.MINMAX:
            self.total = max(self.total, float(a.max()))
        else:
            k = max(1, min(len(a), math.ceil(self.config.percentile / 100.0 * len(a))))
            self.total += float(a.kthvalue(k).values)
            self.count += 1

    def range(self) -> float:
        return self.total if self.config.method is RangeStat.MINMAX else self.total / max(1, self.count)


def _batches(x: np.ndarray, config: CalibrationConfig) -> Iterator[torch.Tensor]:
    idx = np.random.default_rng(config.seed).permutation(len(x))[:config.samples]
    for i in range(0, len(idx), config.batch):
        yield torch.from_numpy(np.ascontiguousarray(x[np.sort(idx[i:i + config.batch])]))


def calibrate_activations(model: nn.Module, x: np.ndarray, config: CalibrationConfig = CalibrationConfig()) -> dict:
    """Set every activation quantizer's range from statistics of `x`; returns {quantizer: range}.

    Runs in eval mode (BatchNorm uses its running statistics) and leaves the model in eval mode.
    """
    if len(x) == 0:
        raise UserError("calibration needs at least one sample")
    model.eval()
    ranges = {}
    with torch.no_grad():
        for q in act_quantizers(model):
            meter = _RangeMeter(config)
            handle = q.tensor_quant.register_forward_pre_hook(meter)
            try:
                for xb in _batches(x, config):
                    model(xb)
            finally:
                handle.remove()
            ranges[q.name] = meter.range()
            q.set_range(ranges[q.name])
    return ranges


def load_float_weights(qmodel: nn.Module, float_model: nn.Module) -> None:
    """Copy a float model's weights, biases and BatchNorm state into the same recipe's Brevitas model.

    The two builders place every layer at the same index, so the keys match; only the quantizers'
    own state (their scales) is absent from the float model.
    """
    result = qmodel.load_state_dict(float_model.state_dict(), strict=False)
    if result.unexpected_keys:
        raise ValueError(f"float state does not fit the quantized model: {result.unexpected_keys[:3]}")
    missing = [k for k in result.missing_keys if not k.endswith(".value")]
    if missing:
        raise ValueError(f"float state misses {missing[:3]}")


def post_training_quantize(float_model: nn.Module, recipe, x: np.ndarray,
                           config: CalibrationConfig = CalibrationConfig()) -> nn.Module:
    """PTQ: the recipe's Brevitas model with a trained float model's weights and calibrated activations."""
    from toolchain.compress.model import build_model

    qmodel = build_model(recipe)
    load_float_weights(qmodel, float_model)
    calibrate_activations(qmodel, x, config)
    return qmodel
