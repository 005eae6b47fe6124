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
  ACC_W per PE when SF > 1 (noActivation without DSPs: the OBITS low bits only);
  the 2-word output queue (hil_fifo DEPTH 2) as its memory rule says.

FF, DSP and BRAM are counts of these structures, exact for the templates as they are. LUT is the
sum of the structures' LUT counts (ROM logic per bit column, comparators and adders one LUT per
bit on a CARRY4 chain, fabric multipliers, muxes), scaled by coefficients fitted once on the fit
set of scripts/bench_synth.py (even rows) and checked on its held-out set (odd rows); LUT includes
LUTRAM, as Vivado's "CLB LUTs" and toolchain/backends/synth.py count it.

Not measured yet (so not claimed exact): an MVAU whose weight memory has one word (NF*SF = 1, the
products are by constants, which Yosys may shift or drop instead of mapping to DSPs), fabric-only
noActivation layers with OBITS < ACC_W, and the families other than xc7. FIFO nodes of 3, 4, 33,
64 and 256 words measured: FF and LUTRAM exact; the logic LUTs of a FIFO deeper than one 128-word
LUTRAM cell (read mux, address decode) are underestimated (256 x 4 bits: 84 LUT modelled, 144 by Yosys).
The stream templates (SWG, StreamingMaxPool, LabelSelect, FMPadding; their `int` counters below):
n_read's width measured at BUF 16, 32 and 64 only; a SWG whose multiplier product wreduce cuts below
32 bits, a LabelSelect with OBITS >= 9 and PE no power of two (j*PE), and constant value-register bits
of LabelSelect are not measured. Their LUT is counted with the MVAU/Thresholding coefficients, none
refitted: -36 % .. +15 % per instance on the 10 probed (tests/cost_rtl/test_rtl_stream_ops.py).
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
# the fit set of scripts/bench_synth.py only (its even rows, 14 layers; `--fit` re-derives them) after
# the counted parts (COUNTED, coefficient 1) are taken off Yosys' LUTs. Measured there, Yosys 0.23 xc7:
# held-out LUT error mean 10 %, max 19 % (14 layers); fit set mean 8 %, max 34 % (thr 64 p2: its
# registered threshold ROM at depth 32, where ABC spends 4 LUTs per column instead of ~2).
LUT_COEF = {"rom": 0.548, "compare": 0.92, "count": 1.315, "add": 0.989, "mult": 4.544, "mux": 1.0, "control": 2.411}
LUTRAM = "lutram"  # the LUTs of LUTRAM cells: counted, not fitted (coefficient 1)
DSP_PORT = "dsp_port"  # the LUTs whose only loads are DSP48E1 A/B pins (hil_mvau's ROM, x mux): counted
REG_ROM = "rom_reg"  # a registered ROM's column LUTs (loads: flip-flops only; threshold_parts): counted
# muxes are counted too: their parts are LUT counts already (inputs / 4 per bit); fitted, the coefficient
# went to 0 on the MVAU/Thresholding fit set (where the muxes are a few percent) and the stream ops'
# muxes (DWC, SWG, LabelSelect) would count nothing
CMP_CARRY = "compare_carry"  # comparator LUTs whose loads are CARRY4 pins (compare_luts): counted
COUNTED = (LUTRAM, DSP_PORT, REG_ROM, CMP_CARRY, "mux")


def clog2(n: int) -> int:
    return max(0, math.ceil(math.log2(n))) if n > 1 else 0


def words_of(memh: str) -> list[int]:
    """The words of a $readmemh file (hw/ops/rtl memh)."""
    return [int(line, 16) for line in memh.split()]


