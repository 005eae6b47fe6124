"""The Optuna study: ask a batch of points, run them on an executor, tell each outcome as it finishes.

Same seed, same results: the sampler is created afresh for each batch, seeded with (seed, number of
trials so far), and a batch's size is fixed by the sweep file, so the points asked depend only on the
stored history, not on --workers, the executor or the order in which trials finish. Resume: a trial
left RUNNING by a killed sweep is marked failed ("interrupted") and its point is asked again first;
finished trials (complete, pruned, failed) are never re-run and the sweep stops at `trials` of them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Optional

from toolchain.errors import UserError
from toolchain.sweep.objectives import directions
from toolchain.sweep.schema import Sampler, Sweep
from toolchain.sweep.space import distributions, grid, point_of
from toolchain.sweep.trial import Outcome, Status, TrialSpec

STUDY = "hil-sweep"
DB = "study.db"
SWEEP_FILE = "sweep.json"
SUMMARY = "summary.json"
INTERRUPTED = "interrupted: the sweep process stopped while this trial ran"


def reference_curves(trials) -> list[dict[int, float]]:
    """The epoch curves of finished trials that trained to the end (complete or infeasible)."""
    done = (Status.COMPLETE.value, Status.INFEASIBLE.value)
    return [dict(t.intermediate_values) for t in trials  # a reused trial's curve is its source's: once
            if t.user_attrs.get("status") in done and t.intermediate_values and t.user_attrs.get("same_as") is None]


def epochs_saved(trials, epochs: int) -> int:
    """Training epochs the epoch pruner did not run (pruned_early trials stop after epoch k)."""
    return sum(epochs - 1 - max(t.intermediate_values) for t in trials
               if t.user_attrs.get("status") == Status.PRUNED_EARLY.value and t.intermediate_values)


def storage_url(run_dir: Path, storage: Optional[str]) -> str:
    return storage or f"sqlite:///{(run_dir / DB).resolve()}"


def constraint_values(trial) -> list[float]:
    """NSGA-II / TPE constraints (> 0 is a violation): the trained point broke a constraint."""
    return [1.0 if trial.user_attrs.get("status") == Status.INFEASIBLE.value else 0.0]


def _grid_sampler_class():
    import optuna

    class GridSampler(optuna.samplers.GridSampler):
        def after_trial(self, study, trial, state, values) -> None:
            # optuna's after_trial calls study.stop() once the grid is used up, which raises outside
            # study.optimize; this sweep asks and tells itself and stops at min(trials, grid size)
            return None

    return GridSampler


def _grid_sampler(search_space: dict, seed: int):
    return _grid_sampler_class()(search_space, seed=seed)


def make_sampler(sweep: Sweep, seed: int):
    import optuna

    kind = sweep.search.sampler
    if kind is Sampler.NSGA2:
        return optuna.samplers.NSGAIISampler(population_size=sweep.search.batch, seed=seed,
                                             constraints_func=constraint_values)
    if kind is Sampler.TPE:
        return optuna.samplers.TPESampler(seed=seed, constraints_func=constraint_values,
                                          n_startup_trials=sweep.search.batch)
    if kind is Sampler.GRID:
        return _grid_sampler(grid(sweep.space), seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def open_study(sweep: Sweep, run_dir: Path, storage: Optional[str]):
    """The run's study, created or loaded; a RUN folder holds one sweep, so another file is refused."""
    import optuna

    run_dir.mkdir(parents=True, exist_ok=True)
    saved = run_dir / SWEEP_FILE
    mine = sweep.model_dump(mode="json")
    if saved.exists() and json.loads(saved.read_text()) != mine:
        raise UserError(f"{run_dir} holds a different sweep ({saved}); use another -o RUN to start a new one")
    if not saved.exists():
        from toolchain.fileio import write_json

        write_json(saved, mine)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(study_name=STUDY, storage=storage_url(run_dir, storage), load_if_exists=True,
                               directions=directions(sweep.objectives))


def finished(study) -> list:
    """Trials that count towards `trials`: every finished one except those a killed sweep interrupted."""
    from optuna.trial import TrialState

    return [t for t in study.get_trials(deepcopy=False)
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
            and t.user_attrs.get("error") != INTERRUPTED]


def recover(study) -> int:
    """Mark trials a killed sweep left RUNNING as failed and ask their points again; how many."""
    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in stale:
        # Optuna has no public setter for a trial that is not the current one; the storage API is
        # what optuna's own _optimize uses (optuna/study/_optimize.py, _run_trial)
        study._storage.set_trial_user_attr(t._trial_id, "error", INTERRUPTED)
        study.tell(t.number, state=TrialState.FAIL)
        study.enqueue_trial(t.params, skip_if_exists=False)
    return len(stale)


REUSABLE = (Status.COMPLETE.value, Status.INFEASIBLE.value, Status.PRUNED.value)  # not: a pruner's or a crash's


def _key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


def _reused(source, number: int) -> Outcome:
    """The outcome of an earlier trial with the same point, for trial `number` (not run again)."""
    a = source.user_attrs
    return Outcome(number=number, status=Status(a["status"]), measures=a["measures"], reason=a.get("reason"),
                   trained=a.get("trained", False), emulation=a.get("emulation"), target=a.get("target"),
                   curve=dict(source.intermediate_values), same_as=a.get("same_as", source.number))


