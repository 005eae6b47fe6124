"""Calibrated estimate of an hls4ml Dense layer (docs/hls4ml.md §3), from its actual integer
weights, with the primitives the dataflow MVAU uses (an MVAU at PE x SIMD and a Dense at a reuse
factor are the same hardware question).

* Latency strategy: weights are constants (`function_instantiate`). RF = 1: one constant multiplier
  per weight (zero free, ±2^k a shift, otherwise CSD shift-adds or a DSP), products cast to accum_t
  and summed per output; one register stage cut into the tree (latency 1). RF > 1: HLS caps the
  `mul` instances at multiplier_limit = ceil(N/RF) - floor(n_zeros/RF) (core_templates.py); products
  beyond the cap share a DSP through operand multiplexers.
* Resource strategy: ceil(N/RF) multipliers, each fed by a BRAM ROM of the RF weights it sees
  (pattern offset N/RF, hls4ml optimization objectives); an accumulator per output.
* io_stream wraps the io_parallel kernel; it adds a register for the input vector (assumed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np

from hw.cost import primitives as P
from hw.cost.resources import Resources


class Strategy(str, Enum):
    LATENCY = "latency"
    RESOURCE = "resource"


class IOType(str, Enum):
    PARALLEL = "io_parallel"
    STREAM = "io_stream"


@dataclass(frozen=True)
class DenseConfig:
    in_bits: int  # data_T width
    weight_bits: int  # weight_t width
    acc_bits: int  # accum_t width (products are cast to it)
    reuse_factor: int = 1
    strategy: Strategy = Strategy.LATENCY
    io_type: IOType = IOType.PARALLEL
    bias: bool = True
    dsp_block: str = "DSP48E2"  # the register cut of the Latency strategy is calibrated at 5 ns


def multiplier_limit(n_weights: int, n_zeros: int, reuse_factor: int) -> int:
    """hls4ml core_templates.py: ceil(N/RF) - floor(n_zeros/RF)."""
    return math.ceil(n_weights / reuse_factor) - n_zeros // reuse_factor


def hls4ml_dense(weights: np.ndarray, cfg: DenseConfig) -> Resources:
    """Resources of one Dense. weights: (n_in, n_out) integers, the fixed-point weights in units of
    their LSB (e.g. round(w * 2^10) for fixed<16,6>)."""
    k = np.asarray(weights, dtype=np.int64)
    if k.ndim != 2 or cfg.reuse_factor < 1:
        raise ValueError(f"weights must be (n_in, n_out) and reuse_factor >= 1, got {k.shape}, {cfg.reuse_factor}")
    strategy = Strategy(cfg.strategy)
    if strategy is Strategy.LATENCY:
        res = _latency(k, cfg)
    else:
        res = _resource(k, cfg)
    if IOType(cfg.io_type) is IOType.STREAM:
        res = res + Resources(FF=k.shape[0] * cfg.in_bits) + P.counter(k.shape[0])
    return res


def _terms_per_output(k: np.ndarray, bias: bool) -> np.ndarray:
    return np.count_nonzero(k, axis=0) + int(bias)


def _latency(k: np.ndarray, cfg: DenseConfig) -> Resources:
    a, rf = cfg.in_bits, cfg.reuse_factor
    lut, dsp, _ = P.const_multipliers(k, a, cfg.weight_bits, cfg.dsp_block)
    n_dsp, lut_mult = int(dsp.sum()), float(lut.sum())
    if rf > 1:
        limit = multiplier_limit(k.size, int(np.count_nonzero(k == 0)), rf)
        n_mul = int(np.count_nonzero(P.csd_digits(k) > P.SHIFT_ADD_MAX_DIGITS))
        if n_mul > limit:  # shared instances: the extra products enter through operand muxes
            lut_mult += (n_mul - limit) * P.mux(2, a + cfg.weight_bits)
            n_dsp = min(n_dsp, limit * int(P.dsp_tiles(cfg.weight_bits, a, cfg.dsp_block)))
    terms = _terms_per_output(k, cfg.bias)
    tree = P.adders(np.maximum(terms - 1, 0) * cfg.acc_bits)
    ff = float(P.live_terms(terms[terms > 0], P.HLS4ML_CUT_LEVELS).sum()) * cfg.acc_bits
    return Resources(LUT=lut_mult + tree, FF=ff, DSP=n_dsp)


def _resource(k: np.ndarray, cfg: DenseConfig) -> Resources:
    a, rf = cfg.in_bits, cfg.reuse_factor
    n_in, n_out = k.shape
    block = math.ceil(k.size / rf)
    flat = np.zeros(block * rf, dtype=np.int64)
    flat[:k.size] = k.T.reshape(-1)  # the Resource kernel keeps the transposed weights
    lanes = flat.reshape(rf, block).T  # lane m sees weights m, m + block, ... (pattern offset N/RF)
    lut, dsp, prod, active = P.lane_multipliers(lanes, a, cfg.weight_bits, cfg.dsp_block, rom=True)
    rom = P.stored_memory(lanes.T, cfg.weight_bits, "block", rom=True)  # ROM_nP_BRAM
    acc = P.adders(np.count_nonzero(active) * cfg.acc_bits)
    ff = n_out * cfg.acc_bits + float(prod.sum())  # accumulators, product registers
    return (Resources(LUT=float(lut.sum()) + acc, FF=ff, DSP=int(dsp.sum())) + rom + P.counter(rf)
            + P.counter(n_in))
