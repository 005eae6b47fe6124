"""The FINN-oracle tests need finn-plus. Without it they FAIL, naming the install command, unless the
opt-out variable is set (then they are skipped, visibly, with the same message). The handoff tests share
one set-up: `finn_handoff` builds each handoff and runs FINN's flow on it once per session."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from qonnx.core.modelwrapper import ModelWrapper

from tests.oracle.finn_flow import (OPT_OUT, FinnUnavailable, FlowResult, handoff_steps, opted_out, require_finn,
                                    run_flow)
from toolchain.pipeline import build

PART = "xc7z020clg400-1"  # the Pynq-Z2's part, every handoff's here


@pytest.fixture(scope="session", autouse=True)
def finn_plus():
    try:
        return require_finn()
    except FinnUnavailable as err:
        if opted_out():
            pytest.skip(f"{OPT_OUT} is set: {err}")
        pytest.fail(str(err), pytrace=False)


@dataclass
class Handoff:
    """A FINN handoff (`hil build --backend finn`, in process) and FINN's flow on it."""

    dataflow: ModelWrapper  # the handed-off dataflow.onnx
    flow: FlowResult  # finn-plus's flow on model.onnx with the handoff's specialize and folding configs
    dir: Path  # the handoff folder


@pytest.fixture(scope="session")
def finn_handoff(tmp_path_factory):
    """handoff(key, write_source, folding) -> Handoff, built once per session and key: the source QONNX
    written by write_source(path), `hil build SOURCE --backend finn --folding` (what the CLI calls), then
    build.py's custom steps and FINN's default steps with specialize_layers_config.json and
    folding_config.json (tests/oracle/finn_flow.py:run_flow). `own_flow(handoff)`: the same model.onnx
    through FINN's flow without either config, FINN choosing every variant itself."""
    built: dict[str, Handoff] = {}

    def make(key: str, write_source: Callable[[Path], None], folding: dict) -> Handoff:
        if key not in built:
            tmp = tmp_path_factory.mktemp(key)
            write_source(tmp / "model.onnx")
            (tmp / "fold.json").write_text(json.dumps(folding))
            h = tmp / "h"
            build(tmp / "model.onnx", "finn", h, folding=tmp / "fold.json", part=PART, clock_ns=None, csim=0,
                  hls_backend="Vitis", seed=0)
            flow = run_flow(ModelWrapper(str(h / "model.onnx")), PART,
                            folding=json.loads((h / "folding_config.json").read_text()),
                            specialize=json.loads((h / "specialize_layers_config.json").read_text()),
                            first_steps=handoff_steps((h / "build.py").read_text()))
            built[key] = Handoff(ModelWrapper(str(h / "dataflow.onnx")), flow, h)
        return built[key]

    return make


def own_flow(handoff: Handoff) -> FlowResult:
    """FINN's flow on the handoff's model.onnx with no specialize or folding config (FINN's own choices)."""
    return run_flow(ModelWrapper(str(handoff.dir / "model.onnx")), PART,
                    first_steps=handoff_steps((handoff.dir / "build.py").read_text()))
