"""The RTL FIFO cost of finn-plus 1.6.1: src/finn/util/resource_models.py (_resolve, _fifo_cost and
their helpers), which mirrors finn-rtllib/fifo/hdl/fifo.sv. Written once here, function for function,
so that `--cost finn` prices a FIFO as FINN does; tests/oracle checks it against FINN's own code.

FINN's coefficients marked "fitted" there come from out-of-context Vivado runs; the rest is read off
the RTL (storage style ladder, memory geometry) or the RAMB18/URAM288 datasheets. W is the stream
width padded to a multiple of 8 bits.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

URAM_DEPTH_THRESHOLD = 2028
BRAM_MIN_ABITS = 9  # RAMB18 at its deepest aspect, 512 x 36
URAM_MIN_ABITS = 12  # URAM288 is a fixed 4096 x 72
HI_URAM_RATIO = 7
VERSAL_URAM_LUTS = 20
RAMB18_SDP = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))
RAMB18E5_SDP = ((36, 512), (18, 1024), (9, 2048))
URAM288_SDP = ((72, 4096), (36, 8192), (18, 16384), (9, 32768))


class FifoCost(NamedTuple):
    bram: int
    uram: int
    lut: int


def clog2(x: int) -> int:
    """$clog2 as SystemVerilog defines it: 0 for x <= 1."""
    return max(x - 1, 0).bit_length()


def _geometry(depth: int, is_uram: bool) -> tuple[int, int]:
    """Address bits (lo, hi) of the two memory spaces (fifo.sv INIT_ABITS); hi = 0 for one space."""
    min_abits, qdepth = (URAM_MIN_ABITS, 16) if is_uram else (BRAM_MIN_ABITS, 0)
    depth_req = max(depth - qdepth - 1, 1)  # one slot in the output register, QDEPTH in the URAM queue
    lo, hi = clog2(depth_req), 0
    if lo > min_abits:
        hi_abits = clog2(depth_req - 2 ** (lo - 1))
        if hi_abits < lo - 1:
            lo -= 1
            hi = max(hi_abits, 1)
    return lo, hi


def _hi_in_ram(rows: int, w: int) -> bool:
    return rows * rows * w >= 2**20  # fitted: when Vivado backs the hi space with RAM, not LUTRAM


def _hi_select_luts(w: int) -> int:
    return 18 + 3 * w // 7


def _cascade_mux_luts(stages: int, w: int, versal: bool) -> int:
    if not versal or stages < 2:
        return 0  # UltraScale+ F7/F8 muxes absorb the SRL cascade mux
    per_bit = 1 if stages > 2 else 0.5
    return math.ceil(w * per_bit * math.ceil((stages - 1) / 3)) - 2


def _lutram_luts(rows: int, w: int) -> int:
    return math.ceil(rows / 32) * math.ceil(w / 2) * 5 // 4


@lru_cache(maxsize=None)
def _bram18_plan(rows: int, w: int, versal: bool = False) -> tuple[int, int]:
    """(tiles, deepest cascade) of a rows x w RAMB18 memory: an exhaustive split of the word over
    the SDP aspect ladder on UltraScale+ (ties keep the widest aspect); one aspect on Versal."""
    if versal:
        return min((math.ceil(rows / cr) * math.ceil(w / cw), math.ceil(rows / cr)) for cw, cr in RAMB18E5_SDP)
    tiles: list = [0] + [None] * w
    groups = [0] * (w + 1)
    for width in range(1, w + 1):
        for cfg_w, cfg_rows in RAMB18_SDP:
            t = math.ceil(rows / cfg_rows)
            rest = max(width - cfg_w, 0)
            cand = (t + tiles[rest], max(t, groups[rest]))
            if tiles[width] is None or cand[0] < tiles[width]:
                tiles[width], groups[width] = cand
    return tiles[w], groups[w]


def _bram_plan(depth: int, w: int, versal: bool) -> tuple[int, int]:
    lo, hi = _geometry(depth, False)
    tiles, groups = _bram18_plan(2**lo, w, versal)
    if hi and _hi_in_ram(2**hi, w):
        hi_tiles, hi_groups = _bram18_plan(2**hi, w, versal)
        tiles, groups = tiles + hi_tiles, max(groups, hi_groups)
    return tiles, groups


def _uram_plan(rows: int, w: int, versal: bool) -> tuple[int, int]:
    cfg_w, cfg_rows = URAM288_SDP[0]
    if versal:
        cfg_w, cfg_rows = next((c for c in reversed(URAM288_SDP) if c[0] >= w), URAM288_SDP[0])
    groups = math.ceil(rows / cfg_rows)
    return groups * math.ceil(w / cfg_w), groups


def resolve_style(depth: int, w: int, requested: str) -> str:
    """The storage fifo.sv elaborates (its RAM_STYLE_EFF ladder): srl, distributed, block or ultra."""
    if depth <= 33:
        return "srl"  # a shift register whatever was requested
    if requested != "auto":
        return requested
    if depth <= 64 and w < 12:
        return "srl"
    if depth <= 257 or w < 5:
        return "distributed"
    return "block" if depth <= URAM_DEPTH_THRESHOLD else "ultra"


def fifo_cost(depth: int, w: int, style: str, versal: bool = False) -> FifoCost:
    """resource_models.py:_fifo_cost."""
    if depth < 2:
        return FifoCost(0, 0, 0)
    cw = clog2(depth + 1) + 1  # control is linear in the counter width
    if style == "srl":
        depth_impl = depth - 1 if depth > 4 else 4
        stages = math.ceil(depth_impl / 32)
        return FifoCost(0, 0, stages * w + _cascade_mux_luts(stages, w, versal) + 5 * cw - 7)
    if style == "distributed":
        rows = 2 ** clog2(depth - 1)
        return FifoCost(0, 0, _lutram_luts(rows, w) + rows // 128 * (w // 2) + 8 * cw - 15)
    is_uram = style == "ultra"
    lo, hi = _geometry(depth, is_uram)
    hi_in_lutram = bool(hi) and not _hi_in_ram(2**hi, w)
    if not is_uram:
        tiles, groups = _bram_plan(depth, w, versal)
        lut = 54 + 3 * groups + 2 * tiles // 5 + (_hi_select_luts(w) if hi else 0)
        if hi_in_lutram:
            lut += _lutram_luts(2**hi, w)
        return FifoCost(tiles, 0, lut)
    uram, groups = _uram_plan(2**lo, w, versal)
    lut = 6 * cw + (_hi_select_luts(w) if hi else 0)
    if hi_in_lutram:
        lut += _lutram_luts(2**hi, w) + w
    lut += max(1, groups // 4 - 2) * w
    if versal:
        lut += VERSAL_URAM_LUTS
    bram = 0
    if hi and _hi_in_ram(2**hi, w):
        hi_uram, hi_bram = _uram_plan(2**hi, w, versal)[0], _bram18_plan(2**hi, w, versal)[0]
        if hi >= URAM_MIN_ABITS or hi_bram >= HI_URAM_RATIO * hi_uram:
            uram += hi_uram
        else:
            bram = hi_bram
    return FifoCost(bram, uram, lut)
