"""Issue 16: kill -9 of each writing verb at random moments never leaves a corrupt output, and the
temporary files a killed write leaves are removed by the next run to the same path.

Each kill forks this process after every import is loaded (the child runs the verb through
toolchain.cli.main, the parent SIGKILLs it after a random delay within the verb's measured run
time), so a kill costs milliseconds, not an interpreter start. Every output is compared with the
output of an uninterrupted reference run: after a kill it must be absent or byte-identical to it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.fuzz.harness import run_in_process

KILLS = 56  # landed kills (the child was still running), over all verbs
# attempts per round: the slow report (matplotlib charts) less often than the quick verbs
WEIGHTS = {"report": 1, "lower": 3, "emulate": 3, "estimate": 3, "build-finn": 3, "build-rtl": 3}
MIN_PER_VERB = 2


def verbs(w: Path) -> dict[str, tuple[list[str], list[str]]]:
    """verb label -> (argv, output paths relative to w); every output of every writing verb."""
    return {
        "lower": (["lower", "model.onnx", "-o", "out/df.onnx", "--samples", "8"], ["out/df.onnx"]),
        "emulate": (["emulate", "dataflow.onnx", "--inputs", "x.npy", "-o", "out/y.npy", "--size-fifos",
                     "--write-model", "out/sized.onnx", "--run-dir", "out/rd"],
                    ["out/y.npy", "out/sized.onnx", "out/rd/emulate.json", "out/rd/emulate_timeline.json"]),
        "estimate": (["estimate", "dataflow.onnx", "--run-dir", "out/rd"], ["out/rd/estimate.json"]),
        "build-finn": (["build", "dataflow.onnx", "--backend", "finn", "-o", "out/finn"], ["out/finn"]),
        "build-rtl": (["build", "dataflow.onnx", "--backend", "rtl", "-o", "out/rtl"], ["out/rtl"]),
        "report": (["report", "out/rd"], ["out/rd/report.html"]),
    }


def _state(path: Path):
    """What a later comparison needs: file bytes, or a folder's file names and bytes (its build record
    hil_build.json only as parsed JSON keys: it holds run times)."""
    if not path.exists():
        return None
    if path.is_file():
        return path.read_bytes()
    out = {}
    for p in sorted(path.rglob("*")):
        if p.is_file():
            rel = str(p.relative_to(path))
            out[rel] = sorted(json.loads(p.read_text())) if p.name == "hil_build.json" else p.read_bytes()
    return out


def _volatile(rel: str) -> bool:
    """Outputs that hold measured run times: compared as complete JSON, not byte for byte."""
    return rel.endswith(("estimate.json", "emulate.json", "emulate_timeline.json", "report.html"))


def _check(w: Path, rel: str, reference) -> list[str]:
    path = w / rel
    state = _state(path)
    if state is None or state == reference:
        return []
    if _volatile(rel):
        text = path.read_text()
        if rel.endswith(".html"):
            return [] if text.rstrip().endswith("</html>") else [f"{rel} is not a complete page"]
        try:
            json.loads(text)
            return []
        except ValueError:
            return [f"{rel} is not complete JSON"]
    return [f"{rel} differs from the reference run (corrupt or half-written)"]


def leftovers(w: Path) -> list[str]:
    """Hidden temporary files and folders of killed writes (fileio: .NAME.PID.*.tmp, .NAME.old-PID)."""
    return sorted(str(p.relative_to(w)) for p in w.rglob(".*") if p.name.endswith(".tmp") or ".old-" in p.name)


def _fork_and_kill(args: list[str], w: Path, delay: float) -> bool:
    """Run `hil ARGS` in a forked child and SIGKILL it after `delay` s; True if it was still running."""
    pid = os.fork()
    if pid == 0:  # child: the verb, silently, then exit without running the parent's cleanup
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            code = run_in_process(args, cwd=w).code
        finally:
            os._exit(locals().get("code", 1))
    time.sleep(delay)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    from tests.unit.test_backend_finn import tiny_qonnx
    from toolchain.lower import lower_file

    w = tmp_path_factory.mktemp("kill")
    tiny_qonnx().save(str(w / "model.onnx"))
    lower_file(w / "model.onnx", w / "dataflow.onnx", samples=8)
    np.save(w / "x.npy", (np.random.default_rng(0).integers(-16, 16, size=(32, 8)) * 0.125).astype(np.float32))
    return w


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_kill_minus_9_never_corrupts_and_the_next_run_cleans_up(design):
    w = design
    plan = verbs(w)
    reference, duration = {}, {}
    for label, (args, outs) in plan.items():  # uninterrupted runs: the reference outputs, warm caches
        assert run_in_process(args, cwd=w).code == 0, label  # first run: imports (the children inherit them)
        t0 = time.perf_counter()
        outcome = run_in_process(args, cwd=w)
        duration[label] = time.perf_counter() - t0  # the warm run time, which the kills fall within
        assert outcome.code == 0, f"{label}: {outcome.stderr}"
        for rel in outs:
            reference[rel] = _state(w / rel)
    rng = random.Random(16)
    landed, attempts, problems = {label: 0 for label in plan}, 0, []
    labels = [label for label in plan for _ in range(WEIGHTS[label])]
    while (sum(landed.values()) < KILLS or min(landed.values()) < MIN_PER_VERB) and attempts < 4 * KILLS:
        label = labels[attempts % len(labels)]
        attempts += 1
        args, outs = plan[label]
        if _fork_and_kill(args, w, rng.uniform(0.0, 0.9) * duration[label]):
            landed[label] += 1
        for rel in outs:
            problems += [f"{label}: {p}" for p in _check(w, rel, reference[rel])]
    assert not problems, problems
    assert sum(landed.values()) >= 50 and min(landed.values()) >= MIN_PER_VERB, landed
    left_before = leftovers(w)
    for label, (args, outs) in plan.items():  # the next run to each path removes what kills left
        assert run_in_process(args, cwd=w).code == 0
        for rel in outs:
            assert not _check(w, rel, reference[rel])
    assert leftovers(w) == [], (left_before, leftovers(w))
    print(f"kills landed per verb: {landed} of {attempts} attempts; run times {duration}; temp files left by "
          f"kills before the clean-up runs: {len(left_before)}", file=sys.stderr)
