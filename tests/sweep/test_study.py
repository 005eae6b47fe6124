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
    import jsonschema

    from toolchain.schemas import schema

    jsonschema.validate(summary, schema("sweep"))
    return run


def test_every_trial_recorded_with_its_point(reference):
    trials = trials_of(reference)
    assert [t["number"] for t in trials] == [0, 1, 2, 3]
    assert all(t["state"] == "PRUNED" and t["measures"]["latency"] > 1.0 for t in trials)
    assert len({tuple(sorted(t["params"].items())) for t in trials}) > 1  # the sampler did explore
    import optuna

    study = optuna.load_study(study_name="hil-sweep", storage=f"sqlite:///{reference / 'study.db'}")
    # a trial that ran left its recipe; one whose point had run already (same_as) reuses that trial's
    for t in study.get_trials(deepcopy=False):
        ran = t.user_attrs.get("same_as", t.number)
        assert (reference / "trials" / f"{ran:04d}" / "recipe.yaml").exists()
        assert study.trials[ran].params == t.params


@pytest.mark.slow
def test_two_local_workers_give_the_same_trials(reference, pruned_only, tmp_path):
    run = tmp_path / "run2"
    proc = run_cli("sweep", str(pruned_only), "-o", str(run), "--workers", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    assert same_trials(run) == same_trials(reference)


@pytest.mark.slow
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


def test_a_point_asked_again_takes_the_earlier_outcome(tmp_path):
    """Two distinct points, four trials: the repeats are recorded with the outcome of the trial that ran
    their point (same_as), in the same batch or a later one, and are not run again."""
    data = {**PRUNED_ONLY, "space": {"weight_bits": [2], "act_bits": [2], "target_fps": [1.0e4, 1.0e5]}}
    run = tmp_path / "run"
    proc = run_cli("sweep", str(write_sweep(tmp_path, data)), "-o", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    import optuna

    study = optuna.load_study(study_name="hil-sweep", storage=f"sqlite:///{run / 'study.db'}")
    trials = study.get_trials(deepcopy=False)
    ran = [t for t in trials if "same_as" not in t.user_attrs]
    again = [t for t in trials if "same_as" in t.user_attrs]
    assert len(trials) == 4 and len(ran) == len({tuple(sorted(t.params.items())) for t in trials}) <= 2
    assert summary["ran_now"] == len(ran) and summary["reused"] == len(again) >= 2
    for t in again:
        source = trials[t.user_attrs["same_as"]]
        assert "same_as" not in source.user_attrs and source.params == t.params
        assert (t.state, t.user_attrs["measures"], t.user_attrs["reason"]) == \
            (source.state, source.user_attrs["measures"], source.user_attrs["reason"])
        assert not (run / "trials" / f"{t.number:04d}").exists()


def test_a_different_sweep_in_the_same_run_is_refused(reference, tmp_path):
    other = write_sweep(tmp_path, {**PRUNED_ONLY, "seed": 4})
    proc = run_cli("sweep", str(other), "-o", str(reference))
    assert proc.returncode == 2 and "holds a different sweep" in proc.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_dask_cluster_on_loopback_gives_the_same_trials(reference, pruned_only, tmp_path):
    """A real cluster: `dask scheduler` and two `dask worker` processes on 127.0.0.1, always stopped."""
    from distributed import Client

    dask = str(Path(sys.executable).parent / "dask")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0", "--no-show"],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=open(logs / "s.log", "w"))]
    try:
        for i in range(2):
            procs.append(subprocess.Popen([dask, "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1",
                                           "--host", "127.0.0.1", "--no-dashboard", "--local-directory",
                                           str(tmp_path / f"w{i}")], env=env, cwd=ROOT,
                                          stdout=subprocess.DEVNULL, stderr=open(logs / f"w{i}.log", "w")))
        with Client(f"tcp://127.0.0.1:{port}", timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            assert len(client.scheduler_info()["workers"]) == 2
        run = tmp_path / "run"
        proc = run_cli("sweep", str(pruned_only), "-o", str(run), "--executor", f"dask://127.0.0.1:{port}", "--json",
                       timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["executor"] == f"dask tcp://127.0.0.1:{port}"
        assert same_trials(run) == same_trials(reference)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.mark.slow
def test_trained_and_failed_trials_then_pareto(tmp_path):
    """A trained point (estimate, train, export, lower, estimate, emulate) and a crashing one (a channel
    sparsity that leaves no channel): the crash is recorded with its error, the sweep goes on."""
    data = {"recipe": "digits-mlp", "trials": 2, "seed": 0, "epochs": 1, "baseline": False, "verify_samples": 50,
            "space": {"weight_bits": [3], "act_bits": [3], "prune": ["none", "channels:0.999"],
                      "target_fps": [1.0e5]},
            "objectives": ["accuracy", "lut", "bops"], "search": {"sampler": "grid", "batch": 2}}
    run = tmp_path / "run"
    proc = run_cli("sweep", str(write_sweep(tmp_path, data)), "-o", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["trials"], summary["complete"], summary["failed"], summary["trained"]) == (2, 1, 1, 1)
    trials = {t["params"]["prune"]: t for t in trials_of(run)}
    assert trials["channels:0.999"]["state"] == "FAIL" and trials["channels:0.999"]["error"]
    good = trials["none"]
    assert good["state"] == "COMPLETE" and 0.1 < good["measures"]["accuracy"] <= 1
    folder = run / "trials" / f"{good['number']:04d}"
    assert all((folder / f).exists() for f in ("checkpoint.pt", "model.onnx", "dataflow.onnx", "estimate.json"))
    front = run_cli("pareto", str(run), "--json")
    assert front.returncode == 0, front.stderr
    result = json.loads(front.stdout)
    import jsonschema

    from toolchain.schemas import schema

    jsonschema.validate(result, schema("pareto"))
    assert [r["number"] for r in result["front"]] == [good["number"]]
    assert result["front"][0]["emulation"]["deadlock"] is False
    assert result["front"][0]["rebuild"].startswith(f"hil train {folder / 'recipe.yaml'}")
    assert (run / "pareto.png").stat().st_size > 10_000
    report = run_cli("report", str(run))
    assert report.returncode == 0, report.stderr
    page = (run / "report.html").read_text()
    assert f'data-layer="trial-{good["number"]}"' in page and 'id="chart-pareto"' in page


@pytest.mark.slow
def test_the_epoch_pruner_stops_a_worse_curve(tmp_path):
    """Grid over w4a4, w4a2, w2a4, w2a2 in batches of two, median pruner after one reference: a point of
    the second batch whose epoch-0 accuracy is below the first batch's median stops there (Optuna state
    PRUNED, its curve stored); the summary counts the epochs it saved."""
    data = {"recipe": "digits-mlp", "trials": 4, "seed": 0, "epochs": 3, "baseline": False, "verify_samples": 50,
            "space": {"weight_bits": [4, 2], "act_bits": [4, 2], "target_fps": [1.0e5]},
            "objectives": ["accuracy", "lut"],
            "search": {"sampler": "grid", "batch": 2, "pruner": {"startup_trials": 1, "warmup_epochs": 0}}}
    run = tmp_path / "run"
    proc = run_cli("sweep", str(write_sweep(tmp_path, data)), "-o", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    trials = trials_of(run)
    stopped = [t for t in trials if t["status"] == "pruned_early"]
    assert stopped and all(t["state"] == "PRUNED" for t in stopped)
    assert all(t["number"] >= 2 for t in stopped)  # the first batch has no references
    assert summary["pruned_early"] == len(stopped) and summary["epochs_saved"] > 0
    import optuna

    study = optuna.load_study(study_name="hil-sweep", storage=f"sqlite:///{run / 'study.db'}")
    first = [t for t in study.trials if t.number < 2 and t.user_attrs["status"] == "complete"]
    for t in stopped:
        curve = study.trials[t["number"]].intermediate_values
        epoch = max(curve)
        assert epoch < 2 and curve[epoch] < max(f.intermediate_values[epoch] for f in first)


@pytest.mark.slow
def test_a_budget_point_in_a_sweep(tmp_path):
    """prune: [budget:LUT=1300]: the trial trains with `hil train --budget` on its part and folding; the
    trained design's estimate is the knapsack's design (within the accumulator widths' few LUT)."""
    data = {"recipe": "digits-mlp", "trials": 1, "seed": 0, "epochs": 2, "baseline": False, "verify_samples": 50,
            "space": {"prune": ["budget:LUT=1300"], "target_fps": [1.0e5]}, "search": {"sampler": "grid", "batch": 2}}
    run = tmp_path / "run"
    proc = run_cli("sweep", str(write_sweep(tmp_path, data)), "-o", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    (trial,) = trials_of(run)
    assert trial["status"] == "complete", trial["error"]
    metrics = json.loads((run / "trials" / "0000" / "metrics.json").read_text())
    assert metrics["budget"]["after"]["LUT"] <= 1300 < metrics["budget"]["before"]["LUT"]
    assert abs(trial["measures"]["lut"] - metrics["budget"]["after"]["LUT"]) <= 0.02 * 1300
