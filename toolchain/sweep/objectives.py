"""Objectives and constraints: the numbers a trial reports, their direction, and feasibility."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict

from toolchain.sweep.schema import Constraints, Objective


class Measures(BaseModel):
    """Every number a trial can be judged on (None until the stage that measures it has run)."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    accuracy: Optional[float] = None
    lut: Optional[float] = None
    latency: Optional[float] = None  # ns
    energy: Optional[float] = None  # pJ per inference
    bops: Optional[float] = None
    fits: Optional[bool] = None

    def value(self, objective: Objective) -> float:
        v = getattr(self, objective.value)
        if v is None:
            raise ValueError(f"objective {objective.value} was not measured (the cost model gives no "
                             f"{objective.value} for this design)")
        return float(v)


def directions(objectives: list[Objective]) -> list[str]:
    return ["maximize" if o.maximise else "minimize" for o in objectives]


def hardware_violation(c: Constraints, m: Measures) -> Optional[str]:
    """Why the estimate alone rules the point out (no training needed), or None."""
    if c.fits and m.fits is False:
        return "does not fit the part"
    if c.latency_ns_max is not None and m.latency is not None and m.latency > c.latency_ns_max:
        return f"latency {m.latency:.6g} ns > {c.latency_ns_max:g} ns"
    return None


def violation(c: Constraints, m: Measures) -> Optional[str]:
    """Why a trained point is infeasible, or None."""
    why = hardware_violation(c, m)
    if why is None and c.accuracy_min is not None and m.accuracy is not None and m.accuracy < c.accuracy_min:
        why = f"accuracy {m.accuracy:.4f} < {c.accuracy_min:g}"
    return why