def rom_columns(words: list[int], width: int) -> int:
    """Distinct non-constant bit columns of a ROM: what survives constant folding and merging."""
    if not words or width <= 0:
        return 0
    bits = np.array([[(w >> i) & 1 for i in range(width)] for w in words], dtype=np.uint8)
    live = bits[:, bits.min(axis=0) != bits.max(axis=0)]
    return len({col.tobytes() for col in live.T})


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
    """LUT6s of one bit column of a `depth`-word ROM as logic: one LUT6 per 64 words (MUXF7/F8,
    not LUTs, join up to four of them), one more LUT level per 4 x 64 words beyond."""
    if depth <= 1:
        return 0.0
    if depth <= 2 ** LUT_INPUTS:
        return 1.0
    leaves = math.ceil(depth / 2 ** LUT_INPUTS)
    return leaves + max(0, math.ceil(leaves / 4) - 1)


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
    return Storage(0, depth * width + copy, read_ports * width * (depth - 1) / (LUT_INPUTS - 2) if depth > 1 else 0.0)


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
                    depth: int) -> tuple[int, dict]:
    """The comparators (compare_luts), the thermometer count, and the threshold ROM: registered (one FF
    per distinct live column) when it has more than one word.

    A registered column (memory_dff: the ROM read at the counter's next value, the register after it)
    is a function of the counter's clog2(depth) bits, its enable and the reset, and its loads are
    flip-flops, so nothing downstream shares its LUTs: while that is at most 6 inputs, one LUT6 per
    column, counted (REG_ROM; thr 16 p2 at depth 8: 67 LUTs for 69 columns, thr 48 p4 at depth 12:
    157 for 147). Deeper, ABC reads the ROM at the counter and at its increment and selects, sharing
    what it finds between columns: 1.7 LUTs per column on thr 32 p1's 111 columns at depth 32, 1.9 on
    thr 128 p4's 203, 4 on thr 64 p2's 24; so that ROM stays a fitted part (rom_luts of 4 x depth)."""
    word_bits = pe * steps * tbits
    cols = rom_columns(tmem_words, word_bits) if depth > 1 else 0
    carry, logic = compare_luts(tmem_words, pe, steps, tbits, a_bits, a_const_msb)
    parts = {CMP_CARRY: carry, "compare": logic, "count": pe * steps}
    if clog2(depth) + 2 <= LUT_INPUTS:
        parts[REG_ROM] = float(cols)
    else:
        parts["rom"] = cols * rom_luts(4 * depth)
    return cols, parts


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
    _add(parts, {port or "rom": rom_columns(wmem, pe * simd * wbits) * rom_luts(nf * sf)})
    # input buffer ibuf[SF], replayed while nf > 0: gone when NF = 1 (never read)
    if nf > 1:
        buf = storage(sf, simd * ibits)
        ff += buf.ff
        parts[LUTRAM] = parts.get(LUTRAM, 0.0) + buf.luts
        # the reads ? in_data : ibuf[sf] mux: a 2:1 per bit after a LUTRAM read port, an (SF+1):1 per
        # bit over a flip-flop buffer (one LUT6 per 4 inputs; not measured with DSPs)
        if port:
            _add(parts, {port: simd * ibits * (1 if buf.lutram_cells else math.ceil((sf + 1) / 4))})
        else:
            parts["mux"] += buf.mux_luts + simd * ibits
    # noActivation outputs the OBITS low bits: the accumulator's upper bits observe nothing and are
    # removed, unless a DSP48E1 post-adder reads the whole accumulator (digits-mlp's last layer)
    acc_bits = acc_w if has_thr or dsp else min(acc_w, obits)
    if dsp:  # the DSP48E1 post-adders take the dot chain (xilinx_dsp cascades a PE's SIMD products
        # through PCIN/PCOUT: 14 of the 16 DSP48E1s of mvau 64x8 p2s8); the accumulator stays in fabric
        parts["add"] += pe * acc_add * acc_bits
    else:
        parts["add"] += pe * (simd - 1 + acc_add) * acc_bits
        if not xnor:
            parts["mult"] += pe * simd * ibits * wbits
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
    ff = clog2(depth)
    parts = dict.fromkeys(LUT_COEF, 0.0)
    parts["control"] = float(clog2(depth))
    tff, tparts = threshold_parts(pe, steps, tmem, tbits, ibits + 1, params["IN_MODE"] == UNSIGNED_MODE, depth)
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


