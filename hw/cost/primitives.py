"""Hardware primitives of the calibrated cost model, shared by the dataflow ops (hw/cost/calibrated.py)
and the hls4ml Dense estimate (hw/cost/hls4ml_dense.py): constant and variable multipliers, adder
trees, pipeline registers, memories.

Every constant says where it comes from: a datasheet fact, a cited rule, a fit on the calibration
points of docs/hls4ml.md §4 (scripts/bench_estimates.py --fit re-derives them), or "assumed".
Functions take numpy arrays where a layer has many lanes, so a 4608x512 weight matrix costs one
vectorized pass.
"""

from __future__ import annotations

import math

import numpy as np

from hw.cost import finn as fc
from hw.cost.resources import Resources

# ---- datasheet facts ----------------------------------------------------------------------------
# signed multiplier operand widths of one DSP slice: UG479 (DSP48E1 25x18), UG579 (DSP48E2 27x18),
# AM004 (DSP58 27x24)
DSP_SHAPES = {"DSP48E1": (25, 18), "DSP48E2": (27, 18), "DSP58": (27, 24)}
LUTRAM_DEPTH = 64  # one LUT6 of a SLICEM is a 64x1 RAM/ROM (UG474, UG574)
SRL_DEPTH = 32  # one LUT6 is a 32-deep shift register, SRLC32E (UG474, UG574)
URAM_WIDTH, URAM_DEPTH = 72, 4096  # UltraRAM 72 x 4096 (UG573)
MUX_INPUTS_PER_LUT = 4  # a LUT6 is a 4:1 mux, MUXF7/F8 widen it for free (UG574)
# ram_style "auto": BRAM only for memories deeper than one LUTRAM and larger than this many bits
# (a quarter of a RAMB18); smaller ones stay in LUTRAM (assumed; Vivado chooses by size, UG901)
AUTO_BRAM_MIN_BITS = 4096

# ---- binding rules --------------------------------------------------------------------------------
# hls4ml optimization/dsp_aware_pruning/objectives/__init__.py: "Vivado doesn't use DSP when
# precision < 9" (docs/hls4ml.md §2); applied to both operands of a multiplier
DSP_MIN_WIDTH = 9
# fit on V1 per-layer DSP (docs/hls4ml.md §4.1): a constant with at most this many nonzero
# canonical-signed-digit (CSD) digits is rewritten into shifts and adders by HLS; with more it stays
# a multiplier (DSP or LUT multiplier by the width rule). Like every "fit" below it rests on the
# synthetic jet-tagger weights documented in scripts/bench_estimates.py (the real ones are unpublished)
SHIFT_ADD_MAX_DIGITS = 3

# ---- LUT / FF costs -------------------------------------------------------------------------------
# LUTs per bit of a two-input adder (also subtractors and comparators). A carry-chain adder costs 1
# LUT per bit; a ternary adder (3 inputs, UltraScale LUT6 + CARRY8) costs 1 LUT per bit for two
# additions, i.e. 0.5. Fit on V1 per-layer LUT (the fit lands between the two).
LUT_PER_ADDER_BIT = 0.6
# LUTs per bit per extra input of a multiplexer: a LUT6 holds a 4:1 mux (3 extra inputs per LUT)
LUT_PER_MUX_BIT = 1 / (MUX_INPUTS_PER_LUT - 1)
# adder-tree levels that precede the single register stage of an hls4ml Latency Dense at 5 ns
# (V1: each Dense has a latency of 1 cycle; fit on V1 per-layer FF)
HLS4ML_CUT_LEVELS = 3.5
# timing of the datapath for the register-stage count of a dataflow op (assumed, UltraScale+ -2:
# a 16-bit carry-chain add with local routing ~0.5 ns; a combinational DSP multiply ~2 add levels)
NS_PER_ADDER_LEVEL = 0.5
DSP_MULT_LEVELS = 2
CLOCK_UNCERTAINTY = 0.125  # Vitis HLS default: 12.5 % of the period (V1: 0.625 ns at 5 ns)
# fixed cost of an HLS compute kernel (MVAU, Thresholding, SWG): FINN-R's fitted c0 = 300 LUT
# (FINN hls/matrixvectoractivation_hls.py lut_estimation, fit on Vivado synthesis by the FINN-R
# authors); its FSM and address registers: 50 FF (assumed)
HLS_KERNEL_OVERHEAD = Resources(LUT=300, FF=50)
# fixed cost of a simple HLS stream op (AddStreams, MaxPool, LabelSelect, ...): FSM (assumed)
HLS_STREAM_OP_OVERHEAD = Resources(LUT=40, FF=20)
# FF per bit of an AXI-stream port: a register slice with a skid buffer (2 data registers), as
# Vitis HLS inserts on axis ports (assumed for FINN's HLS layers)
FF_PER_STREAM_BIT = 2


