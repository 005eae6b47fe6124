"""`hil estimate` end to end on hand-built dataflow graphs: the JSON contract of docs/architecture.md,
folding files with FINN names, exit 2 with a one-line utilization when the design does not fit."""

import json

import numpy as np

from hw.ops.graph import NodeSpec, linear_model
from tests.conftest import run_cli
from tests.golden.dataflow_models import cybsec_mlp

KEYS = {"schema_version", "part", "clock_ns", "cost_model", "layers", "network", "total", "part_capacity",
        "utilization", "utilization_percent", "not_estimated", "fits", "bottleneck", "total_energy_pj",
        "energy_units", "units"}


def test_json_contract_with_finn_folding_file(tmp_path):
    model_path, fold_path = tmp_path / "dataflow.onnx", tmp_path / "folding.json"
    cybsec_mlp().save(str(model_path))
    fold_path.write_text(json.dumps({"MVAU_hls_0": {"PE": 2, "SIMD": 5}}))
    proc = run_cli("estimate", str(model_path), "--folding", str(fold_path), "--part", "Pynq-Z2", "--json")
    assert proc.returncode == 0, proc.stderr
    est = json.loads(proc.stdout)
    assert set(est) == KEYS and est["part"] == "xc7z020clg400-1" and est["cost_model"] == "finn"
    row = est["layers"][0]
    assert row.pop("energy_pj") > 0  # hw/cost/energy.py, weight-aware: tested in tests/unit/test_cost_calibrated.py
    assert row == {"name": "MVAU_0", "op": "MVAU", "PE": 2, "SIMD": 5, "cycles": 3840, "LUT": 418, "FF": None,
                   "DSP": 0, "BRAM_18K": 8, "URAM": 0,  # FF: FINN estimates none
                   "share_of_interval": 3840 / est["network"]["max_cycles"]}
    assert set(est["network"]) == {"max_cycles", "critical_path_cycles", "estimated_throughput_fps",
                                   "estimated_latency_ns"}
    assert set(est["utilization"]) == set(est["total"]) == {"LUT", "FF", "DSP", "BRAM_18K", "URAM"}
    assert est["part_capacity"]["LUT"] == 53200 and est["utilization_percent"]["LUT"] == 100 * est["utilization"]["LUT"]


def test_design_that_does_not_fit_exits_2_with_numbers(tmp_path):
    w = np.ones((4096, 4096), np.float32)
    big = linear_model([NodeSpec("MVAU", dict(MW=4096, MH=4096, PE=1, SIMD=1, inputDataType="INT2",
                                              weightDataType="INT2", outputDataType="INT32", noActivation=1), [w])])
    path = tmp_path / "big.onnx"
    big.save(str(path))
    proc = run_cli("estimate", str(path), "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["total"]["BRAM_18K"] == 2048 and not json.loads(proc.stdout)["fits"]
    assert proc.stderr.strip().splitlines() == [
        "error: design does not fit xc7z020clg400-1: LUT 0.6% of 53200, FF n/a, DSP 0.0% of 220, "
        "BRAM_18K 731.4% of 280"]


def test_user_errors_are_one_line(tmp_path):
    path = tmp_path / "m.onnx"
    cybsec_mlp().save(str(path))
    bad = tmp_path / "f.json"
    bad.write_text(json.dumps({"MVAU_0": {"PE": 3}}))
    for args, msg in [(["--part", "xc7z999"], "unknown FPGA part or board 'xc7z999'"),
                      (["--folding", str(bad)], "MVAU_0: PE=3 is not a legal folding"),
                      (["--cost", "magic"], "--cost 'magic' is not one of 'finn', 'calibrated'")]:
        proc = run_cli("estimate", str(path), *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and msg in proc.stderr, proc.stderr
