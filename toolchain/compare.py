"""The one definition of "equal" the toolchain uses to verify a stage against the one before it:
torch ≡ QONNX (export), dataflow ≡ QONNX (lower), emulator ≡ QONNX (emulate), C-sim ≡ emulator
(backends/csim.py).

    c = compare_outputs(reference, candidate)                         # values
    c = compare_outputs(scores, labels, kind=OutputKind.LABELS)       # top-K labels vs source scores
    c.mismatches, c.max_abs_diff, c.verdict

Exact, per sample: a sample mismatches when any of its outputs differs; there is no tolerance (the
pipeline is integer arithmetic with power-of-two scales, so every stage is bit-exact or wrong).
* values: a candidate computed exactly (float64) is rounded to the reference's precision first when
  the reference is float32 (torch and qonnx execute in float32, so that rounding is what they do);
* labels: the candidate's K labels per sample must be distinct and pick K largest reference scores;
  where scores tie, either label is right (ONNX TopK and FINN's LabelSelect both take the lower index,
  but the reference scores may tie in float32 where the integers do not). When reference and
  candidate have the same width, both are labels and are compared as values.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from toolchain.contract import OutputKind
from toolchain.errors import UserError


class Verdict(str, Enum):
    EXACT = "exact"  # every sample equal
    TIES = "ties"  # labels: equal up to ties in the reference scores
    DIFFERS = "differs"


@dataclass(frozen=True)
class Comparison:
    samples: int
    mismatches: int
    max_abs_diff: float  # values: max |reference - candidate|; labels: max score gap of a wrong label
    verdict: Verdict

    def to_json(self) -> dict:
        return {"samples": self.samples, "mismatches": self.mismatches}


def compare_outputs(reference: np.ndarray, candidate: np.ndarray,
                    kind: OutputKind = OutputKind.VALUES) -> Comparison:
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    n = len(reference)
    if len(candidate) != n:
        raise UserError(f"output batch sizes differ: {reference.shape} vs {candidate.shape}")
    ref, cand = reference.reshape(n, -1), candidate.reshape(n, -1)
    if kind is OutputKind.LABELS and ref.shape[1] != cand.shape[1]:
        return _labels(ref.astype(np.float64), cand)
    if ref.shape != cand.shape:
        raise UserError(f"output shapes differ: {reference.shape} vs {candidate.shape}")
    if ref.dtype == np.float32 and cand.dtype != np.float32:
        cand = cand.astype(np.float32)
    diff = np.abs(ref.astype(np.float64) - cand.astype(np.float64))
    bad = int((diff != 0).any(axis=1).sum())
    return Comparison(int(n), bad, float(diff.max(initial=0.0)), Verdict.DIFFERS if bad else Verdict.EXACT)


def _labels(scores: np.ndarray, labels: np.ndarray) -> Comparison:
    n, k = labels.shape
    idx = labels.astype(np.int64)
    if (labels != idx).any() or idx.min(initial=0) < 0 or idx.max(initial=0) >= scores.shape[1]:
        return Comparison(int(n), int(n), float("inf"), Verdict.DIFFERS)
    picked = np.sort(np.take_along_axis(scores, idx, axis=1), axis=1)[:, ::-1]
    best = -np.sort(-scores, axis=1)[:, :k]
    distinct = np.array([len(set(row)) == k for row in idx])
    ok = np.all(picked == best, axis=1) & distinct
    gap = np.where(distinct[:, None], best - picked, np.inf)
    first_k = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # lower index first among ties
    strict = np.all(np.sort(idx, axis=1) == np.sort(first_k, axis=1), axis=1)
    bad = int((~ok).sum())
    verdict = Verdict.DIFFERS if bad else (Verdict.EXACT if strict.all() else Verdict.TIES)
    return Comparison(int(n), bad, float(gap.max(initial=0.0)), verdict)