# ---- integer helpers ------------------------------------------------------------------------------
def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int64)
    u8 = np.ascontiguousarray(x.astype(np.uint64)).view(np.uint8).reshape(*x.shape, 8)
    return np.unpackbits(u8, axis=-1).sum(axis=-1).astype(np.int64)


def csd_digits(k) -> np.ndarray:
    """Nonzero digits of the canonical signed-digit (NAF) form of each integer: x -> x<<1 + x>>1
    carries mark the digit positions (Reitwiesner); 0 for 0, 1 for ±2^s."""
    k = np.abs(np.asarray(k, dtype=np.int64))
    half = k >> 1
    three_half = k + half
    carry = half ^ three_half
    return _popcount(three_half & carry) + _popcount(half & carry)


def odd_bits(k) -> np.ndarray:
    """Bit length of the odd part of |k| (trailing zeros are wiring): 0 for 0, 1 for ±2^s."""
    k = np.abs(np.asarray(k, dtype=np.int64))
    low = k & -k  # lowest set bit
    odd = np.where(k > 0, k // np.maximum(low, 1), 0)
    return np.where(odd > 0, np.floor(np.log2(np.maximum(odd, 1))).astype(np.int64) + 1, 0)


def range_bits(lo, hi) -> np.ndarray:
    """Bits of the smallest int/uint type holding [lo, hi] (elementwise)."""
    lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    ubits = np.ceil(np.log2(np.maximum(hi, 0) + 1)).astype(np.int64)
    sbits = 1 + np.ceil(np.log2(np.maximum(np.maximum(-lo, hi + 1), 1))).astype(np.int64)
    return np.maximum(np.where(lo >= 0, ubits, sbits), 1)


def clog2(n: float) -> int:
    return max(0, math.ceil(math.log2(n))) if n > 1 else 0


# ---- multipliers ----------------------------------------------------------------------------------
def dsp_tiles(w_bits, a_bits, dsp_block: str):
    """DSP slices of a w x a multiplier: operands tiled onto the slice's (P, Q) multiplier, the
    better of the two orientations."""
    p, q = DSP_SHAPES[dsp_block]
    w, a = np.asarray(w_bits), np.asarray(a_bits)
    return np.minimum(np.ceil(w / p) * np.ceil(a / q), np.ceil(a / p) * np.ceil(w / q)).astype(np.int64)


def needs_dsp(w_bits, a_bits):
    """The width rule: a multiplier goes to DSPs only when both operands are DSP_MIN_WIDTH or wider."""
    return (np.asarray(w_bits) >= DSP_MIN_WIDTH) & (np.asarray(a_bits) >= DSP_MIN_WIDTH)


def lut_multiplier(w_bits, a_bits):
    """LUTs of a w x a multiplier in fabric: ceil(min/2) partial-product rows of max+1 bits, two rows
    per LUT6 + carry chain (radix-4 mapping, assumed); 0 when either operand is 0 bits wide."""
    w, a = np.asarray(w_bits), np.asarray(a_bits)
    small, large = np.minimum(w, a), np.maximum(w, a)
    return np.where(small > 0, np.ceil(small / 2) * (large + 1), 0)


def const_multipliers(k, a_bits: int, w_bits: int, dsp_block: str):
    """(LUT, DSP, product bits) of multiplying an a-bit operand by each integer constant k of a
    w_bits type: 0 -> free; ±2^s -> a shift (wiring); otherwise (CSD digits - 1) adders of the
    product width (shifts of the operand summed; trailing zeros are wiring), unless the constant has
    more than SHIFT_ADD_MAX_DIGITS digits and the declared widths pass the DSP rule: then HLS keeps
    a `mul` and binds it to a DSP."""
    k = np.asarray(k, dtype=np.int64)
    digits, ob = csd_digits(k), odd_bits(k)
    prod_bits = np.where(k != 0, a_bits + np.ceil(np.log2(np.abs(k) + 1)).astype(np.int64), 0)
    on_dsp = (digits > SHIFT_ADD_MAX_DIGITS) & needs_dsp(w_bits, a_bits)
    dsp = np.where(on_dsp, dsp_tiles(ob, a_bits, dsp_block), 0)
    lut = np.where(~on_dsp & (digits >= 2), LUT_PER_ADDER_BIT * (digits - 1) * (a_bits + ob), 0.0)
    return lut, dsp, prod_bits


def var_multipliers(w_bits, a_bits: int, dsp_block: str, res_type: str = "auto"):
    """(LUT, DSP) of multipliers by a stored (variable) weight of w bits; res_type as FINN's resType
    (lut | dsp force the mapping; auto = the width rule)."""
    w = np.asarray(w_bits)
    if res_type == "dsp":
        use = np.ones(w.shape, dtype=bool)
    elif res_type == "lut":
        use = np.zeros(w.shape, dtype=bool)
    else:
        use = needs_dsp(w, a_bits)
    dsp = np.where(use & (w > 0), dsp_tiles(w, a_bits, dsp_block), 0)
    return np.where(use, 0.0, lut_multiplier(w, a_bits)), dsp


def lane_multipliers(lanes: np.ndarray, a_bits: int, w_bits: int, dsp_block: str, res_type: str = "auto",
                     rom: bool = True):
    """(LUT, DSP, product bits, active) per multiplier lane. lanes: (n_lanes, depth) integer weights,
    row i = the weights lane i multiplies by over the folding. A lane of zeros is free (inactive); a
    lane with one value is a constant multiplier; otherwise a real multiplier whose weight width is
    the lane's value range when the weights are a ROM (synthesis drops constant bit columns), else
    the declared w_bits."""
    lanes = np.asarray(lanes, dtype=np.int64)
    lo, hi = lanes.min(axis=1), lanes.max(axis=1)
    active = (lo != 0) | (hi != 0)
    const = lo == hi
    c_lut, c_dsp, c_prod = const_multipliers(lo, a_bits, w_bits, dsp_block)
    wl = range_bits(lo, hi) if rom else np.full(lo.shape, w_bits)
    v_lut, v_dsp = var_multipliers(wl, a_bits, dsp_block, res_type)
    lut = np.where(const, c_lut, np.where(active, v_lut, 0.0))
    dsp = np.where(const, c_dsp, np.where(active, v_dsp, 0))
    prod = np.where(const, c_prod, a_bits + wl)
    return lut, dsp, np.where(active, prod, 0), active


# ---- adder trees and pipeline registers -----------------------------------------------------------
def adder_tree_bits(n_terms, term_bits, max_bits) -> np.ndarray:
    """Adder bits of a balanced tree summing n_terms values of term_bits (elementwise over n_terms);
    each level grows the width by one bit up to max_bits (the accumulator)."""
    n = np.asarray(n_terms, dtype=np.int64).copy()
    width = np.broadcast_to(np.asarray(term_bits, dtype=np.int64), n.shape).copy()
    total = np.zeros(n.shape, dtype=np.float64)
    while np.any(n > 1):
        width = np.minimum(width + 1, max_bits)
        total += (n // 2) * width
        n = n - n // 2
    return total


def live_terms(n_terms, levels: float) -> np.ndarray:
    """Partial sums alive after `levels` levels of a balanced adder tree (at least 1)."""
    return np.maximum(np.asarray(n_terms, dtype=np.float64) / 2.0**levels, 1.0)


def adder_levels_per_cycle(clock_ns: float) -> float:
    return max(1.0, clock_ns * (1 - CLOCK_UNCERTAINTY) / NS_PER_ADDER_LEVEL)


def tree_pipeline_ff(n_terms, width: int, clock_ns: float, mult_levels: float) -> float:
    """FF of the register stages cut into a multiplier + adder tree datapath that starts at a
    register: a stage every adder_levels_per_cycle(clock) levels, each holding the live partial sums
    (the final result register is counted by the caller)."""
    per_cycle = adder_levels_per_cycle(clock_ns)
    n = np.asarray(n_terms, dtype=np.float64)
    depth = mult_levels + np.ceil(np.log2(np.maximum(n, 1)))
    ff, cut = 0.0, per_cycle
    while np.any(cut < depth):
        inside = (cut < depth) & (cut > mult_levels)
        ff += float(np.where(inside, live_terms(n, cut - mult_levels), 0).sum()) * width
        cut += per_cycle
    return ff


# ---- memories -------------------------------------------------------------------------------------
def memory(width: int, depth: int, style: str) -> Resources:
    """A width x depth memory. style: distributed (LUTRAM), block (BRAM18, FINN's SDP table),
    ultra (URAM), srl (shift registers), or auto: BRAM when deeper than 64 and larger than
    AUTO_BRAM_MIN_BITS, else LUTRAM. Reads are registered: `width` FF."""
    if width <= 0 or depth <= 0:
        return Resources()
    if depth == 1:
        return Resources(FF=width)
    if style == "auto":
        big = depth > LUTRAM_DEPTH and width * depth > AUTO_BRAM_MIN_BITS
        style = "block" if big else "distributed"
    if style == "distributed":
        return Resources(LUT=width * math.ceil(depth / LUTRAM_DEPTH), FF=width)
    if style == "srl":
        return Resources(LUT=width * math.ceil(depth / SRL_DEPTH), FF=width)
    if style == "ultra":
        return Resources(URAM=math.ceil(width / URAM_WIDTH) * math.ceil(depth / URAM_DEPTH), FF=width)
    if style == "block":
        return Resources(BRAM_18K=fc.bram18_sdp(width, depth), FF=width)
    raise ValueError(f"unknown memory style {style!r}")


def stored_memory(values: np.ndarray, bits: int, style: str, rom: bool) -> Resources:
    """Memory holding `values` (depth, words per entry) as `bits`-bit two's-complement words. A ROM
    keeps only its non-constant bit columns (synthesis propagates constant outputs; assumed for BRAM
    ROMs too); a single entry is a constant (no memory)."""
    values = np.asarray(values, dtype=np.int64)
    depth = values.shape[0]
    if depth <= 1:
        return Resources()
    width = values.shape[1] * bits
    if rom:  # a bit column varies where the AND and the OR over the depth differ
        words = values & ((1 << bits) - 1)
        varying = np.bitwise_and.reduce(words, axis=0) ^ np.bitwise_or.reduce(words, axis=0)
        width = int(_popcount(varying).sum())
    return memory(width, depth, style)


def counter(iterations: int) -> Resources:
    """A loop counter over `iterations`: an incrementer and its register (1 LUT + 1 FF per bit)."""
    bits = clog2(iterations + 1)
    return Resources(LUT=bits, FF=bits)


def mux(n_inputs: int, bits: int) -> float:
    """LUTs of an n:1 multiplexer of `bits` bits."""
    return LUT_PER_MUX_BIT * max(n_inputs - 1, 0) * bits


def adders(bits) -> float:
    """LUTs of two-input adders (or comparators) totalling `bits` bits."""
    return LUT_PER_ADDER_BIT * float(np.sum(bits))
