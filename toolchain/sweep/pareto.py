"""`hil pareto RUN`: the non-dominated trials, their configurations, plots and rebuild commands."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Optional

from toolchain.errors import UserError
from toolchain.sweep.schema import Sweep
from toolchain.sweep.trial import FOLDING_FILE, RECIPE_FILE, Status

PLOT = "pareto.png"
RESULT = "pareto.json"


def dominates(a: list[float], b: list[float]) -> bool:
    """a dominates b (both already oriented so that smaller is better)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def front_indices(points: list[list[float]]) -> list[int]:
    return [i for i, p in enumerate(points) if not any(dominates(q, p) for j, q in enumerate(points) if j != i)]


def rebuild_command(row: dict) -> str:
    """The one command that rebuilds the point's HLS project from its recipe (train, export, lower, build)."""
    from toolchain.sweep.schema import BUDGET

    folder = Path(row["folder"])
    d, p = shlex.quote(str(folder / "rebuild")), row["point"]
    budget = ""
    if p["prune"] and p["prune"].startswith(BUDGET):  # resource-aware pruning is a train option
        fps = f" --target-fps {p['target_fps']:g}" if p["target_fps"] else ""
        budget = (f" --budget {shlex.quote(p['prune'][len(BUDGET):])} --part {p['part']}{fps} "
                  f"--clock-ns {p['clock_ns']:g} --cost {row.get('cost', 'finn')}")
    bounded = any(k in v for v in p.get("layers", {}).values() for k in ("pe", "simd"))
    fold = (f"--folding {shlex.quote(str(folder / FOLDING_FILE))}" if bounded else f"--target-fps {p['target_fps']:g}")
    return (f"hil train {shlex.quote(str(folder / RECIPE_FILE))} --out {d} --no-float-baseline{budget} && "
            f"hil export {d} -o {d}/model.onnx && "
            f"hil lower {d}/model.onnx -o {d}/dataflow.onnx {fold} --part {p['part']} "
            f"--clock-ns {p['clock_ns']:g} --recipe {shlex.quote(str(folder / RECIPE_FILE))} && "
            f"hil build {d}/dataflow.onnx --backend hls4ml -o {d}/hls")


def load_run(run_dir: Path):
    import optuna

    from toolchain.sweep.study import DB, STUDY, SWEEP_FILE, finished

    if not (run_dir / SWEEP_FILE).exists() or not (run_dir / DB).exists():
        raise UserError(f"{run_dir} is not a sweep run folder (no {SWEEP_FILE} / {DB}; run `hil sweep ... -o {run_dir}`)")
    sweep = Sweep.model_validate(json.loads((run_dir / SWEEP_FILE).read_text()))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{(run_dir / DB).resolve()}")
    return sweep, finished(study)


def pareto(run_dir: Path, plot: bool = True) -> dict:
    from toolchain.fileio import write_json
    from toolchain.sweep.baseline import read_baseline
    from toolchain.sweep.space import point_of

    run_dir = Path(run_dir)
    sweep, trials = load_run(run_dir)
    rows = [{"number": t.number, "point": point_of(t.params).model_dump(), "measures": t.user_attrs["measures"],
             "emulation": t.user_attrs.get("emulation"), "target": t.user_attrs.get("target"),
             "folder": str(run_dir / "trials" / f"{t.user_attrs.get('same_as', t.number):04d}"),
             "cost": sweep.cost.value, "same_as": t.user_attrs.get("same_as")}
            for t in trials if t.user_attrs.get("status") == Status.COMPLETE.value]
    oriented = [[-r["measures"][o.value] if o.maximise else r["measures"][o.value] for o in sweep.objectives]
                for r in rows]
    # a reused trial is its source again: one front entry per distinct point
    front = [rows[i] for i in front_indices(oriented) if rows[i]["same_as"] is None]
    for row in front:
        row["rebuild"] = rebuild_command(row)
    result = {"objectives": [o.value for o in sweep.objectives], "complete": len(rows), "front": front,
              "baseline": read_baseline(run_dir),
              # every complete trial's measures: what the plots (here and in `hil report RUN`) draw
              "trials": [{"number": r["number"], "measures": r["measures"]} for r in rows]}
    if plot and rows:
        result["plot"] = str(plot_front(rows, front, result["baseline"], run_dir / PLOT))
    from toolchain.schemas import versioned

    versioned(result, {"complete": "trials", "front.*.measures": "as the sweep's objectives (hil sweep)"})
    write_json(run_dir / RESULT, result)
    return result


def plot_front(rows: list[dict], front: list[dict], baseline: Optional[dict], out: Path) -> Path:
    """RUN/pareto.png: toolchain/report/charts.py pareto_figure (the same panels `hil report RUN` draws)."""
    from toolchain.fileio import atomic_path
    from toolchain.report.charts import pareto_png

    with atomic_path(out) as tmp:
        pareto_png(rows, {r["number"] for r in front}, baseline, tmp)
    return out


def _g(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def table(result: dict) -> str:
    """The front as text: one line per point with its full configuration and measures."""
    lines = [f"{len(result['front'])} non-dominated of {result['complete']} complete trials "
             f"(objectives: {', '.join(result['objectives'])})"]
    if result["baseline"]:
        b = result["baseline"]
        lines.append(f"float baseline: accuracy {b['float_accuracy']:.4f}, {b['float_bops']:.4g} BOPs; "
                     f"8-bit dense LUT {_g(b['w8a8_dense']['lut'])}")
    for r in sorted(result["front"], key=lambda r: -r["measures"]["accuracy"]):
        m, p = r["measures"], r["point"]
        bits = f"w{p['weight_bits']}a{p['act_bits']}" + "".join(f" L{i}:{b}" for i, b in p["layers"].items())
        lines.append(f"#{r['number']:<4} acc {m['accuracy']:.4f} LUT {m['lut']:.0f} latency {m['latency']:.0f} ns "
                     f"energy {_g(m['energy'])} pJ BOPs {m['bops']:.4g} | {bits} prune {p['prune'] or 'none'} "
                     f"fps {p['target_fps']:g} {p['part']} {p['clock_ns']:g} ns")
        if r.get("target"):  # confirmed on the sweep's target (a board agent, the C-sim)
            t = r["target"]
            lines.append(f"      confirmed on {t['target']} ({t.get('agent') or t['target']}): {t['mismatches']} "
                         f"mismatches on {t['samples']} samples, {t['samples_per_second'] or 0:,.0f} samples/s")
        lines.append(f"      {r['rebuild']}")
    return "\n".join(lines)
