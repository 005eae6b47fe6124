"""Sweep files for the tests: small enough that a trial takes seconds to a minute on 2 shared cores."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

# every point is ruled out by the estimate (no design has a 1 ns latency): trials cost a lowering
# and an estimate each, no training; the sampled points still differ, so order and resume are visible
PRUNED_ONLY = {"recipe": "digits-mlp", "trials": 4, "seed": 3, "epochs": 1, "baseline": False,
               "space": {"weight_bits": [2, 3, 4, 8], "act_bits": [2, 4], "target_fps": [1.0e4, 1.0e5, 1.0e6]},
               "constraints": {"latency_ns_max": 1.0}, "search": {"sampler": "random", "batch": 2}}


def write_sweep(folder: Path, data: dict, name: str = "sweep.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def pruned_only(tmp_path: Path) -> Path:
    return write_sweep(tmp_path, PRUNED_ONLY)
