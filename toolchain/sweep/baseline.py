"""The references `hil pareto` marks: the float32 model (accuracy, BOPs = 32·32·MACs) trained with the
sweep's epochs and seed, and the 8-bit dense design's estimate at the space's first folding and part."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

BASELINE = "baseline.json"


def compute_baseline(sweep, run_dir: Path) -> dict:
    from toolchain.compress.footprint import FLOAT_BITS, dense_macs
    from toolchain.data import load_dataset
    from toolchain.fileio import write_json
    from toolchain.sweep.space import Point, recipe_of
    from toolchain.sweep.trial import TrialSpec, cheap_estimate
    from toolchain.train import train_float_baseline

    path = Path(run_dir) / BASELINE
    if path.exists():  # a resumed sweep keeps its reference
        return json.loads(path.read_text())
    s = sweep.space
    point = Point(weight_bits=8, act_bits=8, target_fps=s.target_fps[0], part=s.part[0], clock_ns=s.clock_ns[0])
    recipe = recipe_of(sweep, point)
    folder = Path(run_dir) / "baseline"
    folder.mkdir(parents=True, exist_ok=True)
    est = cheap_estimate(TrialSpec(number=-1, sweep=sweep, point=point, folder=str(folder)), folder)
    result = {"float_accuracy": train_float_baseline(recipe, load_dataset(recipe)),
              "float_bops": FLOAT_BITS * FLOAT_BITS * dense_macs(recipe), "epochs": sweep.epochs,
              "w8a8_dense": {**est.model_dump(), **point.model_dump()}}
    write_json(path, result)
    return result


def read_baseline(run_dir: Path) -> Optional[dict]:
    path = Path(run_dir) / BASELINE
    return json.loads(path.read_text()) if path.exists() else None
