"""Issue 11 acceptance: real `hil serve` agents on loopback, backed by the emulator and by the hls4ml
C-sim; 1,000 samples through `hil run --target tcp://...` give outputs identical to the local emulator
(`hil emulate --inputs -o`, a separate code path: toolchain.emulate.run_values)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.targets.conftest import SAMPLES


@pytest.fixture(scope="module")
def emulated(design, tmp_path_factory):
    """The local emulator's outputs of the 1,000 inputs, from `hil emulate`'s own path."""
    from toolchain.emulate import emulate

    out = tmp_path_factory.mktemp("emulated") / "y.npy"
    assert emulate(design.dataflow, inputs=design.inputs, output=out)["mismatches"] == 0
    return np.load(out)


def run_remote(design, agent, out):
    return run_cli("run", str(design.dataflow), "--inputs", str(design.inputs), "--target", agent.address,
                   "--token-file", str(agent.token_file), "--out", str(out), "--json")


def test_emulator_agent_gives_the_local_emulators_outputs(design, emulator_agent, emulated, tmp_path):
    run = run_remote(design, emulator_agent, tmp_path / "y.npy")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["samples"] == SAMPLES and result["mismatches"] == 0
    assert result["equality"]["samples"] == SAMPLES and result["equality"]["max_abs_diff"] == 0.0
    y = np.load(tmp_path / "y.npy")
    assert y.shape == emulated.shape == (SAMPLES, 10)
    assert np.array_equal(y, emulated)
    timing = result["timing"]
    assert timing["samples"] == SAMPLES and timing["kind"] == "emulated"
    assert timing["round_trip_seconds"] >= timing["seconds"] > 0
    assert timing["interval_cycles"] == result["reference_timing"]["interval_cycles"] > 0
    assert result["describe"]["agent"] == "emulator"


def test_csim_agent_gives_the_local_emulators_outputs(design, csim_agent, emulated, tmp_path):
    run = run_remote(design, csim_agent, tmp_path / "y.npy")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["samples"] == SAMPLES and result["mismatches"] == 0
    assert np.array_equal(np.load(tmp_path / "y.npy"), emulated)
    assert result["describe"]["agent"] == "csim"
    assert result["timing"]["kind"] == "wall" and result["timing"]["interval_cycles"] is None  # C-sim is untimed


def test_local_csim_reuses_the_agents_compiled_project(design, csim_agent, cache_dir, emulated):
    """`compile once, cache by design hash`: the agent compiled this design (test above); the local
    C-sim target with the same cache loads that library instead of compiling again."""
    from toolchain.targets.csim import CSimTarget
    from toolchain.targets.run import run_design

    target = CSimTarget(cache_dir / "csim")
    result = run_design(design.dataflow, design.inputs, "csim", target=target)
    assert result["describe"]["compiled_now"] is False
    assert result["mismatches"] == 0
    assert np.array_equal(np.asarray(result["outputs"]), emulated)
    assert len(list((cache_dir / "csim").glob("*/hil_csim.json"))) == 1

