"""Folding as per-layer PE/SIMD bounds (issue 10, Deliver 1): the sampled bounds replace what SetFolding
chose for the target fps by the largest legal value below them, in the cheap estimate and the rebuild."""

from __future__ import annotations

import pytest

from tests.sweep.conftest import PRUNED_ONLY
from toolchain.errors import UserError
from toolchain.sweep.schema import parse_sweep
from toolchain.sweep.space import distributions, point_of, recipe_of


def test_bounds_are_searched_dimensions():
    sweep = parse_sweep({**PRUNED_ONLY, "space": {**PRUNED_ONLY["space"],
                                                  "layers": {"0": {"pe": [3, 64], "simd": [8]}}}})
    assert {"layer0.pe", "layer0.simd"} <= set(distributions(sweep.space))
    point = point_of({"weight_bits": 4, "act_bits": 4, "layer0.pe": 3, "layer0.simd": 8, "prune": "none",
                      "target_fps": 1e5, "part": "Pynq-Z2", "clock_ns": 10.0})
    assert point.folding_bounds() == {0: {"PE": 3, "SIMD": 8}}
    assert recipe_of(sweep, point).architecture.layers[0].weight_bits is None  # bounds are not bits
    with pytest.raises(UserError, match=r"space\.layers\.0\.pe\.0"):
        parse_sweep({**PRUNED_ONLY, "space": {"layers": {"0": {"pe": [0]}}}})


def test_the_estimate_uses_the_largest_legal_folding_within_the_bounds(tmp_path):
    """digits-mlp layer 0 is 64 -> 64: PE <= 3 gives PE 2 (divisors of 64), SIMD <= 8 gives 8; at
    1e7 fps SetFolding alone unrolls it much further. The other layers keep SetFolding's choice."""
    from toolchain.sweep.costing import design_estimate

    sweep = parse_sweep({"recipe": "digits-mlp", "trials": 1, "baseline": False})
    kw = dict(part="Pynq-Z2", target_fps=1e7, clock_ns=10.0)
    free = design_estimate(recipe_of(sweep, point_of({"weight_bits": 4, "act_bits": 4, "prune": "none",
                                                      "target_fps": 1e7, "part": "Pynq-Z2", "clock_ns": 10.0})), **kw)
    bounded = design_estimate(recipe_of(sweep, point_of({"weight_bits": 4, "act_bits": 4, "prune": "none",
                                                         "target_fps": 1e7, "part": "Pynq-Z2", "clock_ns": 10.0})),
                              bounds={0: {"PE": 3, "SIMD": 8}}, **kw)
    f0, b0 = free["layers"][0], bounded["layers"][0]
    assert f0["name"] == b0["name"] == "MVAU_0" and f0["PE"] * f0["SIMD"] > 16
    assert (b0["PE"], b0["SIMD"]) == (2, 8) and b0["cycles"] == 64 * 64 // 16
    assert [(l["PE"], l["SIMD"]) for l in bounded["layers"] if l["name"] == "MVAU_2"] == \
        [(l["PE"], l["SIMD"]) for l in free["layers"] if l["name"] == "MVAU_2"]
    assert bounded["network"]["estimated_latency_ns"] > free["network"]["estimated_latency_ns"]
