"""Bench of `hil sweep` (issue 10): trials per minute on 1 and 2 local workers, the share of trials
pruned before training, whether both runs give the same trials, and the acceptance check on the front
(a point within 1 percentage point of float accuracy, >= 50x fewer BOPs than float, LUT <= 1/10 of the
8-bit dense design on the same part).

    python scripts/bench_sweep.py                     # the 40-trial examples/sweep-digits.yaml
    python scripts/bench_sweep.py --trials 8 --workers 2
    python scripts/bench_sweep.py --workers 2 --executor dask://127.0.0.1:8786 --against KEPT/workers2

Prints one JSON object. Numbers depend on the machine and its load: report them with the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(sweep, run_dir: Path, workers: int, where: str | None = None) -> dict:
    from toolchain.sweep.executors import make_executor
    from toolchain.sweep.study import run_sweep

    executor = make_executor(where, workers)
    t0 = time.perf_counter()
    try:
        summary = run_sweep(sweep, run_dir, executor, progress=print)
    finally:
        executor.close()
    minutes = (time.perf_counter() - t0) / 60
    return {"executor": executor.name, "workers": workers, "minutes": round(minutes, 2), "trials": summary["trials"],
            "trials_per_minute": round(summary["trials"] / minutes, 3),
            "pruned_before_training": summary["pruned"], "pruned_share": round(summary["pruned"] / summary["trials"], 3),
            "pruned_early": summary["pruned_early"], "epochs_saved": summary["epochs_saved"],
            "epochs_budget": summary["epochs_budget"],
            "complete": summary["complete"], "failed": summary["failed"], "infeasible": summary["infeasible"]}


def same_trials(run_dir: Path) -> list[tuple]:
    """Each trial's number, point, status and measures: what must not depend on --workers."""
    import optuna

    from toolchain.sweep.study import DB, STUDY

    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{run_dir / DB}")
    return [(t.number, sorted(t.params.items()), t.user_attrs.get("status"), t.user_attrs.get("measures"))
            for t in study.get_trials(deepcopy=False)]


def acceptance(run_dir: Path) -> dict:
    from toolchain.sweep.pareto import pareto

    result = pareto(run_dir)
    base = result["baseline"]
    ok = [r["number"] for r in result["front"]
          if r["measures"]["accuracy"] >= base["float_accuracy"] - 0.01
          and base["float_bops"] / r["measures"]["bops"] >= 50
          and r["measures"]["lut"] <= base["w8a8_dense"]["lut"] / 10]
    return {"front": [{"number": r["number"], **r["measures"]} for r in result["front"]],
            "float_accuracy": base["float_accuracy"], "float_bops": base["float_bops"],
            "w8a8_dense_lut": base["w8a8_dense"]["lut"], "accepted_points": ok}


def main() -> None:
    from toolchain.sweep.schema import load_sweep

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path, default=ROOT / "examples" / "sweep-digits.yaml")
    parser.add_argument("--trials", type=int, default=None, help="override the file's trial count")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--keep", type=Path, default=None, help="keep the run folders here")
    parser.add_argument("--executor", default=None, help="dask://HOST:PORT: run on that cluster (its workers "
                        "count; --workers only names the run folder)")
    parser.add_argument("--against", type=Path, default=None, help="a kept run folder of the same sweep: "
                        "report whether this run gave the same trials")
    args = parser.parse_args()
    sweep = load_sweep(args.sweep)
    if args.trials:
        sweep = sweep.model_copy(update={"trials": args.trials})
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    runs, out = {}, {"sweep": str(args.sweep), "trials": sweep.trials, "runs": []}
    for workers in args.workers:
        runs[workers] = base / f"workers{workers}"
        shutil.rmtree(runs[workers], ignore_errors=True)
        out["runs"].append(run(sweep, runs[workers], workers, args.executor))
    if len(runs) > 1:
        first, *rest = runs.values()
        out["same_trials"] = all(same_trials(r) == same_trials(first) for r in rest)
    if args.against:
        out["same_trials_as"] = {str(args.against): all(same_trials(r) == same_trials(args.against) for r in runs.values())}
    if sweep.baseline:
        out["acceptance"] = acceptance(next(iter(runs.values())))
    print(json.dumps(out, indent=1, default=float))
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
