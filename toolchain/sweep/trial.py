"""One trial, cheap before expensive (runs in a worker process, local or on a Dask worker):

1. estimate: the point's recipe, untrained (channel pruning applied as the narrower architecture it
   ends with), exported, lowered with the point's folding and estimated: seconds, no training. A
   point the estimate rules out (does not fit, too slow) stops here: the training it saved is counted.
2. train: `hil train` of the trial's recipe (written to the trial folder, so it can be rebuilt),
   reporting the test accuracy after each QAT epoch to the sweep's Optuna pruner (epochs.py), which
   stops a point whose curve falls below the trials trained before its batch (pruned_early).
3. confirm: export (bit-exact vs torch), lower (bit-exact vs QONNX), estimate, and emulate with FIFO
   sizing: the trained design's numbers, and the folding confirmed deadlock-free; with the sweep's
   `target:`, also `hil run` of verify_samples inputs on that target (a board agent, the C-sim): its
   outputs must equal the emulator's, its timing is recorded beside the estimate (TRIAL/run.json).

Every exception becomes a failed outcome with its error, so the sweep goes on.
"""

from __future__ import annotations

import time
import traceback
from enum import Enum
from pathlib import Path
from typing import Optional

import yaml
from pydantic import BaseModel, ConfigDict

from toolchain.sweep.objectives import Measures, hardware_violation, violation
from toolchain.sweep.schema import Sweep
from toolchain.sweep.space import Point, narrowed, recipe_of

RECIPE_FILE = "recipe.yaml"
FOLDING_FILE = "folding.json"  # a point with per-layer PE/SIMD bounds: the folding its design was lowered with


class Status(str, Enum):
    COMPLETE = "complete"
    PRUNED = "pruned"  # ruled out by the estimate, before training
    PRUNED_EARLY = "pruned_early"  # stopped during training by the pruner on the epoch curve
    INFEASIBLE = "infeasible"  # trained, but violates a constraint (accuracy, or the trained estimate)
    FAILED = "failed"


class TrialSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int
    sweep: Sweep
    point: Point
    folder: str  # the trial's run folder (shared file system between the workers and the sweep)
    curves: list[dict[int, float]] = []  # epoch curves of the trials trained before this batch (epochs.py)


class Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int
    status: Status
    measures: Measures = Measures()
    reason: Optional[str] = None  # why pruned / infeasible, or the error of a failed trial
    trained: bool = False
    seconds: dict[str, float] = {}
    emulation: Optional[dict] = None  # emulated interval/latency with sized FIFOs, deadlock
    target: Optional[dict] = None  # the confirmation on the sweep's target: which, mismatches, timing
    curve: dict[int, float] = {}  # test accuracy after each QAT epoch (epoch -> accuracy)
    same_as: Optional[int] = None  # the same point ran as this earlier trial: its outcome, not run again


def _measures(est: dict, **more) -> Measures:
    return Measures(lut=est["total"]["LUT"], latency=est["network"]["estimated_latency_ns"],
                    energy=est.get("total_energy_pj"), fits=bool(est["fits"]), **more)


def budget_plan(spec: TrialSpec):
    """The point's `hil train --budget` plan (toolchain/compress/budget.py) on its part and folding."""
    from toolchain.compress.budget import BudgetPlan, parse_budget
    from toolchain.sweep.costing import resource_cost

    p = spec.point
    return BudgetPlan(parse_budget(p.budget), p.part, p.target_fps, p.clock_ns,
                      resource_cost(part=p.part, target_fps=p.target_fps, clock_ns=p.clock_ns,
                                    cost=spec.sweep.cost.value, seed=spec.sweep.seed))


def cheap_estimate(spec: TrialSpec, folder: Path, plan=None) -> Measures:
    """Stage 1: the untrained model of the point, lowered and estimated (costing.py). A budget point is
    estimated at the widths its knapsack keeps with every channel valued alike (the trained weights
    decide the real widths; the budget bounds both); BudgetUnreachable when none meets it."""
    from toolchain.sweep.costing import design_estimate

    p = spec.point
    recipe = narrowed(recipe_of(spec.sweep, p))
    if plan is not None:
        import numpy as np

        from toolchain.compress.budget import choose_widths, with_widths

        costs = plan.check(recipe)
        kept, _, _, _ = choose_widths(plan, recipe, [np.ones(l.channels) for l in costs.layers])
        recipe = with_widths(recipe, {l.layer: k for l, k in zip(costs.layers, kept)})
    return _measures(design_estimate(recipe, part=p.part, target_fps=p.target_fps, clock_ns=p.clock_ns,
                                     cost=spec.sweep.cost.value, seed=spec.sweep.seed, folder=folder,
                                     bounds=p.folding_bounds()))


