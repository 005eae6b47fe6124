"""One definition of "equal" for every stage that compares a design with its source.

    result = compare(candidate, reference)                       # exact, values
    result = compare(labels, scores, labels=True)                # top-K labels against source scores
    result = compare(y, y_src, tolerance=t, tie_check=check)     # stated tolerance, ties with evidence

A sample *differs* when any of its elements differs by more than `tolerance` (0: bit-exact), or, for
labels, unless the candidate's K labels are distinct and select K largest reference values (so equal
reference scores may be broken either way, as ONNX TopK and LabelSelect break them differently).
A differing sample is a *tie* only when `tie_check` returns evidence for it (lower: the source's own
float32 pre-activation lies within float32 rounding of a quantization threshold, so the source's
rounding, not the design, decided it); every other differing sample is a *mismatch*. Nothing is
hidden: samples = equal + ties + mismatches, and max_abs_diff is over all samples.
label_agreement: the fraction of samples whose candidate top-1 label (argmax) is a top-1 label of the
reference: its reference score is the largest up to `tolerance` (equal scores may be broken either way;
a float-scaled network has many scores that are equal in exact arithmetic and differ by an ulp in
float32).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np

from toolchain.errors import UserError

TieCheck = Callable[[np.ndarray], np.ndarray]  # differing sample indices -> bool evidence per index


@dataclass(frozen=True)
class Equality:
    samples: int
    mismatches: int  # differing samples without tie evidence
    ties: int  # differing samples with tie evidence
    max_abs_diff: float
    label_agreement: float
    tolerance: float = 0.0

    @property
    def equal(self) -> int:
        return self.samples - self.mismatches - self.ties

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def combine(cls, parts: "list[Equality]") -> "Equality":
        """One result over consecutive chunks of samples (counts add; agreement weighted by samples)."""
        n = sum(p.samples for p in parts)
        return cls(samples=n, mismatches=sum(p.mismatches for p in parts), ties=sum(p.ties for p in parts),
                   max_abs_diff=max((p.max_abs_diff for p in parts), default=0.0),
                   label_agreement=(sum(p.label_agreement * p.samples for p in parts) / n) if n else 1.0,
                   tolerance=max((p.tolerance for p in parts), default=0.0))


def _label_differs(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    k = labels.shape[1]
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= scores.shape[1]:
        return np.ones(len(labels), dtype=bool)
    idx = labels.astype(np.int64)
    picked = -np.sort(-np.take_along_axis(scores, idx, axis=1), axis=1)
    best = -np.sort(-scores, axis=1)[:, :k]
    distinct = np.array([len(set(r)) == k for r in idx])
    return ~((picked == best).all(axis=1) & distinct)


def compare(candidate: np.ndarray, reference: np.ndarray, *, labels: bool = False, tolerance: float = 0.0,
            tie_check: Optional[TieCheck] = None) -> Equality:
    """Compare per sample (the first axis); see the module docstring."""
    n = len(reference)
    if len(candidate) != n:
        raise UserError(f"{len(candidate)} outputs for {n} reference samples")
    candidate = np.asarray(candidate)
    if np.asarray(reference).dtype == np.float32 and candidate.dtype == np.float64:
        candidate = candidate.astype(np.float32)  # the source computes in float32: so is its answer rounded
    cand = np.asarray(candidate, dtype=np.float64).reshape(n, -1)
    ref = np.asarray(reference, dtype=np.float64).reshape(n, -1)
    if labels:
        differs = _label_differs(cand, ref)
        diff = np.zeros(n)
        top = cand[:, 0] if cand.size else np.zeros(n)
    else:
        if cand.shape != ref.shape:
            raise UserError(f"output shapes differ: {candidate.shape} vs the source's {reference.shape}")
        d = np.abs(cand - ref)
        diff = d.max(axis=1, initial=0.0)
        differs = diff > tolerance
        top = np.argmax(cand, axis=1) if cand.shape[1] else np.zeros(n)
    if n and ref.shape[1] and top.size:
        picked = np.take_along_axis(ref, np.clip(top.astype(np.int64), 0, ref.shape[1] - 1)[:, None], axis=1)[:, 0]
        agree = float(np.mean(picked >= ref.max(axis=1) - tolerance))
    else:
        agree = 1.0
    bad = np.flatnonzero(differs)
    ties = 0
    if len(bad) and tie_check is not None:
        ties = int(np.asarray(tie_check(bad), dtype=bool).sum())
    return Equality(samples=int(n), mismatches=int(len(bad) - ties), ties=ties,
                    max_abs_diff=float(diff.max(initial=0.0)), label_agreement=agree, tolerance=float(tolerance))


def compare_design(io, y_int: np.ndarray, y_src: np.ndarray, tie_check: Optional[TieCheck] = None) -> Equality:
    """A dataflow design's integer outputs against its source's outputs, as every stage compares them
    (lower, emulate): labels against the source's scores; values decoded through the design's
    hil_io contract (toolchain.contract.IOContract.decode) within its stated tolerance (0 unless
    float output steps are recorded)."""
    from toolchain.contract import OutputKind

    n = len(y_src)
    y_int = np.asarray(y_int).reshape(n, -1)
    if io.output_kind is OutputKind.LABELS:
        return compare(y_int, np.asarray(y_src).reshape(n, -1), labels=True, tie_check=tie_check)
    decoded = io.decode(y_int)
    return compare(decoded, np.asarray(y_src).reshape(n, -1), tolerance=io.output_tolerance(y_src),
                   tie_check=tie_check)
