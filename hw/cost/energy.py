"""Energy per frame, Accelergy style: E = sum over actions of count x energy per action.

Action counts come from each op's parameters and its actual weights (one frame); the energy table
is Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm (docs/timing.md §2): integer
add 0.1 pJ at 32 b scaling with b, integer multiply 3.1 pJ at 32x32 b scaling with w·a (the b and
b^2 scaling the reference checks against the 8-bit entries), 10 pJ per 64-bit read of an 8 KB SRAM,
1.3-2.6 nJ per 64 bits of DRAM. These are ASIC numbers: figures are relative weights for comparing
designs (ENERGY_UNITS), not FPGA joules.

    node_actions(model, node) -> list[ActionCount]
    node_energy_pj(model, node) -> float

Each op's action counts are its `energy_actions(ctx)` method (hw/ops/<op>.py); this module imports
no op.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from hw.cost.calibrated import NodeContext

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

    return [a for a in getCustomOp(node).energy_actions(NodeContext(model, node)) if a.count > 0]


def node_energy_pj(model, node) -> float:
    return float(sum(a.energy_pj() for a in node_actions(model, node)))


def threshold_actions(thr: np.ndarray, channels: int, pe: int, bits: int, vec: int) -> list[ActionCount]:
    """Compares of a threshold activation, and its threshold-memory reads when a PE serves several
    channels (MVAU with activation, Thresholding)."""
    steps = thr.shape[1]
    out = [ActionCount(Action.ADD, vec * channels * steps, (bits,), "threshold compares")]
    if channels // pe > 1:  # thresholds read from memory, one PE word per output word
        out.append(ActionCount(Action.SRAM, vec * channels // pe, (pe * steps * bits,), "threshold reads"))
    return out
