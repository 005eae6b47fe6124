"""Non-dominated sorting, checked against a brute-force definition on random points."""

from __future__ import annotations

import numpy as np

from toolchain.sweep.pareto import dominates, front_indices


def test_front_of_a_known_set():
    pts = [[1, 5], [2, 2], [5, 1], [3, 3], [2, 2.5], [6, 6]]
    assert front_indices(pts) == [0, 1, 2]


def test_front_matches_brute_force():
    rng = np.random.default_rng(0)
    pts = rng.integers(0, 6, size=(60, 3)).tolist()
    front = set(front_indices(pts))
    for i, p in enumerate(pts):
        beaten = any(all(q[k] <= p[k] for k in range(3)) and q != p for q in pts)
        assert (i in front) == (not beaten)
    assert not dominates([1, 1], [1, 1])
