"""Options of one lowering run, shared by the passes that depend on them.

strict: refuse what is not provably equal to the source's own float32 execution (the contract before
float scales: power-of-two scales, biases on the accumulator grid). Not strict: float (non-power-of-two)
scales and off-grid biases are accepted and lowered FINN-style (streamlined into integer thresholds,
docs/finn.md §1.3), with thresholds equal to the quantized network in exact arithmetic
(exact_thresholds.py); the source's float32 rounding can then differ on a measured *tie*.

inexact: names of the scale Muls and bias Adds whose float32 evaluation in our graph is NOT what the
source computed (a non-power-of-two scale moved past a MatMul/Conv, a bias that the source's Gemm/Conv
summed together with its products); the activation chains and output host steps that contain one use
exact arithmetic and a stated tolerance instead of the source's float path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class LowerOptions:
    strict: bool = False
    input_type: Optional[str] = None  # e.g. "INT16": the host quantizer of a graph input without one
    input_scale: Optional[float] = None
    inexact: set = field(default_factory=set)
    fused_bias: set = field(default_factory=set)  # bias Adds split from a Gemm/Conv: exact only on the grid
