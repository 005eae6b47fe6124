"""Issue 16's corpus: every bad input is refused cleanly and leaves every file as it was.

The cases are data (corpus.yaml); each runs `hil` in this process (tests/fuzz/harness.py), and a few
run as real subprocesses too, to prove the in-process harness answers as the installed CLI does.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fuzz.harness import refusal_problems, run_in_process, snapshot
from tests.fuzz.world import MARKER, build_world

ENV = "HIL_MEMORY_LIMIT_GB"  # toolchain.limits.ENV, spelled out so the corpus also runs on older code

HERE = Path(__file__).parent
CASES = yaml.safe_load((HERE / "corpus.yaml").read_text())


# the guards are checked against a 1 GiB limit, so that a case means the same on every machine
LIMIT_GB = "1"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    old = os.environ.get(ENV)
    os.environ[ENV] = LIMIT_GB
    yield build_world(tmp_path_factory.mktemp("fuzz") / "w")
    if old is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = old


def _args(case: dict, world: Path) -> list[str]:
    return shlex.split(case["args"].replace("{w}", str(world)))


def check_case(case: dict, world: Path, outcome) -> list[str]:
    problems = refusal_problems(outcome)
    if case.get("match") and case["match"].lower() not in outcome.stderr.lower():
        problems.append(f"error line does not mention {case['match']!r}")
    if (world / MARKER).exists():
        problems.append("the crafted checkpoint ran its command")
    for arg in _args(case, world):
        if arg.startswith("/sys/") and Path(arg).exists():
            problems.append(f"{arg} was created")
    return problems


def test_the_limit_variable_is_the_one_the_guards_read():
    from toolchain import limits

    assert limits.ENV == ENV


def test_the_corpus_is_large_and_covers_every_verb():
    verbs = {shlex.split(c["args"])[0] for c in CASES}
    assert len(CASES) >= 150
    assert {"train", "export", "lower", "estimate", "emulate", "build", "report", "sweep", "pareto",
            "demo"} <= verbs


@pytest.mark.parametrize("case", CASES, ids=[c["args"].replace("{w}/", "") for c in CASES])
def test_bad_input_is_refused_cleanly(world, case):
    before = snapshot(world)
    outcome = run_in_process(_args(case, world), cwd=world)
    problems = check_case(case, world, outcome)
    after = snapshot(world)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        problems.append(f"files created or changed: {changed[:5]}")
    assert not problems, f"{problems}\nstderr:\n{outcome.stderr[-3000:]}"


SUBPROCESS_CASES = [c for c in CASES if c["args"] in (
    "--bogus", "estimate {w}/dataflow.onnx --cost bogus", "emulate {w}/dataflow.onnx --inputs {w}/x_nan.npy")]


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=[c["args"].replace("{w}/", "") for c in SUBPROCESS_CASES])
def test_the_in_process_harness_answers_as_the_cli_does(world, case):
    args = _args(case, world)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "toolchain.cli", *args], capture_output=True, text=True,
                          cwd=world, timeout=300, env={**os.environ, "PYTHONPATH": str(root)})
    inproc = run_in_process(args, cwd=world)
    assert (proc.returncode, proc.stderr.strip()) == (inproc.code, inproc.stderr.strip())
    assert proc.stdout == inproc.stdout
