"""The targets' fixtures: one small real design (digits-mlp, untrained, exported and lowered once per
session), 1,000 raw inputs on its source's input grid, and real `hil serve` agent processes on loopback."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

SAMPLES = 1000
REQUEST_TIMEOUT = 0.5  # the agents' --request-timeout in these tests: the slow-loris test waits this long
MAX_BYTES = 256 * 1024  # the agents' --max-bytes in these tests (1,000 int8 samples of 64 values fit)
MAX_CONNECTIONS = 3


@dataclass
class DesignFiles:
    dataflow: Path
    source: Path
    inputs: Path  # SAMPLES raw inputs of the source model


@dataclass
class AgentProcess:
    proc: subprocess.Popen
    host: str
    port: int
    token: str
    token_file: Path
    log: Path

    @property
    def address(self) -> str:
        return f"tcp://{self.host}:{self.port}"


@pytest.fixture(scope="session")
def design(tmp_path_factory) -> DesignFiles:
    from toolchain.export import export_run
    from toolchain.inputs import grid_inputs
    from toolchain.lower import lower_file
    from toolchain.onnxio import load_model

    root = tmp_path_factory.mktemp("design")
    assert export_run("digits-mlp", root / "model.onnx", untrained=True, samples=50)["mismatches"] == 0
    assert lower_file(root / "model.onnx", root / "dataflow.onnx", samples=50)["mismatches"] == 0
    src, df = load_model(root / "model.onnx"), load_model(root / "dataflow.onnx")
    np.save(root / "x.npy", grid_inputs(src, SAMPLES, seed=1, dataflow=df))
    return DesignFiles(root / "dataflow.onnx", root / "model.onnx", root / "x.npy")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """The C-sim cache of this session (HIL_CACHE_DIR): cold at the start, so the first C-sim compiles."""
    return tmp_path_factory.mktemp("hil-cache")


def start_agent(folder: Path, target: str, cache: Path, *extra: str) -> AgentProcess:
    token = secrets.token_hex(16)
    token_file = folder / f"token-{target}"
    token_file.write_text(token + "\n")
    env = {**os.environ, "HIL_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("HIL_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "toolchain.cli", "serve", "--target", target, "--port", "0",
                             "--token-file", str(token_file), "--request-timeout", str(REQUEST_TIMEOUT),
                             "--max-bytes", str(MAX_BYTES), "--max-connections", str(MAX_CONNECTIONS), *extra],
                            stdout=subprocess.PIPE, stderr=open(folder / f"agent-{target}.log", "w"), text=True,
                            cwd=ROOT, env=env)
    line = proc.stdout.readline()  # "hil serve: emulator agent listening on 127.0.0.1:PORT (protocol v1)"
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"the agent did not start: {line!r} {(folder / f'agent-{target}.log').read_text()}")
    host, port = line.split("listening on ")[1].split()[0].rsplit(":", 1)
    return AgentProcess(proc, host, int(port), token, token_file, folder / f"agent-{target}.log")


def stop_agent(agent: AgentProcess) -> None:
    agent.proc.terminate()
    try:
        agent.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        agent.proc.kill()
        agent.proc.wait()


@pytest.fixture(scope="session")
def emulator_agent(tmp_path_factory, cache_dir):
    agent = start_agent(tmp_path_factory.mktemp("agent"), "emulator", cache_dir)
    yield agent
    stop_agent(agent)


@pytest.fixture(scope="session")
def csim_agent(tmp_path_factory, cache_dir):
    agent = start_agent(tmp_path_factory.mktemp("agent"), "csim", cache_dir)
    yield agent
    stop_agent(agent)


def wait_for(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