def dwc(in_w: int, out_w: int) -> Structure:
    """hil_dwc.sv: the IN_W + OUT_W bit buffer, its fill count and the queue; the buffer's shift by the
    fill count is a mux of log2 levels per bit."""
    bw = in_w + out_w
    # the fill count b only moves by IN_W and OUT_W: its low bits that both leave 0 stay 0 from reset
    # (opt_dff removes them; 3 of 5 bits for 4 -> 16)
    zeros = min((in_w & -in_w).bit_length(), (out_w & -out_w).bit_length()) - 1
    count_bits = max(0, clog2(bw + 1) - zeros)
    parts = dict.fromkeys(LUT_COEF, 0.0)
    parts["mux"] = float(bw * max(1, clog2(bw + 1)) / (LUT_INPUTS - 2))
    parts["control"] = float(count_bits)
    return _with_queue(bw + count_bits, parts, out_w)


# ---- the stream templates' `int` loop counters (hil_swg, hil_maxpool, hil_labelselect, hil_fmpadding) ----
# A SystemVerilog `int` is 32 signed bits, and Yosys keeps all of them: its passes prove no register's
# range (no reachability analysis), and a signed compare (`c + 1 < CF`) observes every bit, even where
# the counter never leaves 0 (CF = 1: measured, still 32 FFs). Only a counter whose uses read its low
# bits alone loses the rest (opt_clean: hil_swg's n_read % BUF with BUF a power of two).
INT_BITS = 32
# an int compared with a constant is logic, not a carry chain (the measured CARRY4s are the adders'):
# each LUT6 folds 5 more bits into the running result
CONST_CMP = INT_BITS / (LUT_INPUTS - 1)


