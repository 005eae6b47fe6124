"""Energy per frame, Accelergy style: E = sum over actions of count x energy per action.

Action counts come from each op's parameters and its actual weights (one frame); the energy table
is Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm (reference/emulator.md §2): integer
add 0.1 pJ at 32 b scaling with b, integer multiply 3.1 pJ at 32x32 b scaling with w·a (the b and
b^2 scaling the reference checks against the 8-bit entries), 10 pJ per 64-bit read of an 8 KB SRAM,
1.3-2.6 nJ per 64 bits of DRAM. These are ASIC numbers: figures are relative weights for comparing
designs (ENERGY_UNITS), not FPGA joules.

    node_actions(model, node) -> list[ActionCount]
    node_energy_pj(model, node) -> float
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from functools import singledispatch

import numpy as np

from hw.cost.calibrated import accumulator_bits, node_initializer
from hw.ops.addstreams import AddStreams
from hw.ops.duplicatestreams import DuplicateStreams
from hw.ops.dwc import DWC
from hw.ops.fifo import FIFO
from hw.ops.fmpadding import FMPadding
from hw.ops.labelselect import LabelSelect
from hw.ops.mvau import MVAU
from hw.ops.streamingmaxpool import StreamingMaxPool
from hw.ops.swg import SWG
from hw.ops.thresholding import Thresholding

ENERGY_UNITS = "pJ/frame, ASIC-45nm-relative (Horowitz ISSCC 2014)"
ADD_PJ_32 = 0.1  # 32-bit integer add (Horowitz); E_add ∝ bits
MULT_PJ_32 = 3.1  # 32x32-bit integer multiply (Horowitz); E_mult ∝ w·a
SRAM_PJ_64 = 10.0  # 64-bit read of an 8 KB SRAM (Horowitz); writes assumed equal
DRAM_PJ_64 = 1950.0  # midpoint of Horowitz's 1.3-2.6 nJ per 64 bits


class Action(str, Enum):
    MULT = "mult"  # bits = (w, a)
    ADD = "add"  # add or compare; bits = (b,)
    SRAM = "sram"  # on-chip memory access; bits = (word bits,)
    DRAM = "dram"  # off-chip access; bits = (word bits,)


@dataclass(frozen=True)
class ActionCount:
    action: Action
    count: float  # per frame
    bits: tuple[int, ...]
    what: str = ""  # e.g. "weight reads"

    def energy_pj(self) -> float:
        if self.action is Action.MULT:
            per = MULT_PJ_32 * self.bits[0] * self.bits[1] / 32**2
        elif self.action is Action.ADD:
            per = ADD_PJ_32 * self.bits[0] / 32
        elif self.action is Action.SRAM:
            per = SRAM_PJ_64 * self.bits[0] / 64
        else:
            per = DRAM_PJ_64 * self.bits[0] / 64
        return self.count * per


def node_actions(model, node) -> list[ActionCount]:
    from qonnx.custom_op.registry import getCustomOp

    return [a for a in op_actions(getCustomOp(node), model, node) if a.count > 0]


def node_energy_pj(model, node) -> float:
    return float(sum(a.energy_pj() for a in node_actions(model, node)))


@singledispatch
def op_actions(op, model, node) -> list[ActionCount]:
    raise NotImplementedError(f"{node.name}: no energy model for {type(op).__name__}")


@op_actions.register(DWC)
@op_actions.register(DuplicateStreams)
@op_actions.register(FMPadding)
def _passthrough(op, model, node) -> list[ActionCount]:
    """Register moves only: no entry in the energy table (0)."""
    return []


def _vec(op) -> int:
    return math.prod(op.a("numInputVectors")) if "numInputVectors" in op.ATTRS else 1


@op_actions.register
def _mvau(op: MVAU, model, node) -> list[ActionCount]:
    w = node_initializer(model, node, 1, "weights")
    pe, simd, mw, mh = op.a("PE"), op.a("SIMD"), op.a("MW"), op.a("MH")
    nf, sf, vec = mh // pe, mw // simd, _vec(op)
    idt, wdt = op.dt("inputDataType"), op.dt("weightDataType")
    thr = None if op.a("noActivation") else node_initializer(model, node, 2, "thresholds")
    if op.a("binaryXnorMode"):
        acc = accumulator_bits((w > 0).astype(np.int64), 0, 1, thr)
        out = [ActionCount(Action.ADD, vec * w.size, (1,), "xnor-popcount")]
        a_bits = w_bits = 1
    else:
        acc = accumulator_bits(w, int(idt.min()), int(idt.max()), thr)
        a_bits, w_bits = idt.bitwidth(), wdt.bitwidth()
        nnz = int(np.count_nonzero(w))  # zero weights are skipped
        out = [ActionCount(Action.MULT, vec * nnz, (w_bits, a_bits), "MAC multiplies"),
               ActionCount(Action.ADD, vec * nnz, (acc,), "MAC adds")]
    firings = vec * nf * sf
    if nf * sf > 1:  # one PE·SIMD weight word per firing
        mem = Action.DRAM if op.a("mem_mode") == "external" else Action.SRAM
        out.append(ActionCount(mem, firings, (pe * simd * w_bits,), "weight reads"))
    if sf > 1 and nf > 1:  # inputBuf: written once per vector, replayed for every nf
        out += [ActionCount(Action.SRAM, vec * sf, (simd * a_bits,), "input buffer writes"),
                ActionCount(Action.SRAM, firings, (simd * a_bits,), "input buffer reads")]
    if thr is not None:
        out += _threshold_actions(thr, mh, pe, acc, vec)
    return out


def _threshold_actions(thr: np.ndarray, channels: int, pe: int, bits: int, vec: int) -> list[ActionCount]:
    steps = thr.shape[1]
    out = [ActionCount(Action.ADD, vec * channels * steps, (bits,), "threshold compares")]
    if channels // pe > 1:  # thresholds read from memory, one PE word per output word
        out.append(ActionCount(Action.SRAM, vec * channels // pe, (pe * steps * bits,), "threshold reads"))
    return out


@op_actions.register
def _thresholding(op: Thresholding, model, node) -> list[ActionCount]:
    thr = node_initializer(model, node, 1, "thresholds")
    return _threshold_actions(thr, op.a("NumChannels"), op.a("PE"), op.dt("inputDataType").bitwidth(), _vec(op))


@op_actions.register
def _swg(op: SWG, model, node) -> list[ActionCount]:
    width = op.instream_width()
    return [ActionCount(Action.SRAM, op.words_in(), (width,), "line buffer writes"),
            ActionCount(Action.SRAM, op.words_out(), (width,), "line buffer reads")]


@op_actions.register
def _fifo(op: FIFO, model, node) -> list[ActionCount]:
    width = op.instream_width()
    return [ActionCount(Action.SRAM, op.words_in(), (width,), "FIFO writes"),
            ActionCount(Action.SRAM, op.words_out(), (width,), "FIFO reads")]


@op_actions.register
def _maxpool(op: StreamingMaxPool, model, node) -> list[ActionCount]:
    bits = op.dt("dataType").bitwidth()
    elems = math.prod(op.normal_input_shape())
    width = op.instream_width()
    return [ActionCount(Action.ADD, elems, (bits,), "max compares"),
            ActionCount(Action.SRAM, 2 * op.words_in(), (width,), "row buffer accesses")]


@op_actions.register
def _labelselect(op: LabelSelect, model, node) -> list[ActionCount]:
    return [ActionCount(Action.ADD, _vec(op) * op.a("Labels") * op.a("K"), (op.dt("inputDataType").bitwidth(),),
                        "top-K compares")]


@op_actions.register
def _addstreams(op: AddStreams, model, node) -> list[ActionCount]:
    return [ActionCount(Action.ADD, _vec(op) * op.a("NumChannels"), (op.output_datatype().bitwidth(),), "adds")]
