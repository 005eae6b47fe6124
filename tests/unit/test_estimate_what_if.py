"""`hil estimate DESIGN --folding F` in a `hil train` run folder is a what-if: its estimate is saved as
estimate_<F's name>.json beside the run's estimate.json, which stays the estimate of the design the run
built (the one `hil report` shows); --run-dir DIR still writes DIR/estimate.json, as asked."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.unit.test_backend_finn import tiny_qonnx
from toolchain.lower import lower_file


def _run_folder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}")  # what makes a folder a `hil train` run folder
    tiny_qonnx().save(str(run / "model.onnx"))
    lower_file(run / "model.onnx", run / "dataflow.onnx", samples=20, folding={"MVAU_0": {"PE": 1, "SIMD": 1}})
    return run


def _estimate(*args) -> dict:
    proc = run_cli("estimate", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _pe(result: dict, node: str):
    return next(layer["PE"] for layer in result["layers"] if layer["name"] == node)


def test_a_what_if_folding_keeps_the_runs_estimate(tmp_path):
    run = _run_folder(tmp_path)
    built = _estimate(str(run / "dataflow.onnx"))
    assert json.loads((run / "estimate.json").read_text()) == built and _pe(built, "MVAU_0") == 1
    fold = tmp_path / "wide fold.json"
    fold.write_text(json.dumps({"MVAU_hls_0": {"PE": 16, "SIMD": 8}}))
    what_if = _estimate(str(run / "dataflow.onnx"), "--folding", str(fold))
    assert _pe(what_if, "MVAU_0") == 16
    assert json.loads((run / "estimate.json").read_text()) == built  # the run's own estimate, untouched
    assert json.loads((run / "estimate_wide_fold.json").read_text()) == what_if
    # asked for explicitly: --run-dir writes <dir>/estimate.json
    asked = _estimate(str(run / "dataflow.onnx"), "--folding", str(fold), "--run-dir", str(tmp_path / "other"))
    assert json.loads((tmp_path / "other" / "estimate.json").read_text()) == asked
