"""The pruner on the epoch curve: Optuna's MedianPruner / PercentilePruner judging a trial against the
curves trained before its batch, and the sweep recording a stopped trial as pruned with its curve."""

from __future__ import annotations

import pytest

from toolchain.sweep.epochs import EpochJudge, EpochPruned
from toolchain.sweep.schema import EpochPruner, PrunerKind

REFS = [{0: 0.50, 1: 0.70, 2: 0.80}, {0: 0.60, 1: 0.80, 2: 0.85}, {0: 0.40, 1: 0.75, 2: 0.90}]


def test_a_curve_below_the_median_is_stopped_one_above_goes_on():
    judge = EpochJudge(EpochPruner(kind=PrunerKind.MEDIAN, startup_trials=2, warmup_epochs=1), REFS, epochs=3)
    judge.check({0: 0.1})  # epoch 0 is in the warm-up
    judge.check({0: 0.1, 1: 0.76})  # median at epoch 1 is 0.75
    with pytest.raises(EpochPruned) as stop:
        judge.check({0: 0.1, 1: 0.74})
    assert stop.value.epoch == 1 and stop.value.curve == {0: 0.1, 1: 0.74} and "median" in str(stop.value)


def test_the_last_epoch_is_never_judged_and_startup_trials_wait():
    judge = EpochJudge(EpochPruner(startup_trials=2, warmup_epochs=0), REFS, epochs=3)
    judge.check({0: 0.0, 1: 0.0, 2: 0.0})  # stopping now would save nothing
    waiting = EpochJudge(EpochPruner(startup_trials=4, warmup_epochs=0), REFS, epochs=3)
    waiting.check({0: 0.0, 1: 0.0})  # only 3 references
    with pytest.raises(EpochPruned):
        EpochJudge(EpochPruner(startup_trials=3, warmup_epochs=0), REFS, epochs=3).check({0: 0.0})


def test_percentile_and_none():
    # Optuna's percentile is the share kept: 10 keeps the top 10 %, i.e. stops below the 90th percentile
    strict = EpochJudge(EpochPruner(kind=PrunerKind.PERCENTILE, percentile=10, startup_trials=0, warmup_epochs=0),
                        REFS, epochs=3)
    with pytest.raises(EpochPruned) as stop:
        strict.check({0: 0.57})  # the 90th percentile of 0.4, 0.5, 0.6 is 0.58; the median 0.5
    assert "top 10%" in str(stop.value)
    strict.check({0: 0.59})
    EpochJudge(EpochPruner(kind=PrunerKind.MEDIAN, startup_trials=0, warmup_epochs=0), REFS, epochs=3).check({0: 0.57})
    EpochJudge(EpochPruner(kind=PrunerKind.NONE), REFS, epochs=3).check({0: 0.0})


def test_the_sweep_stores_the_curve_and_counts_the_epochs_saved(tmp_path):
    """record() of a stopped trial: Optuna state PRUNED, its curve as intermediate values (what
    Trial.report stores), counted as pruned_early with the epochs it did not run."""
    import optuna

    from tests.sweep.conftest import PRUNED_ONLY
    from toolchain.sweep.objectives import Measures
    from toolchain.sweep.schema import parse_sweep
    from toolchain.sweep.space import distributions
    from toolchain.sweep.study import epochs_saved, finished, open_study, record, reference_curves, summarize
    from toolchain.sweep.trial import Outcome, Status

    sweep = parse_sweep({**PRUNED_ONLY, "epochs": 5})
    study = open_study(sweep, tmp_path, None)
    dists = distributions(sweep.space)
    done, stopped = study.ask(dists), study.ask(dists)
    record(study, done, Outcome(number=done.number, status=Status.COMPLETE, trained=True, curve={0: .5, 1: .7, 2: .8, 3: .85, 4: .9},
                                measures=Measures(accuracy=0.9, lut=100.0)), sweep)
    record(study, stopped, Outcome(number=stopped.number, status=Status.PRUNED_EARLY, curve={0: 0.2, 1: 0.3},
                                   reason="median pruner at epoch 1"), sweep)
    trials = finished(study)
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED]
    assert trials[1].intermediate_values == {0: 0.2, 1: 0.3}
    assert reference_curves(trials) == [{0: .5, 1: .7, 2: .8, 3: .85, 4: .9}]  # a stopped curve is no reference
    assert epochs_saved(trials, 5) == 3
    s = summarize(study, sweep)
    assert (s["pruned_early"], s["epochs_saved"], s["epochs_budget"], s["trained"]) == (1, 3, 10, 1)
