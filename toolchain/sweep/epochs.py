"""Optuna pruners on the epoch curve, decided the same way on every executor.

A trial reports its test accuracy after each QAT epoch. Optuna's own pruner (MedianPruner or
PercentilePruner, optuna/pruners/_percentile.py, PercentilePruner.prune) judges the curve against the
curves of the trials that trained to the end. Two changes from `trial.should_prune()` inside
`study.optimize`, both for "same seed, same results":

- the reference curves are those of the trials finished before the trial's batch was asked (a
  snapshot sent with the TrialSpec), not whatever happened to finish first on a busy worker: the
  decision does not depend on --workers or the executor;
- the judging study is an in-memory single-objective copy (Optuna's pruners refuse multi-objective
  studies, and Trial.report raises NotImplementedError there); the sweep process then stores the
  curve in the real study with the storage's set_trial_intermediate_value, what Trial.report does.

Pruning at the last epoch would save nothing, so the last epoch is never judged.
"""

from __future__ import annotations

from toolchain.sweep.schema import EpochPruner, PrunerKind

Curve = dict[int, float]  # epoch (0-based) -> test accuracy


class EpochPruned(Exception):
    """Raised from the epoch callback: the trial stops training here."""

    def __init__(self, epoch: int, curve: Curve, why: str):
        super().__init__(why)
        self.epoch, self.curve = epoch, dict(curve)


def make_pruner(spec: EpochPruner):
    import optuna

    if spec.kind is PrunerKind.MEDIAN:
        return optuna.pruners.MedianPruner(n_startup_trials=spec.startup_trials, n_warmup_steps=spec.warmup_epochs)
    if spec.kind is PrunerKind.PERCENTILE:
        return optuna.pruners.PercentilePruner(spec.percentile, n_startup_trials=spec.startup_trials,
                                               n_warmup_steps=spec.warmup_epochs)
    return None


class EpochJudge:
    """Holds the snapshot study; `check(curve)` raises EpochPruned when the pruner says so."""

    def __init__(self, spec: EpochPruner, references: list[Curve], epochs: int):
        import optuna
        from optuna.trial import TrialState, create_trial

        self.spec, self.epochs = spec, epochs
        self.pruner = make_pruner(spec)
        self.study = None
        if self.pruner is None:
            return
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(direction="maximize", pruner=self.pruner)
        for curve in references:
            last = max(curve)
            self.study.add_trial(create_trial(state=TrialState.COMPLETE, value=curve[last], params={},
                                              distributions={}, intermediate_values=dict(curve)))

    def check(self, curve: Curve) -> None:
        from optuna.trial import TrialState, create_trial

        epoch = max(curve)
        if self.pruner is None or epoch >= self.epochs - 1:
            return
        trial = create_trial(state=TrialState.RUNNING, params={}, distributions={}, intermediate_values=dict(curve))
        if self.pruner.prune(self.study, trial):
            n = len(self.study.trials)
            raise EpochPruned(epoch, curve, f"{self.spec.kind.value} pruner at epoch {epoch}: accuracy "
                                            f"{curve[epoch]:.4f} {self._level()} of {n} trained trials")

    def _level(self) -> str:
        return "below the median" if self.spec.kind is PrunerKind.MEDIAN else f"not in the top {self.spec.percentile:g}%"
