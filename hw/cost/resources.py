"""Typed resource counts, shared by every op and cost model."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class CostModel(str, Enum):
    """Which resource model an estimate uses."""

    FINN = "finn"  # FINN's res_estimation, formula for formula: finn-plus 1.6.1 (v0.10 where equal; docs/finn.md §3)
    CALIBRATED = "calibrated"  # ours: weight-aware, FF included (hw/cost/calibrated.py)
    SYNTH = "synth"  # Yosys synth_xilinx of the RTL backend's design, read back (hw/cost/synth.py)


@dataclass(frozen=True)
class Resources:
    LUT: float = 0.0
    FF: float = 0.0
    DSP: float = 0.0
    BRAM_18K: float = 0.0
    URAM: float = 0.0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple())))

    def as_tuple(self) -> tuple[float, float, float, float, float]:
        return (self.LUT, self.FF, self.DSP, self.BRAM_18K, self.URAM)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


KEYS = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")
