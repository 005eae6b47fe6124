"""`--run-dir`: each verb leaves its --json object in the run folder, and `hil report` works after any
sequence of verbs by reading those files; it never runs a stage again (here: never re-emulates)."""

import json

import numpy as np

from tests.conftest import run_cli
from tests.unit.test_backend_finn import tiny_qonnx
from toolchain.inputs import grid_inputs


def run_json(*args):
    proc = run_cli(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_lower_estimate_emulate_then_report(tmp_path):
    src, run = tmp_path / "model.onnx", tmp_path / "run"
    model = tiny_qonnx()
    model.save(str(src))
    np.save(tmp_path / "x.npy", grid_inputs(model, 20))
    df = run / "dataflow.onnx"

    lowered = run_json("lower", str(src), "-o", str(df), "--samples", "50", "--run-dir", str(run))
    estimated = run_json("estimate", str(df), "--part", "Pynq-Z2", "--run-dir", str(run))
    # the source lies outside the design's folder: named on the command line (hil_source is not followed there)
    emulated = run_json("emulate", str(df), "--inputs", str(tmp_path / "x.npy"), "--source", str(src),
                        "--run-dir", str(run))
    for verb, printed in (("lower", lowered), ("estimate", estimated), ("emulate", emulated)):
        assert json.loads((run / f"{verb}.json").read_text()) == printed, verb
    assert emulated["mismatches"] == 0 and emulated["samples"] == 20
    timeline = json.loads((run / "emulate_timeline.json").read_text())
    assert set(timeline["nodes"]) == set(emulated["per_layer"]) and timeline["frames"] == emulated["frames"]

    # the report must show what emulate wrote, not a new simulation: change a figure and remove the model
    emulated["latency_cycles"] = 987654
    (run / "emulate.json").write_text(json.dumps(emulated))
    df.unlink()
    report = run_json("report", str(run))
    page = (run / "report.html").read_text()
    assert report["report"] == str(run / "report.html")
    assert "987654 cycles" in page  # emulated latency, as written in emulate.json
    fps = estimated["network"]["estimated_throughput_fps"]
    assert f"{fps:,.0f} fps" in page  # estimated throughput, from estimate.json
    assert "Pipeline timeline" in page and "FIFO occupancy" in page  # drawn from emulate_timeline.json
    assert "metrics.json" in page and "hil train" in page  # what is missing is named
    assert "emulate.json</th><td>not found" not in page


def test_report_with_only_an_estimate_says_what_is_missing(tmp_path):
    src, run = tmp_path / "model.onnx", tmp_path / "run"
    tiny_qonnx().save(str(src))
    run_json("estimate", str(src), "--run-dir", str(run))  # a QONNX model: lowered by the pipeline first
    assert sorted(p.name for p in run.iterdir()) == ["estimate.json"]
    run_json("report", str(run))
    page = (run / "report.html").read_text()
    assert "Cycles per layer" in page and "Pipeline timeline" not in page
    assert "emulate.json</th><td>not found (written by hil emulate --run-dir)" in page


def test_a_run_dir_that_is_a_file_is_refused_before_anything_is_written(tmp_path):
    src, bogus = tmp_path / "model.onnx", tmp_path / "run"
    tiny_qonnx().save(str(src))
    bogus.write_text("not a folder")
    proc = run_cli("lower", str(src), "-o", str(tmp_path / "df.onnx"), "--run-dir", str(bogus))
    assert proc.returncode == 2 and proc.stderr.startswith("error: --run-dir") and "Traceback" not in proc.stderr
    assert not (tmp_path / "df.onnx").exists()