def confirm_on_target(spec: TrialSpec, folder: Path) -> dict:
    """`hil run` of the trial's design on the sweep's target, on verify_samples inputs of the recipe; the
    result is TRIAL/run.json (what `hil report TRIAL` shows). A target that disagrees with the emulator
    fails the trial."""
    import numpy as np

    from toolchain.data import verification_inputs
    from toolchain.fileio import atomic_path, write_json
    from toolchain.targets import read_token
    from toolchain.targets.run import run_design
    from toolchain.zoo import load_recipe

    x = verification_inputs(load_recipe(str(folder / RECIPE_FILE)), spec.sweep.verify_samples, spec.sweep.seed)
    with atomic_path(folder / "target_inputs.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, x, allow_pickle=False)
    token = read_token(None, required=False) if spec.sweep.target.startswith("tcp://") else None
    result = run_design(folder / "dataflow.onnx", folder / "target_inputs.npy", spec.sweep.target, token=token,
                        out=folder / "target_outputs.npy")
    write_json(folder / "run.json", result)
    if result["mismatches"]:
        raise RuntimeError(f"target {spec.sweep.target} differs from the emulator on {result['mismatches']} of "
                           f"{result['samples']} samples")
    t = result["timing"]
    return {"target": spec.sweep.target, "agent": result["describe"].get("agent"), "samples": result["samples"],
            "mismatches": result["mismatches"], "samples_per_second": t["samples_per_second"], "kind": t["kind"],
            "interval_cycles": t["interval_cycles"], "throughput_fps": t["throughput_fps"]}


def train_and_confirm(spec: TrialSpec, folder: Path, seconds: dict, curve: dict, plan=None) -> tuple[Measures, dict]:
    """Stages 2 and 3: train (its epoch curve into `curve`, judged by the pruner), export, lower (both
    verified bit-exact), estimate, emulate with sized FIFOs."""
    from toolchain.emulate import emulate
    from toolchain.estimate import estimate
    from toolchain.export import export_run
    from toolchain.fileio import write_json
    from toolchain.lower import lower_file, lower_model
    from toolchain.onnxio import load_model
    from toolchain.train import train_recipe

    from toolchain.sweep.epochs import EpochJudge

    p, n = spec.point, spec.sweep.verify_samples
    judge = EpochJudge(spec.sweep.search.pruner, spec.curves, spec.sweep.epochs)

    def on_epoch(accuracy: float, epoch: int) -> None:
        curve[epoch] = accuracy
        judge.check(curve)  # raises EpochPruned

    t = time.perf_counter()
    try:
        metrics = train_recipe(str(folder / RECIPE_FILE), folder, float_baseline=False, on_epoch=on_epoch,
                               budget=plan)
    finally:
        seconds["train"] = time.perf_counter() - t
    t = time.perf_counter()
    export_run(str(folder), folder / "model.onnx", samples=n, seed=spec.sweep.seed)
    fold = {"target_fps": p.target_fps}
    if p.folding_bounds():  # the trained model's folding at the fps, within the per-layer bounds
        from toolchain.sweep.costing import bounded_folding
        from toolchain.zoo import load_recipe

        trained = load_recipe(str(folder / RECIPE_FILE))
        fold = {"folding": bounded_folding(lower_model(load_model(folder / "model.onnx"), target_fps=p.target_fps,
                                                       clock_ns=p.clock_ns, part=p.part), trained, p.folding_bounds())}
        write_json(folder / FOLDING_FILE, fold["folding"])  # what `hil lower --folding` rebuilds it with
    lower_file(folder / "model.onnx", folder / "dataflow.onnx", recipe=str(folder / RECIPE_FILE), samples=n,
               seed=spec.sweep.seed, clock_ns=p.clock_ns, part=p.part, **fold)
    est = estimate(load_model(folder / "dataflow.onnx"), part=p.part, clock_ns=p.clock_ns, cost=spec.sweep.cost.value)
    write_json(folder / "estimate.json", est)
    emu = emulate(folder / "dataflow.onnx", size=True, frames=2, clock_ns=p.clock_ns)
    seconds["confirm"] = time.perf_counter() - t
    emulation = {k: emu.get(k) for k in ("latency_cycles", "interval_cycles", "throughput_fps", "deadlock")}
    return _measures(est, accuracy=metrics["accuracy"], bops=metrics["bops"]), emulation


def run_trial(spec: TrialSpec) -> Outcome:
    """The whole trial; never raises (a failure is an Outcome with its error)."""
    from toolchain.compress.budget import BudgetUnreachable
    from toolchain.sweep.epochs import EpochPruned

    folder = Path(spec.folder)
    seconds: dict[str, float] = {}
    curve: dict[int, float] = {}
    cheap = Measures()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        recipe = recipe_of(spec.sweep, spec.point)
        (folder / RECIPE_FILE).write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
        t = time.perf_counter()
        plan = budget_plan(spec) if spec.point.budget is not None else None
        try:
            cheap = cheap_estimate(spec, folder, plan)
        except BudgetUnreachable as err:
            return Outcome(number=spec.number, status=Status.PRUNED, reason=str(err), seconds=seconds)
        seconds["estimate"] = time.perf_counter() - t
        why = hardware_violation(spec.sweep.constraints, cheap)
        if why is not None:
            return Outcome(number=spec.number, status=Status.PRUNED, measures=cheap, reason=why, seconds=seconds)
        measures, emulation = train_and_confirm(spec, folder, seconds, curve, plan)
        target = None
        if spec.sweep.target is not None:
            t = time.perf_counter()
            target = confirm_on_target(spec, folder)
            seconds["target"] = time.perf_counter() - t
        why = violation(spec.sweep.constraints, measures)
        for objective in spec.sweep.objectives:
            measures.value(objective)  # an objective the cost model cannot give fails the trial here
        return Outcome(number=spec.number, status=Status.INFEASIBLE if why else Status.COMPLETE, measures=measures,
                       reason=why, trained=True, seconds=seconds, emulation=emulation, target=target, curve=curve)
    except EpochPruned as stop:  # the rest of its training is saved; the untrained estimate is kept
        return Outcome(number=spec.number, status=Status.PRUNED_EARLY, measures=cheap, reason=str(stop),
                       seconds=seconds, curve=stop.curve)
    except Exception as err:  # noqa: BLE001 - a crashing trial is recorded, the sweep goes on
        last = traceback.extract_tb(err.__traceback__)[-1]
        return Outcome(number=spec.number, status=Status.FAILED, seconds=seconds,
                       reason=f"{type(err).__name__}: {err} ({Path(last.filename).name}:{last.lineno})")
