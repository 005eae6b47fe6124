"""The calibrated model's `rtl` profile: resources of OUR RTL (hw/ops/rtl/*.sv) as Yosys 0.23
`synth_xilinx -family xc7` maps it, derived from each template's structure.

    resources = op.rtl_resources(ctx)   # an op's template instance (its rtl_module) -> Resources

The `hls` profile (hw/cost/calibrated.py) describes FINN's HLS kernels under Vivado; this one
describes what `hil build --backend rtl` emits and `hil synth` measures. Each op's `rtl_resources`
passes its own `rtl_module(node, model)` (the template, its parameters and its memory files) to the
model of that template below. The rules are Yosys' own (0.23, techlibs/xilinx and passes/memory):

* Memories (memory_libmap with lutrams_xc5v.txt / brams_xc4v.txt). Every template reads its
  memories asynchronously, so no memory is a block RAM (RAMB18/36 need a registered read): BRAM
  is 0 by construction. A ROM (weights, thresholds) is never LUTRAM (`prune_rom`): it becomes
  logic. A read-write memory (ibuf, FIFO storage) becomes LUTRAM (RAM32M: 32 deep x 6 bits,
  RAM64M: 64 x 3, RAM128X1D: 128 x 1; 4 LUTs each) when that is cheaper than flip-flops, else
  flip-flops (memory_libmap compares its cost with one unit per bit of logic).
* A ROM whose address is a register (the threshold memory tmem[nf] / tmem[t]) gets that register
  merged into its read port (memory_dff), so the ROM's output is registered instead: one FF per
  distinct non-constant bit column of the ROM (constant columns are constants; equal columns are
  one register, opt_merge), loaded every cycle from the ROM at the counter's next value. The weight
  ROM's address (nf*SF + sf) is logic: it stays asynchronous, no FF. A read-write memory addressed
  by a register (ibuf[sf], the queue's mem[rd_ptr]) keeps a copy of that register (`$rdreg`).
* Multipliers (mul2dsp with xc7_dsp_map: DSP_A_MINWIDTH = DSP_B_MINWIDTH = 2, DSP_Y_MINWIDTH = 9,
  25 x 18 signed): a PE x SIMD lane's product of (IBITS+1) x (WBITS+1) signed bits is one DSP48E1
  when IBITS + WBITS + 2 >= 9, else LUT logic. XNOR lanes have no multiplier.
* Registers: counters of N states hold clog2(N) FFs (none when N = 1: a constant); accumulators
  ACC_W per PE when SF > 1 (noActivation without DSPs: OBITS + 1 low bits); the 2-word output
  queue (hil_fifo DEPTH 2) as its memory rule says. The stream templates' loop counters are declared
  at their ranges' widths (an `int` was 32 FFs: Yosys proves no register's range).

FF, DSP and BRAM are counts of these structures, exact for the templates as they are. LUT is the
sum of the structures' LUT counts. Where a structure's LUTs end at a cell pin (a DSP48E1 A/B port,
a CARRY4, a flip-flop) ABC cannot share them with anything downstream, and they are counted
(COUNTED, coefficient 1): the weight ROM and x mux before DSP ports, the comparators as cmp2lcu.v
groups them, a registered ROM's columns, a deep ROM's LUT tree below its last LUT, LUTRAM, muxes, the
thermometer count. The rest (ROM outputs, adders, fabric multipliers, counters' logic) is scaled by
coefficients fitted once on the fit set of scripts/bench_synth.py (even rows) and checked on its
held-out set (odd rows); LUT includes LUTRAM, as Vivado's "CLB LUTs" and toolchain/backends/synth.py
count it.

Not measured yet (so not claimed exact): an MVAU whose weight memory has one word (NF*SF = 1, the
products are by constants, which Yosys may shift or drop instead of mapping to DSPs), a Thresholding
whose thresholds are one word (constants), a StreamingMaxPool with K no power of two (its px / K
divider), and the families other than xc7. FIFO nodes of 3, 4, 33, 64 and 256 words measured: FF and
LUTRAM exact; the logic LUTs of a FIFO deeper than one 128-word LUTRAM cell (read mux, address
decode) are underestimated. The stream templates (SWG, StreamingMaxPool, LabelSelect, FMPadding):
FF and DSP exact on the 11 probed instances (tests/cost_rtl/test_rtl_stream_ops.py) and on
digits-cnn's nodes; their LUT, counted with the MVAU/Thresholding coefficients (fitted on those
layers only), is -14 % .. +27 % per probed instance; the DWC instances there -8 % .. +20 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hw.cost.resources import Resources

# ---- Yosys 0.23 rules (techlibs/xilinx, passes/memory) ------------------------------------------------
DSP_Y_MINWIDTH = 9  # synth_xilinx.cc map_dsp: -D DSP_Y_MINWIDTH=9 (products narrower stay in LUTs)
DSP_AB_MINWIDTH = 2  # -D DSP_A_MINWIDTH=2 -D DSP_B_MINWIDTH=2
DSP_A_MAX, DSP_B_MAX = 25, 18  # xc7: DSP48E1 25 x 18 signed (-D DSP_A_MAXWIDTH=25 -D DSP_B_MAXWIDTH=18)
LUTRAM_CELL_LUTS = 4  # RAM32M / RAM64M / RAM128X1D: 4 LUTs each (toolchain/backends/synth.py LUTRAM_LUTS)
# lutrams_xc5v.txt, $__XILINX_LUTRAM_SDP_ (ABITS 5: 6 bits wide, ABITS 6: 3 wide) and _DP_ (ABITS 7: 1)
LUTRAM_SHAPES = ((32, 6), (64, 3), (128, 1))
# memory_libmap keeps a memory in flip-flops (logic cost: one unit per bit) unless a LUTRAM mapping
# costs less. A 32-deep LUTRAM costs 8 units per 7 bits of width ("widthscale 7") plus a base for
# its port emulation; the base is bracketed by what Yosys 0.23 did with hil_fifo: DEPTH 2 stays
# flip-flops at 4, 8 and 12 bits (base >= 10.3) and becomes RAM32Ms at 16, 18, 20, 24 and 48 bits;
# DEPTH 4 x 4 bits becomes a RAM32M (base < 11.4)
LUTRAM_COST_PER_BIT = 8 / 7
LUTRAM_COST_BASE = 11
LUT_INPUTS = 6
UNSIGNED_MODE = 0  # hil_pkg UNSIGNED (hw/ops/rtl)

# ---- LUT coefficients: LUTs per unit of each structure part, fitted (non-negative least squares) on
# the fit set of scripts/bench_synth.py only (its even rows, 17 layers; `--fit` re-derives them) after
# the counted parts (COUNTED, coefficient 1) are taken off Yosys' LUTs. Measured there, Yosys 0.23 xc7:
# held-out LUT error mean 5 %, max 18 % (17 layers: mvau 32x10 p2s2 noact -18 %); fit set mean 6 %, max
# 13 %. "compare" (the comparators too narrow for a carry chain, 2 LUTs per cmp2lcu group) is 0.649: ABC
# rebuilds those as one chain of about 2.6 LUTs per 4-bit compare, merged with the count.
LUT_COEF = {"rom": 0.567, "compare": 0.649, "count": 1.0, "add": 1.024, "mult": 4.46, "mux": 1.0, "control": 2.003}
LUTRAM = "lutram"  # the LUTs of LUTRAM cells: counted, not fitted (coefficient 1)
DSP_PORT = "dsp_port"  # the LUTs whose only loads are DSP48E1 A/B pins (hil_mvau's ROM, x mux): counted
REG_ROM = "rom_reg"  # a registered ROM's column LUTs (loads: flip-flops only; threshold_parts): counted
CMP_CARRY = "compare_carry"  # comparator LUTs whose loads are CARRY4 pins (compare_luts): counted
ROM_TREE = "rom_tree"  # the LUTs of a deep ROM column below its last one (rom_parts): counted
# Muxes are counted too: their parts are LUT counts already (mux_luts); fitted, the coefficient went to 0
# on the MVAU/Thresholding fit set (where muxes are a few percent) and the stream ops' muxes (DWC, SWG,
# LabelSelect) would count nothing. So is the thermometer count, one LUT per compare it adds up (fitted:
# 1.3, and the held-out max 24 % instead of 22 %).
COUNTED = (LUTRAM, DSP_PORT, REG_ROM, CMP_CARRY, ROM_TREE, "mux", "count")


def clog2(n: int) -> int:
    return max(0, math.ceil(math.log2(n))) if n > 1 else 0


def words_of(memh: str) -> list[int]:
    """The words of a $readmemh file (hw/ops/rtl memh)."""
    return [int(line, 16) for line in memh.split()]


def live_columns(words: list[int], width: int) -> set[bytes]:
    """The distinct non-constant bit columns of a ROM (each as its bytes over the words): what survives
    constant folding and merging."""
    if not words or width <= 0:
        return set()
    bits = np.array([[(w >> i) & 1 for i in range(width)] for w in words], dtype=np.uint8)
    return {col.tobytes() for col in bits[:, bits.min(axis=0) != bits.max(axis=0)].T}


def rom_columns(words: list[int], width: int) -> int:
    """How many distinct non-constant bit columns a ROM has (live_columns)."""
    return len(live_columns(words, width))


def index_columns(live: set[bytes], n_words: int) -> int:
    """How many of a ROM's live columns (live_columns of its n_words words) equal a bit of the word index
    (column j of word w is bit i of w for every word)."""
    index = np.arange(n_words)
    return sum(((index >> i) & 1).astype(np.uint8).tobytes() in live for i in range(clog2(n_words)))


CMP_BUDGET = LUT_INPUTS  # cmp2lcu.v's BUDGET (synth_xilinx: -D LUT_WIDTH=6)
LCU_CARRY_MIN = 3  # xilinx/arith_map.v: an $lcu of WIDTH <= 2 is no carry chain (_TECHMAP_FAIL_)


def compare_luts(words: list[int], pe: int, steps: int, tbits: int, a_bits: int, a_const_msb: bool) -> tuple[float, float]:
    """LUTs of the PE x steps comparators `a >= T[pe][k]` as Yosys 0.23's cmp2lcu.v builds them
    (synth_xilinx, LUT_WIDTH 6): from the MSB down, bits are packed into groups of at most 6 cost
    units (a bit of two non-constant operands costs 2, of one constant operand 1, of two constants 0);
    each group is a propagate and a generate function (2 LUTs; none for an all-constant group), and the
    groups feed an $lcu: a CARRY4 chain from 3 groups on, logic otherwise (arith_map.v).

    cmp2lcu runs in synth_xilinx's coarse stage, before the memories are mapped: T is a memory read
    then, every bit of it non-constant, so the groups are cut as if (thr 16 p2 u6 t7: 7-bit compares
    whose thresholds' MSB is 0 in every word, 3 groups, 14 of its 17 CARRY4s). Later the ROM's constant
    columns fold into the group functions and equal columns are one register (rom_columns), so two
    thresholds of one lane whose group has the same bits are one group (the same function of the same
    nets, merged by ABC) and a group of constants alone costs nothing. a: a_bits
    signed (the accumulator; Thresholding's decoded input, whose MSB is 0 for unsigned input:
    a_const_msb), both sign-extended to the wider. Returns (LUTs of groups feeding a carry chain: their
    loads are CARRY4 pins, counted; LUTs of groups of compares without a chain: merged with the
    thermometer count by ABC, fitted)."""
    width = max(tbits, a_bits)
    w = np.array([[(x >> i) & 1 for i in range(pe * steps * tbits)] for x in words] or [[0] * (pe * steps * tbits)],
                 dtype=np.uint8)
    live = w.min(axis=0) != w.max(axis=0)
    carry, logic = set(), set()
    for lane in range(pe):
        for k in range(steps):
            base = (lane * steps + k) * tbits
            groups, group, budget = [], [], CMP_BUDGET
            for i in range(width - 1, -1, -1):
                j = base + min(i, tbits - 1)  # sign extension: copies of the MSB
                b = w[:, j].tobytes() if live[j] else int(w[0, j])
                a_const = a_const_msb and i >= a_bits - 1
                cost = (0 if a_const else 1) + (1 if live[j] or len(words) > 1 else 0)
                if cost > budget:
                    groups.append(tuple(group))
                    group, budget = [], CMP_BUDGET
                group.append((i, a_const, b))
                budget -= cost
            groups.append(tuple(group))
            for g in groups:
                if any(not a_const or isinstance(b, bytes) for _, a_const, b in g):
                    (carry if len(groups) >= LCU_CARRY_MIN else logic).add((lane, g))
    return 2.0 * len(carry), 2.0 * len(logic)


def rom_luts(depth: int) -> float:
    """LUT6s of one bit column of a `depth`-word ROM as logic: one LUT6 per 64 words (the leaves), up
    to four joined by MUXF7/MUXF8 (no LUTs); beyond 256 words the mux tree above them costs, measured,
    one LUT per three leaves (2,048 words, bench_synth's mvau 64x32 p1s1: 41.75 LUTs per column;
    4,096, digits-mlp's MVAU_0: 86.5; 50,176, tfc-w1a1's MVAU_0: ~1,050; LUT6 4:1 muxes alone would
    be one per four)."""
    if depth <= 1:
        return 0.0
    leaves = math.ceil(depth / 2 ** LUT_INPUTS)
    return float(leaves) if leaves <= 4 else leaves + math.ceil(leaves / 3)


def rom_parts(cols: int, depth: int) -> dict:
    """A ROM of `cols` live columns read asynchronously as logic: a column's last LUT is the one its
    loads may share (fitted "rom"); the LUTs below it, of a column deeper than 64 words, only build
    that column (counted, ROM_TREE)."""
    if depth <= 1 or cols == 0:
        return {}
    return {"rom": float(cols), ROM_TREE: cols * (rom_luts(depth) - 1)}


def mux_luts(n: int) -> float:
    """LUT6s per bit of an n:1 mux: a LUT6 is a 4:1 mux (4 data, 2 select inputs), MUXF7/MUXF8 join up
    to four of them; a 2:1 mux is a LUT3 of its own (two 2:1 muxes share no LUT)."""
    return 0.0 if n <= 1 else float(math.ceil(n / 4))


@dataclass(frozen=True)
class Storage:
    """A read-write memory (sync write, async read) as memory_libmap maps it."""

    lutram_cells: int  # 0: flip-flops
    ff: int
    mux_luts: float  # read mux of a flip-flop memory

    @property
    def luts(self) -> float:
        return self.lutram_cells * LUTRAM_CELL_LUTS


def storage(depth: int, width: int, read_ports: int = 1, registered: bool = True) -> Storage:
    """memory_libmap's choice for a DEPTH x WIDTH memory with async read ports. `registered`: the
    read address is a register (rd_ptr, sf): memory_dff merges it into the read port, and mapping it
    back (LUTRAM's async read, or memory_map's flip-flops) extracts a copy of it, clog2(DEPTH) FFs.
    Flip-flops cost one unit per bit per read port (each port its own read mux): hil_maxpool's 2 x 8
    bit row (two read ports) is a RAM32M pair where a one-port 2 x 8 queue stays flip-flops."""
    if depth <= 0 or width <= 0:
        return Storage(0, 0, 0.0)
    copy = clog2(depth) if registered else 0
    if depth <= LUTRAM_SHAPES[-1][0]:
        cells = next(math.ceil(width / w) for d, w in LUTRAM_SHAPES if depth <= d)
    else:  # deeper than one cell: cells stacked (the cheapest shape; SWG 192 x 4: six RAM64M) and a read mux
        cells = min(math.ceil(depth / d) * math.ceil(width / w) for d, w in LUTRAM_SHAPES)
    if depth > 1 and LUTRAM_COST_PER_BIT * width * math.ceil(depth / 32) + LUTRAM_COST_BASE < depth * width * read_ports:
        return Storage(cells, copy, 0.0)
    return Storage(0, depth * width + copy, read_ports * width * mux_luts(depth))


def queue(width: int, depth: int = 2) -> tuple[int, Storage, dict]:
    """hil_fifo: storage, pointers (clog2(DEPTH) each: none for one word, a constant) and the count
    (clog2(DEPTH+1))."""
    mem = storage(depth, width)
    ff = mem.ff + 2 * clog2(depth) + clog2(depth + 1)
    return ff, mem, {"mux": mem.mux_luts, LUTRAM: mem.luts, "control": 2 * clog2(depth + 1) + 2}


def dsp_per_multiplier(a_bits: int, b_bits: int) -> int:
    """mul2dsp: a signed a x b product is DSPs when both operands are >= 2 bits and the product
    >= 9 bits; operands wider than 25 x 18 split into several."""
    if min(a_bits, b_bits) < DSP_AB_MINWIDTH or a_bits + b_bits < DSP_Y_MINWIDTH:
        return 0
    a, b = max(a_bits, b_bits), min(a_bits, b_bits)
    return math.ceil(a / DSP_A_MAX) * math.ceil(b / DSP_B_MAX)


@dataclass(frozen=True)
class Structure:
    """What a template instance is made of: exact FF and DSP counts, and the LUT parts (structure
    sizes in LUTs before the fitted coefficients)."""

    ff: int
    dsp: int
    parts: dict[str, float]

    def resources(self) -> Resources:
        lut = sum((1.0 if k in COUNTED else LUT_COEF[k]) * v for k, v in self.parts.items())
        return Resources(LUT=float(round(lut)), FF=float(self.ff), DSP=float(self.dsp), BRAM_18K=0.0)


def _add(parts: dict, more: dict) -> None:
    """Add the LUT parts `more` into `parts`."""
    for k, v in more.items():
        parts[k] = parts.get(k, 0.0) + v


def threshold_parts(pe: int, steps: int, tmem_words: list[int], tbits: int, a_bits: int, a_const_msb: bool,
                    depth: int, next_address: bool = False) -> tuple[int, dict]:
    """The comparators (compare_luts), the thermometer count, and the threshold ROM: registered (one FF
    per distinct live column) when it has more than one word. `next_address`: the template registers the
    ROM read at the counter's next value itself (hil_thresholding); else Yosys merges the counter into
    the read port (hil_mvau's tmem[nf]). registered_rom_parts says what each costs."""
    live = live_columns(tmem_words, pe * steps * tbits) if depth > 1 else set()
    cols = len(live)
    if next_address:
        # a column equal to a bit of its word's index is the counter's own register (the same next value
        # under the same enable): opt_merge keeps one (thr 32 p8 u8 t3: 2 of its 12 columns)
        cols -= index_columns(live, len(tmem_words))
    carry, logic = compare_luts(tmem_words, pe, steps, tbits, a_bits, a_const_msb)
    parts = {CMP_CARRY: carry, "compare": logic, "count": pe * steps}
    _add(parts, registered_rom_parts(cols, depth, next_address))
    return cols, parts


def registered_rom_parts(cols: int, depth: int, next_address: bool = False) -> dict:
    """The LUT parts of a registered ROM's `cols` live columns of `depth` words. The loads of a column are
    flip-flops only, so nothing downstream shares its LUTs: they are counted (REG_ROM) while a column is
    one LUT, and a fitted "rom" part beyond.

    next_address (hil_thresholding: `thr <= tmem[t_next]` under the enable `!rst_n || fire`, t_next = 0 in
    reset and after the last word): a column is a function of t_next's clog2(depth) bits, which come
    out of the increment's CARRY4 (opaque to ABC), and of the zero condition (reset, and the wrap compare
    unless depth is a power of two): rom_luts of that many address bits (one LUT6 to 32 words, a LUT7 of
    two at 64). Measured on bench_synth's threshold layers: thr 64 p2 (depth 32) 24 LUTs for 24 columns.

    Merged (hil_mvau's `tmem[nf]` inside `if (!rst_n) ... else if (fire)`, memory_dff): Yosys keeps no
    enable or reset pin on the read register, so a column is a function of the counter's bits, its enable,
    the reset and its own value: one LUT6 while that is at most 6 inputs (thr 16 p2 at depth 8: 67 LUTs for
    69 columns, before hil_thresholding read its next address itself). Deeper, ABC maps it to LUT7/LUT8
    (2 and 4 LUT6s) and shares what it finds between columns: a fitted part (rom_luts of 4 x depth)."""
    if cols == 0:
        return {}
    if next_address:
        inputs = clog2(depth) + 1 + (0 if _pow2(depth) else 1)
        luts = rom_luts(2 ** inputs)
        return {REG_ROM: float(cols)} if luts == 1 else {"rom": cols * luts}
    if clog2(depth) + 2 <= LUT_INPUTS:
        return {REG_ROM: float(cols)}
    return {"rom": cols * rom_luts(4 * depth)}


def weight_address_dsp(nf: int, sf: int) -> int:
    """DSPs of hil_mvau's nf*SF (unsigned nf of clog2(NF) bits times the constant SF). The constant's
    trailing zeros are a shift, so the multiplier is nf x odd(SF), its product cut to the address
    bits above the shift: a DSP from 9 bits on (digits-cnn's MVAU_1: nf 5 bits x 9 (144 = 9 << 4),
    9 bits: 1 DSP; at SIMD 12, nf x 3 (12 = 3 << 2), 7 bits: none)."""
    if nf <= 1:
        return 0
    zeros = (sf & -sf).bit_length() - 1
    odd = sf >> zeros
    if odd == 1:
        return 0
    a, b = clog2(nf), odd.bit_length()
    if min(a, b) < DSP_AB_MINWIDTH or min(a + b, clog2(nf * sf) - zeros) < DSP_Y_MINWIDTH:
        return 0
    return math.ceil(a / (DSP_A_MAX - 1)) * math.ceil(b / (DSP_B_MAX - 1))  # unsigned: one bit less each


def mvau(params: dict, wmem: list[int], tmem: list[int]) -> Structure:
    """hil_mvau.sv of these parameters and memory words."""
    pe, simd, mw, mh = params["PE"], params["SIMD"], params["MW"], params["MH"]
    ibits, wbits, acc_w, obits = params["IBITS"], params["WBITS"], params["ACC_W"], params["OBITS"]
    nf, sf = mh // pe, mw // simd
    xnor, has_thr, steps = bool(params["XNOR"]), bool(params["HAS_THR"]), params["NSTEPS"]
    ff = clog2(nf) + clog2(sf)
    parts = dict.fromkeys(LUT_COEF, 0.0)
    parts["control"] = float(clog2(nf) + clog2(sf))
    # lanes: a DSP or a fabric multiplier each (XNOR: a match bit); the dot chain adds SIMD terms at
    # ACC_W bits (dot = dot + term), the accumulator adds one more when SF > 1
    acc_add = 1 if sf > 1 else 0
    dsp = 0 if xnor else pe * simd * dsp_per_multiplier(ibits + 1, wbits + 1)
    # With DSPs, the weight ROM and the x mux drive DSP48E1 A/B ports: a cell port is a boundary ABC
    # maps up to and no further, so each ROM column is its own rom_luts LUTs and each x bit its own mux
    # LUTs: counted (DSP_PORT), not fitted. Measured on the 10 DSP layers of bench_synth: the LUTs
    # whose only loads are DSP A/B pins equal these counts. Without DSPs the same ROM, mux and the
    # multiplier are one cone that ABC shares (the fitted rom/mux/mult parts).
    port = DSP_PORT if dsp else None
    # weight ROM (async read, address nf*SF+sf): logic, one column function per live column
    wcols = rom_columns(wmem, pe * simd * wbits)
    if nf == 1 and sf > 1 and not port:
        # one output row: the address nf*SF + sf is the register sf itself, which memory_dff merges into
        # the read port like the threshold ROM's (cybsec-mlp's MVAU_3, 64 x 1: 2 FFs for its 2 weight
        # bits); with DSPs (whose AREG/BREG may take it) not measured
        ff += wcols
        _add(parts, registered_rom_parts(wcols, sf))
    else:
        _add(parts, {port: wcols * rom_luts(nf * sf)} if port else rom_parts(wcols, nf * sf))
    # input buffer ibuf[SF], replayed while nf > 0: gone when NF = 1 (never read)
    if nf > 1:
        buf = storage(sf, simd * ibits)
        ff += buf.ff
        parts[LUTRAM] = parts.get(LUTRAM, 0.0) + buf.luts
        # the reads ? in_data : ibuf[sf] mux: a 2:1 per bit after a LUTRAM read port, an (SF+1):1 per
        # bit over a flip-flop buffer (its read mux and the 2:1 in one tree; not measured with DSPs)
        x_mux = simd * ibits * mux_luts(2 if buf.lutram_cells else sf + 1)
        _add(parts, {port or "mux": x_mux})
    # noActivation outputs the OBITS low bits: the accumulator's upper bits observe nothing and are
    # removed, unless a DSP48E1 post-adder reads the whole accumulator (digits-mlp's last layer); one
    # is kept above them (tfc-w1a1's MVAU_3, XNOR, OBITS 7 of ACC_W 9: 8 FFs; the only one measured)
    acc_bits = acc_w if has_thr or dsp else min(acc_w, obits + 1)
    if dsp:  # the DSP48E1 post-adders take the dot chain (xilinx_dsp cascades a PE's SIMD products
        # through PCIN/PCOUT: 14 of the 16 DSP48E1s of mvau 64x8 p2s8); the accumulator stays in fabric
        parts["add"] += pe * acc_add * acc_bits
    else:
        parts["add"] += pe * (simd - 1 + acc_add) * acc_bits
        if not xnor:
            parts["mult"] += pe * simd * ibits * wbits
        elif clog2(nf * sf) == LUT_INPUTS:
            # the match bit ROM(addr) XNOR x of a 64-word ROM has 7 inputs: ABC (delay first, LUT7 at twice
            # a LUT6's area) maps it as one LUT7, 2 LUT6 + MUXF7 per column where a shallower ROM's fits
            # one LUT6 and a deeper one's XNOR goes into the adder: one more LUT per column, counted
            # (ROM_TREE). Netlists of mvau 32x32 p4s4 xnor: 4-leaf MUXF7/MUXF8 trees selected by x and an
            # address bit; independent probes (bench_synth's xnor rows at 64 words, and 32x32 p4s4 /
            # 128x16 p2s16 with other weights) -15 .. -28 % before, -7 .. -18 % after
            parts[ROM_TREE] = parts.get(ROM_TREE, 0.0) + wcols
    if sf > 1:
        ff += pe * acc_bits
    if has_thr:
        tff, tparts = threshold_parts(pe, steps, tmem, acc_w, acc_w, False, nf)
        ff += tff
        _add(parts, tparts)
    qff, _, qparts = queue(pe * obits)
    ff += qff
    _add(parts, qparts)
    # the weight ROM's address nf*SF + sf: a multiplier by the constant SF (a shift when SF is a power
    # of two) whose product wreduce cuts to the address bits; mul2dsp makes it a DSP from 9 bits on
    # (digits-cnn's MVAU_1: nf 5 bits x 144, a 13-bit address)
    return Structure(ff, dsp + weight_address_dsp(nf, sf), parts)


def thresholding(params: dict, tmem: list[int]) -> Structure:
    """hil_thresholding.sv of these parameters and threshold words."""
    c, pe, ibits, tbits = params["C"], params["PE"], params["IBITS"], params["TBITS"]
    steps, obits = params["NSTEPS"], params["OBITS"]
    depth = c // pe
    tff, tparts = threshold_parts(pe, steps, tmem, tbits, ibits + 1, params["IN_MODE"] == UNSIGNED_MODE, depth,
                                  next_address=True)
    # the channel counter t only addresses the thresholds: when they are the same in every word (no live
    # column; tfc-w1a1's first layer, untrained), nothing observes it and it is removed (opt_clean)
    ff = clog2(depth) if tff else 0
    parts = dict.fromkeys(LUT_COEF, 0.0)
    parts["control"] = float(ff)
    _add(parts, tparts)
    return _with_queue(ff + tff, parts, pe * obits)


def _with_queue(ff: int, parts: dict, width: int, depth: int = 2) -> Structure:
    qff, _, qparts = queue(width, depth)
    _add(parts, qparts)
    return Structure(ff + qff, 0, parts)


def fifo(width: int, depth: int) -> Structure:
    """hil_fifo.sv: an edge FIFO node (its storage, pointers and count)."""
    return _with_queue(0, dict.fromkeys(LUT_COEF, 0.0), width, depth)


def duplicatestreams(width: int) -> Structure:
    """hil_duplicatestreams.sv: the 2-word queue whose head both outputs show."""
    return _with_queue(0, dict.fromkeys(LUT_COEF, 0.0), width)


def addstreams(pe: int, obits: int) -> Structure:
    """hil_addstreams.sv: PE adders of OBITS bits (one LUT per bit on a carry chain) and the queue."""
    parts = dict.fromkeys(LUT_COEF, 0.0)
    parts["add"] = float(pe * obits)
    return _with_queue(0, parts, pe * obits)


def slice_mux_luts(r: int) -> float:
    """LUTs per output bit of hil_dwc's narrowing slice select `word[slice*OUT_W +: OUT_W]` of r slices
    (Yosys' $shiftx: a pruned tree of r - 1 2:1 muxes per bit): one LUT6 up to 4:1; wider, ABC maps
    the tree at two muxes per LUT (measured: 64 -> 4, r 16, 30 LUTs for its 4 bits; 16 -> 1, 7-8;
    32 -> 4, r 8, 14 for 4), not the 4:1 LUT6 + MUXF7/MUXF8 tree mux_luts counts."""
    return 0.0 if r <= 1 else (1.0 if r <= LUT_INPUTS - 2 else (r - 1) / 2)


def dwc(in_w: int, out_w: int) -> Structure:
    """hil_dwc.sv. An integer narrowing (IN_W = R x OUT_W): the word's slices 1..R-1 held, the slice
    counter, an R:1 select per output bit (slice_mux_luts) and the queue (FF exact on 13 narrowing
    shapes, LUT -5 .. +23 %). An integer widening (OUT_W = R x IN_W): slices 0..R-2 held under one
    enable LUT each, the counter and the queue (FF exact on 9 widening shapes, LUT -8 .. +27 %: 4 -> 64
    Yosys 86 / 79, 1 -> 28 70 / 69, 2 -> 4 15 / 19). Other ratios (8 -> 12, 9 -> 6): the IN_W + OUT_W
    bit buffer, its fill count and the queue; the buffer's shift by the fill count is a mux of log2
    levels per bit (measured when every DWC was built so: digits-mlp 4 -> 16, tfc-w1a1 1 -> 28, 2 -> 8,
    1 -> 8, half of their LUTs at one LUT per level)."""
    parts = dict.fromkeys(LUT_COEF, 0.0)
    if in_w > out_w and in_w % out_w == 0:
        r = in_w // out_w
        parts["mux"] = out_w * slice_mux_luts(r)
        parts["control"] = float(clog2(r))
        return _with_queue(in_w - out_w + clog2(r), parts, out_w)
    if out_w > in_w and out_w % in_w == 0:
        # an integer widening: slices 0..R-2 held, each loaded under its own decoded enable (a LUT of the
        # slice counter and fire), the counter; no shifter
        r = out_w // in_w
        parts["mux"] = float(r - 1)
        parts["control"] = float(clog2(r))
        return _with_queue(out_w - in_w + clog2(r), parts, out_w)
    bw = in_w + out_w
    # the fill count b only moves by IN_W and OUT_W: its low bits that both leave 0 stay 0 from reset
    # (opt_dff removes them; 3 of 5 bits for 4 -> 16)
    zeros = min((in_w & -in_w).bit_length(), (out_w & -out_w).bit_length()) - 1
    count_bits = max(0, clog2(bw + 1) - zeros)
    # the shift by b: clog2 levels of 2:1 muxes per bit, two levels (a 4:1) per LUT6
    parts["mux"] = float(bw * math.ceil(max(1, clog2(bw + 1)) / 2))
    parts["control"] = float(count_bits)
    return _with_queue(bw + count_bits, parts, out_w)


# ---- the stream templates' loop counters (hil_swg, hil_maxpool, hil_labelselect, hil_fmpadding) ----------
# Each counter is declared at the width of its range (it was an `int`: 32 FFs each, Yosys proves no
# range): a counter of N values holds clog2(N) FFs, none when N = 1 (a constant 0, removed by opt_dff).
# Compared with a constant it is logic, not a carry chain: each LUT6 folds 5 more bits into the result.


def _pow2(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def const_compare(*widths: int) -> float:
    """LUTs of compares of counters of these widths with constants."""
    return sum(widths) / (LUT_INPUTS - 1)


def divider_parts(width: int) -> dict:
    """A $div / $mod by a constant that is no power of two, as Yosys 0.23's techmap.v builds it
    (\$__div_mod_u): WIDTH stages, each a compare of the remainder with the divisor shifted (2*WIDTH
    bits), a WIDTH-bit subtract and a WIDTH-bit 2:1 select (measured at 32 bits: ~3,000 LUTs)."""
    return {"compare": 2.0 * width * width, "add": float(width * width), "mux": width * width / (LUT_INPUTS - 2)}


def const_mul(a_bits: int, c: int, y_max: int) -> tuple[int, int]:
    """(DSPs, product bits) of an unsigned a_bits-wide value times the constant c, its product cut to
    y_max bits (wreduce drops the unobserved upper bits). The constant's trailing zeros are a shift, its
    odd factor a multiplier: a DSP48E1 when both operands have 2 bits or more and the product, above the
    shift, 9 (mul2dsp's minimum widths; as weight_address_dsp)."""
    if a_bits <= 0:
        return 0, 0
    y = min(y_max, a_bits + c.bit_length() - (1 if _pow2(c) else 0))
    zeros = (c & -c).bit_length() - 1
    odd = c >> zeros
    b = odd.bit_length()
    if odd == 1 or min(a_bits, b) < DSP_AB_MINWIDTH or min(a_bits + b, y - zeros) < DSP_Y_MINWIDTH:
        return 0, y
    return math.ceil(a_bits / (DSP_A_MAX - 1)) * math.ceil(b / (DSP_B_MAX - 1)), y


def fmpadding(p: dict) -> Structure:
    """hil_fmpadding.sv: counters y < OH, x < OW, c < CF (increments; compares: c+1 < CF, x+1 < OW,
    y+1 < OH and the four border tests of `reads`), the zero mux and the queue."""
    yw, xw, cw = clog2(p["OH"]), clog2(p["OW"]), clog2(p["CF"])
    parts = dict.fromkeys(LUT_COEF, 0.0)
    parts["add"] = float(yw + xw + cw)
    parts["compare"] = const_compare(cw, xw, yw, yw, yw, xw, xw)
    parts["mux"] = p["WIDTH"] * mux_luts(2)  # reads ? in_data : '0
    return _with_queue(yw + xw + cw, parts, p["WIDTH"])


def labelselect(p: dict) -> Structure:
    """hil_labelselect.sv: the firing counter j < NIN + K, K (value, label) registers of IBITS+1 and
    label bits (no reset), per input lane and slot two
    compares and the insertion muxes, the label read mux and the queue."""
    # a label is < LABELS: with one slot, its bits above clog2(LABELS) are 0 or held, and opt_dff makes
    # them constants (the registers have no reset), in the queue too (labelselect 10 p1 k1: 4 of OBITS
    # 8); with K slots they also take each other's bits (the shift), which opt_dff does not see through
    # (labelselect 10 p2 k3: all 24)
    pe, k, vb = p["PE"], p["K"], p["IBITS"] + 1
    ob = min(p["OBITS"], max(1, clog2(p["LABELS"]))) if k == 1 else p["OBITS"]
    jw = clog2(p["LABELS"] // pe + k)
    parts = dict.fromkeys(LUT_COEF, 0.0)
    parts["add"] = 2.0 * jw + pe * ob  # j + 1, j - NIN; the label j*PE + p at OBITS bits
    parts["compare"] = const_compare(jw, jw, jw, jw) + pe * k * 2 * vb  # j < NIN, == NIN+K-1, == 0, >= NIN; v > nvals
    # per lane and slot: the value and label select of three sources (keep, shift down, insert); the
    # queue's label read mux over K slots
    parts["mux"] = pe * k * (vb + ob) * mux_luts(3) + ob * mux_luts(k)
    parts["control"] = float(k)
    return _with_queue(jw + k * (vb + ob), parts, ob)


def maxpool(p: dict) -> Structure:
    """hil_maxpool.sv: the firing counter j < K*IFM + OFM, the pixel column px < IFM (a counter), the
    pooled column px / K and px % K (dividers unless K is a power of two: not measured), the row of
    OFM maxima (a memory with two async read ports: the fold and the queue), C compares and 2:1 selects
    of BITS+1 bits, and the queue."""
    ifm, k, c, bits = p["IFM"], p["K"], p["C"], p["BITS"]
    ofm, width = ifm // k, c * bits
    jw, pw = clog2(k * ifm + ofm), clog2(ifm)
    parts = dict.fromkeys(LUT_COEF, 0.0)
    parts["add"] = 2.0 * jw + pw  # j + 1, j - NREAD, px + 1
    # j < NREAD, j == last, j < IFM, px == IFM-1, col < OFM; the maxima
    parts["compare"] = const_compare(jw, jw, jw, pw, pw) + c * (bits + 1)
    parts["mux"] = width * mux_luts(2)  # the fold: first || a > b ? a : b
    if not _pow2(k):
        for _ in range(2):  # px / K, px % K
            _add(parts, divider_parts(max(pw, clog2(k + 1))))
    row = storage(ofm, width, read_ports=2, registered=False) if ofm > 1 else Storage(0, width, 0.0)
    parts[LUTRAM] = row.luts
    parts["mux"] += row.mux_luts
    qff, _, qparts = queue(width)
    _add(parts, qparts)
    return Structure(jw + pw + row.ff + qff, 0, parts)


def swg_geometry(p: dict) -> dict:
    """hil_swg.sv's localparams."""
    k, s, ifm, ofm, cf, ks = (p[n] for n in ("K", "S", "IFM", "OFM", "CF", "KS"))
    line = ifm * cf if ks else s * ifm * cf
    write_block, read_block = ofm * k * k * cf, (ifm * s * cf if ks else s * ifm * cf)
    max_cycles = max(write_block, read_block)
    base = (ifm * k * cf + (ofm - 1) * max_cycles + max(write_block, ofm)) if ks else ifm * k * cf + ofm * max_cycles
    buf = (k + s if ks else k // s + 1) * line
    return {"LINE_LEN": line, "MAX_CYCLES": max_cycles, "BASE": base, "INITIAL": ifm * k * cf,
            "ROWS_TO_READ": ifm if ks else ifm // s, "BUF": buf, "FRAME": ifm * ifm * cf}


def swg(p: dict) -> Structure:
    """hil_swg.sv: eleven loop counters at their ranges' widths (t, inp, counter, cur_line,
    read_block_n, count_simd, k_x, k_y, ofm_x, ofm_y, the write slot), their increments and compares,
    the read address ((oy*S + ky)*IFM + ox*S + kx)*CF + c at AW bits (constant multipliers: shifts or
    DSPs) mod BUF (a divider of AW bits unless BUF is a power of two), the BUF x WIDTH line buffer
    (LUTRAM, async read at that address) and the queue."""
    k, s, ifm, ofm, cf, width, ks = (p[n] for n in ("K", "S", "IFM", "OFM", "CF", "WIDTH", "KS"))
    g = swg_geometry(p)
    buf = g["BUF"]
    tw, iw, nw, lw = clog2(g["BASE"]), clog2(g["INITIAL"] + 1), clog2(g["MAX_CYCLES"]), clog2(g["LINE_LEN"])
    rw, cw, kw, ow, bw = clog2(g["ROWS_TO_READ"] + 1), clog2(cf), clog2(k), clog2(ofm), clog2(buf)
    aw = max(clog2(g["FRAME"]), clog2(buf + 1))
    counters = tw + iw + nw + lw + rw + cw + 2 * kw + 2 * ow + bw
    # the address: oy*S + ky, times IFM, + ox*S + kx, times CF, + c; each sum one bit wider, cut at AW
    d1, y1 = const_mul(ow, s, aw)
    d2, y2 = const_mul(min(aw, max(y1, kw) + 1), ifm, aw)
    d3, y3 = const_mul(ow, s, aw)
    d4, y4 = const_mul(min(aw, max(y2, y3, kw) + 2), cf, aw)
    parts = dict.fromkeys(LUT_COEF, 0.0)
    parts["add"] = float(counters + 4 * aw)
    parts["compare"] = const_compare(iw, nw, rw, nw, rw * ks, tw, bw, lw, cw, kw, kw, ow, ow, nw)
    if not _pow2(buf):
        _add(parts, divider_parts(aw))  # the read address % BUF
    mem = storage(buf, width, registered=False)
    parts[LUTRAM] = mem.luts
    parts["mux"] = mem.mux_luts
    qff, _, qparts = queue(width)
    _add(parts, qparts)
    return Structure(counters + mem.ff + qff, d1 + d2 + d3 + d4, parts)