def record(study, trial, outcome: Outcome, sweep: Sweep) -> None:
    from optuna.trial import TrialState

    attrs = {"status": outcome.status.value, "measures": outcome.measures.model_dump(), "trained": outcome.trained,
             "seconds": {k: round(v, 3) for k, v in outcome.seconds.items()}, "emulation": outcome.emulation,
             "target": outcome.target}
    if outcome.same_as is not None:  # its folder is the source trial's
        attrs.update(same_as=outcome.same_as, seconds={})
    if outcome.reason:
        attrs["error" if outcome.status is Status.FAILED else "reason"] = outcome.reason
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    for epoch, accuracy in sorted(outcome.curve.items()):
        # what Trial.report stores; Trial.report itself refuses multi-objective studies (epochs.py)
        study._storage.set_trial_intermediate_value(trial._trial_id, epoch, accuracy)
    if outcome.status in (Status.PRUNED, Status.PRUNED_EARLY):
        study.tell(trial, state=TrialState.PRUNED)
    elif outcome.status is Status.FAILED:
        study.tell(trial, state=TrialState.FAIL)
    else:
        study.tell(trial, [outcome.measures.value(o) for o in sweep.objectives])


def run_sweep(sweep: Sweep, run_dir: Path, executor, storage: Optional[str] = None,
              progress: Optional[Callable[[str], None]] = None) -> dict:
    """Run (or resume) the sweep until `trials` trials have finished; the summary (also RUN/summary.json)."""
    from toolchain.fileio import write_json

    run_dir = Path(run_dir)
    study = open_study(sweep, run_dir, storage)
    total = min(sweep.trials, sweep.space.grid_size()) if sweep.search.sampler is Sampler.GRID else sweep.trials
    recovered = recover(study)
    if sweep.baseline:
        from toolchain.sweep.baseline import compute_baseline

        compute_baseline(sweep, run_dir)
    dists = distributions(sweep.space)
    t0, ran = time.perf_counter(), 0
    while (done := len(finished(study))) < total:
        study.sampler = make_sampler(sweep, sweep.seed * 1_000_003 + len(study.trials))
        # the epoch pruner's references: the curves trained before this batch (same on every executor)
        curves = reference_curves(finished(study))
        trials = [study.ask(dists) for _ in range(min(sweep.search.batch, total - done))]
        by_number = {t.number: t for t in trials}
        # a point asked again (NSGA-II's crossover of categorical parents does) is not run again: it
        # takes the outcome of the earlier trial with the same parameters (same seed, same result)
        earlier = {_key(t.params): t for t in finished(study) if t.user_attrs.get("status") in REUSABLE}
        first: dict[tuple, int] = {}
        copies: dict[int, list[int]] = {}
        specs = []
        for t in trials:
            key = _key(t.params)
            if key in earlier:
                record(study, t, _reused(earlier[key], t.number), sweep)
            elif key in first:
                copies.setdefault(first[key], []).append(t.number)
            else:
                first[key] = t.number
                specs.append(TrialSpec(number=t.number, sweep=sweep, point=point_of(t.params), curves=curves,
                                       folder=str((run_dir / "trials" / f"{t.number:04d}").resolve())))
        waiting = len(specs)
        for outcome in executor.run(specs):
            record(study, by_number[outcome.number], outcome, sweep)
            for number in copies.get(outcome.number, []):
                record(study, by_number[number], outcome.model_copy(update={"number": number,
                                                                            "same_as": outcome.number}), sweep)
            ran, waiting = ran + 1, waiting - 1
            if progress is not None:
                progress(progress_line(study, sweep, outcome, total, waiting))
    summary = summarize(study, sweep)
    summary.update(executor=executor.name, recovered=recovered, ran_now=ran,
                   seconds_now=round(time.perf_counter() - t0, 3))
    from toolchain.schemas import versioned

    versioned(summary, {"trials": "trials", "seconds_now": "s (this invocation)", "epochs_saved": "QAT epochs",
                        "epochs_budget": "QAT epochs"})
    write_json(run_dir / SUMMARY, summary)
    return summary


def summarize(study, sweep: Sweep) -> dict:
    counts = {s.value: 0 for s in Status}
    for t in finished(study):
        status = t.user_attrs.get("status", Status.FAILED.value)
        counts[status] += 1
    reused = sum(1 for t in finished(study) if t.user_attrs.get("same_as") is not None)
    trained = sum(1 for t in finished(study) if t.user_attrs.get("same_as") is None
                  and t.user_attrs.get("status") in (Status.COMPLETE.value, Status.INFEASIBLE.value))
    # trainings_saved: whole trainings the estimate made unnecessary; epochs_saved: the QAT epochs the
    # pruner on the epoch curve did not run (out of epochs_budget, every trial trained to the end)
    return {"trials": len(finished(study)), **counts, "trainings_saved": counts[Status.PRUNED.value],
            "epochs_saved": epochs_saved(finished(study), sweep.epochs),
            "epochs_budget": len(finished(study)) * sweep.epochs,
            "trained": trained, "reused": reused, "objectives": [o.value for o in sweep.objectives]}


def progress_line(study, sweep: Sweep, outcome: Outcome, total: int, running: int) -> str:
    """One line per finished trial: its result, the counts so far and the best accuracy."""
    s = summarize(study, sweep)
    m = outcome.measures
    what = (f"acc {m.accuracy:.4f} LUT {m.lut:.0f}" if outcome.trained and m.accuracy is not None and m.lut is not None
            else (outcome.reason or ""))
    counts = (f" | done {s['trials']}/{total} running {running} pruned {s['pruned']} (+{s['pruned_early']} "
              f"early) failed {s['failed']}")
    best = max((t.user_attrs["measures"]["accuracy"] for t in finished(study)
                if t.user_attrs.get("status") == Status.COMPLETE.value), default=None)
    return f"trial {outcome.number} {outcome.status.value}: {what}{counts}" + \
        (f" | best acc {best:.4f}" if best is not None else "")

