"""`hil sweep` end to end: same seed same trials on every executor, resume after SIGKILL, failed
trials recorded, trained trials confirmed and `hil pareto` on them."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.sweep.conftest import PRUNED_ONLY, write_sweep


def trials_of(run: Path) -> list[dict]:
    """(number, state, params, status, start/complete times) of every trial in RUN/study.db."""
    import optuna

    study = optuna.load_study(study_name="hil-sweep", storage=f"sqlite:///{run / 'study.db'}")
    return [{"number": t.number, "state": t.state.name, "params": t.params, "status": t.user_attrs.get("status"),
             "error": t.user_attrs.get("error"), "measures": t.user_attrs.get("measures"),
             "start": t.datetime_start, "complete": t.datetime_complete} for t in study.get_trials(deepcopy=False)]


def same_trials(run: Path) -> list[tuple]:
    """What must not depend on the executor: each trial's point, status and measures."""
    return [(t["number"], sorted(t["params"].items()), t["status"], t["measures"]) for t in trials_of(run)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The pruned-only sweep, run in this process's CLI with one worker."""
    folder = tmp_path_factory.mktemp("reference")
    run = folder / "run"
    proc = run_cli("sweep", str(write_sweep(folder, PRUNED_ONLY)), "-o", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["trials"], summary["pruned"], summary["trainings_saved"]) == (4, 4, 4)
    return run


def test_every_trial_recorded_with_its_point(reference):
    trials = trials_of(reference)
    assert [t["number"] for t in trials] == [0, 1, 2, 3]
    assert all(t["state"] == "PRUNED" and t["measures"]["latency"] > 1.0 for t in trials)
    assert len({tuple(sorted(t["params"].items())) for t in trials}) > 1  # the sampler did explore
    assert all((reference / "trials" / f"{n:04d}" / "recipe.yaml").exists() for n in range(4))


def test_two_local_workers_give_the_same_trials(reference, pruned_only, tmp_path):
    run = tmp_path / "run2"
    proc = run_cli("sweep", str(pruned_only), "-o", str(run), "--workers", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    assert same_trials(run) == same_trials(reference)


def test_sigkill_then_resume_keeps_finished_trials(pruned_only, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "toolchain.cli", "sweep", str(pruned_only), "-o", str(run)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        done = 0
        while done < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if (run / "study.db").exists():
                with sqlite3.connect(run / "study.db") as db:
                    try:
                        done = db.execute("select count(*) from trials where state != 'RUNNING'").fetchone()[0]
                    except sqlite3.OperationalError:  # tables not created yet
                        done = 0
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before = {t["number"]: t for t in trials_of(run) if t["state"] != "RUNNING"}
    assert len(before) >= 2
    stamps = {n: (run / "trials" / f"{n:04d}" / "probe.onnx").stat().st_mtime_ns for n in before}
    again = run_cli("sweep", str(pruned_only), "-o", str(run), "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    after = trials_of(run)
    for n, t in before.items():  # kept as they were: not re-run, not rewritten
        assert after[n] == t
        assert (run / "trials" / f"{n:04d}" / "probe.onnx").stat().st_mtime_ns == stamps[n]
    counted = [t for t in after if t["error"] is None or not t["error"].startswith("interrupted")]
    assert len(counted) == summary["trials"] == 4 and summary["ran_now"] == 4 - len(before)
    interrupted = [t for t in after if t not in counted]
    assert summary["recovered"] == len(interrupted)
    assert all(t["state"] == "FAIL" for t in interrupted)
    # an interrupted point is asked again, first thing after the resume
    fresh = [t["params"] for t in after if t["number"] >= len(before) + len(interrupted)]
    assert [t["params"] for t in interrupted] == fresh[:len(interrupted)]


def test_a_different_sweep_in_the_same_run_is_refused(reference, tmp_path):
    other = write_sweep(tmp_path, {**PRUNED_ONLY, "seed": 4})
    proc = run_cli("sweep", str(other), "-o", str(reference))
    assert proc.returncode == 2 and "holds a different sweep" in proc.stderr
