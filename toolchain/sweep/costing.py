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


def bounded_folding(dataflow, recipe, bounds: dict[int, dict[str, int]]) -> Optional[dict]:
    """A full folding config (node -> PE, SIMD): what the lowering chose, with each bounded layer's MVAU
    set to its largest legal PE (SIMD) <= the bound (the op's own legal_folding: divisors of MH (MW)
    within the stream-width limit). The k-th dense/conv layer is MVAU_k. None without bounds."""
    from qonnx.custom_op.registry import getCustomOp

    from toolchain.errors import UserError
    from toolchain.zoo import Conv, Dense

    if not bounds:
        return None
    compute = [i for i, l in enumerate(recipe.architecture.layers) if isinstance(l, (Dense, Conv))]
    nodes = {n.name: n for n in dataflow.graph.node}
    config = {}
    for name, node in nodes.items():
        op = getCustomOp(node)
        config[name] = {a: op.get_nodeattr(a) for a in ("PE", "SIMD") if a in op.get_nodeattr_types()}
    for index, limits in sorted(bounds.items()):
        name = f"MVAU_{compute.index(index)}"
        if name not in nodes:
            raise UserError(f"space.layers.{index}: no {name} in the lowered design to bound its PE/SIMD")
        op = getCustomOp(nodes[name])
        for attr in ("PE", "SIMD"):  # PE's legal values depend on SIMD's stream width: SIMD first
            key = "SIMD" if attr == "PE" else "PE"
            if key in limits:
                op.set_nodeattr(key, max([v for v in op.legal_folding()[key] if v <= limits[key]] or [1]))
        config[name] = {"PE": op.get_nodeattr("PE"), "SIMD": op.get_nodeattr("SIMD")}
    return {k: v for k, v in config.items() if v and not k.startswith(("FIFO_", "DWC_"))}


def lower_bounded(qonnx_model, recipe, *, part: str, target_fps: Optional[float], clock_ns: float,
                  bounds: Optional[dict] = None):
    """lower_model at the target fps, refolded within the per-layer PE/SIMD bounds."""
    from toolchain.lower import fold_dataflow, lower_model

    dataflow = lower_model(qonnx_model, target_fps=target_fps, clock_ns=clock_ns, part=part)
    config = bounded_folding(dataflow, recipe, bounds or {})
    if config is not None:
        dataflow = fold_dataflow(dataflow, folding=config, clock_ns=clock_ns, part=part)
    return dataflow


def design_estimate(recipe, *, part: str, target_fps: Optional[float], clock_ns: float, cost: str = "finn",
                    seed: int = 0, folder: Optional[Path] = None, bounds: Optional[dict] = None) -> dict:
    """`hil estimate` of the recipe's untrained design; its QONNX is left in folder/probe.onnx if given."""
    from toolchain.compress.brevitas_export import recipe_input_dtype, to_qonnx
    from toolchain.compress.calibrate import CalibrationConfig, calibrate_activations
    from toolchain.compress.checkpoint import seed_everything
    from toolchain.compress.model import build_model
    from toolchain.data import verification_inputs
    from toolchain.estimate import estimate
    from toolchain.onnxio import load_model

    seed_everything(seed)
    model = build_model(recipe)
    calibrate_activations(model, verification_inputs(recipe, 256, seed), CalibrationConfig(seed=seed))
    with tempfile.TemporaryDirectory() as tmp:
        probe = (Path(folder) if folder is not None else Path(tmp)) / "probe.onnx"
        to_qonnx(model, tuple(recipe.architecture.input_shape), probe, recipe_input_dtype(recipe))
        dataflow = lower_bounded(load_model(probe), recipe, target_fps=target_fps, clock_ns=clock_ns, part=part,
                                 bounds=bounds)
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