def _pow2(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def divider_parts(width: int = INT_BITS) -> dict:
    """A $div / $mod by a constant that is no power of two, as Yosys 0.23's techmap.v builds it
    (\\$__div_mod_u): WIDTH stages, each a compare of the remainder with the divisor shifted (2*WIDTH
    bits), a WIDTH-bit subtract and a WIDTH-bit 2:1 select."""
    return {"compare": 2.0 * width * width, "add": float(width * width), "mux": width * width / (LUT_INPUTS - 2)}


def const_mul_dsp(c: int, bits: int = INT_BITS) -> int:
    """DSPs of a `bits`-wide int times the constant c: a power of two is a shift (opt_expr); else
    mul2dsp on a bits x (bits of c, signed) product, split at 25 bits (SWG's 32-bit address x IFM 3:
    2 DSPs). `bits` < 32: the product's unobserved upper bits cut by wreduce (not measured)."""
    odd = c >> ((c & -c).bit_length() - 1)  # trailing zeros: a shift (as weight_address_dsp)
    return 0 if odd == 1 else dsp_per_multiplier(bits, odd.bit_length() + 1)


def fmpadding(p: dict) -> Structure:
    """hil_fmpadding.sv: int counters y, x, c (increments; compares: c+1 < CF, x+1 < OW, y+1 < OH and
    the four border tests of `reads`), the zero mux and the queue."""
    parts = dict.fromkeys(LUT_COEF, 0.0)
    parts["add"] = 3.0 * INT_BITS
    parts["compare"] = 7.0 * CONST_CMP
    parts["mux"] = p["WIDTH"] / (LUT_INPUTS - 2)
    return _with_queue(3 * INT_BITS, parts, p["WIDTH"])


def labelselect(p: dict) -> Structure:
    """hil_labelselect.sv: the int firing counter j, K (value, label) registers of IBITS+1 and OBITS
    bits (no reset: their constant bits would go, none measured), per input lane and slot two
    compares and the insertion muxes, the label read mux and the queue."""
    pe, k, vb, ob = p["PE"], p["K"], p["IBITS"] + 1, p["OBITS"]
    parts = dict.fromkeys(LUT_COEF, 0.0)
    parts["add"] = 2.0 * INT_BITS + pe * ob  # j + 1, j - NIN; the label j*PE + p at OBITS bits
    parts["compare"] = 4.0 * CONST_CMP + pe * k * 2 * vb  # j < NIN, j == NIN+K-1, j == 0, j >= NIN; v > nvals
    parts["mux"] = (pe * k * 2 * (vb + ob) + ob * (k - 1)) / (LUT_INPUTS - 2)
    parts["control"] = float(k)
    return _with_queue(INT_BITS + k * (vb + ob), parts, ob)


def maxpool(p: dict) -> Structure:
    """hil_maxpool.sv: the int counter j, the pooled column (j % IFM) / K and j % K (dividers unless
    powers of two), the row of OFM maxima (a memory with two async read ports: the fold and the
    queue), C compares and 2:1 selects of BITS+1 bits, and the queue."""
    ifm, k, c, bits = p["IFM"], p["K"], p["C"], p["BITS"]
    ofm, width = ifm // k, c * bits
    parts = dict.fromkeys(LUT_COEF, 0.0)
    parts["add"] = 2.0 * INT_BITS  # j + 1, j - NREAD
    parts["compare"] = 4.0 * CONST_CMP + c * (bits + 1)  # j < NREAD, j == last, j < IFM, col < OFM; the maxima
    parts["mux"] = width / (LUT_INPUTS - 2)
    for d in (ifm, k, k):  # j % IFM, / K, j % K
        if not _pow2(d):
            _add(parts, divider_parts())
    ff = INT_BITS
    row = storage(ofm, width, read_ports=2, registered=False) if ofm > 1 else Storage(0, width, 0.0)
    ff += row.ff
    parts[LUTRAM] = row.luts
    parts["mux"] += row.mux_luts
    qff, _, qparts = queue(width)
    _add(parts, qparts)
    return Structure(ff + qff, 0, parts)


def swg_n_read_bits(buf: int) -> int:
    """FFs Yosys keeps of hil_swg's n_read (used only as n_read % BUF, the write address): all 32 unless
    BUF is a power of two; then log2(BUF) rounded up to a multiple of 4 (measured: BUF 16 -> 4,
    32 -> 8, 64 -> 8; the signed $mod's remainder is built in 4-bit groups)."""
    return 4 * math.ceil(int(math.log2(buf)) / 4) if _pow2(buf) and buf > 1 else INT_BITS


def swg(p: dict) -> Structure:
    """hil_swg.sv: ten int loop counters (t, inp, counter, cur_line, read_block_n, count_simd, k_x,
    k_y, ofm_x, ofm_y) and n_read, their increments and compares, the read address
    (((oy*S + ky)*IFM + ox*S + kx)*CF + c) % BUF (constant multipliers: shifts or DSPs; % BUF a
    divider unless BUF is a power of two, as is n_read % BUF), the BUF x WIDTH line buffer (LUTRAM,
    async read at that address) and the queue."""
    k, s, ifm, ofm, cf, width, ks = (p[n] for n in ("K", "S", "IFM", "OFM", "CF", "WIDTH", "KS"))
    nb = k + s if ks else k // s + 1
    buf = nb * (ifm * cf if ks else s * ifm * cf)
    n_read = swg_n_read_bits(buf)
    parts = dict.fromkeys(LUT_COEF, 0.0)
    # increments; the address's four sums, cut to the bits % BUF reads when BUF is a power of two
    # (wreduce drops the unobserved upper bits, as opt_clean drops n_read's)
    parts["add"] = 10.0 * INT_BITS + n_read + 4 * n_read
    parts["compare"] = (12 + ks) * CONST_CMP
    abits = n_read if _pow2(buf) else INT_BITS
    dsp = 2 * const_mul_dsp(s, abits) + const_mul_dsp(ifm, abits) + const_mul_dsp(cf, abits)
    if not _pow2(buf):
        for _ in range(2):  # read address % BUF, write address n_read % BUF
            _add(parts, divider_parts())
    mem = storage(buf, width, registered=False)
    parts[LUTRAM] = mem.luts
    parts["mux"] = mem.mux_luts
    qff, _, qparts = queue(width)
    _add(parts, qparts)
    return Structure(10 * INT_BITS + n_read + mem.ff + qff, dsp, parts)
