"""The estimate of a recipe's design before any training: the untrained model (its activation ranges
calibrated on the recipe's inputs), exported to QONNX, lowered with a folding, estimated by the ops' own
cost methods (toolchain.estimate -> hw/ops/*.resources). Resources do not depend on the trained weights'
values under the FINN model (shapes, bits, folding); the calibrated model reads the weights, so there
the untrained estimate is a proxy that the trained design's estimate replaces.

Used by a sweep trial's cheap stage (trial.py), the baseline (baseline.py) and `hil train --budget`
(the cost of each candidate width, toolchain/compress/budget.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional


def design_estimate(recipe, *, part: str, target_fps: Optional[float], clock_ns: float, cost: str = "finn",
                    seed: int = 0, folder: Optional[Path] = None) -> dict:
    """`hil estimate` of the recipe's untrained design; its QONNX is left in folder/probe.onnx if given."""
    from toolchain.compress.brevitas_export import recipe_input_dtype, to_qonnx
    from toolchain.compress.calibrate import CalibrationConfig, calibrate_activations
    from toolchain.compress.checkpoint import seed_everything
    from toolchain.compress.model import build_model
    from toolchain.data import verification_inputs
    from toolchain.estimate import estimate
    from toolchain.lower import lower_model
    from toolchain.onnxio import load_model

    seed_everything(seed)
    model = build_model(recipe)
    calibrate_activations(model, verification_inputs(recipe, 256, seed), CalibrationConfig(seed=seed))
    with tempfile.TemporaryDirectory() as tmp:
        probe = (Path(folder) if folder is not None else Path(tmp)) / "probe.onnx"
        to_qonnx(model, tuple(recipe.architecture.input_shape), probe, recipe_input_dtype(recipe))
        dataflow = lower_model(load_model(probe), target_fps=target_fps, clock_ns=clock_ns, part=part)
    return estimate(dataflow, part=part, clock_ns=clock_ns, cost=cost)


def resource_cost(*, part: str, target_fps: Optional[float], clock_ns: float, cost: str = "finn", seed: int = 0):
    """recipe -> the total resources of its design (a CostFn for toolchain/compress/budget.py),
    memoized on the recipe (the knapsack asks for the same widths more than once)."""
    seen: dict[str, dict] = {}

    def total(recipe) -> dict:
        key = recipe.model_dump_json()
        if key not in seen:
            seen[key] = design_estimate(recipe, part=part, target_fps=target_fps, clock_ns=clock_ns, cost=cost,
                                        seed=seed)["total"]
        return seen[key]

    return total
