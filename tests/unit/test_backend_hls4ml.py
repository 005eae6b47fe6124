"""hil build --backend hls4ml without the compiler: the project holds what a Vitis user needs, every
precision is the IR's (no hls4ml default such as fixed<16,6>), and refusals write nothing."""

import json
import re

import numpy as np
import pytest

from hw.ops.graph import NodeSpec, linear_model
from tests.conftest import run_cli
from toolchain.backends.hls4ml import build_hls4ml

RNG = np.random.default_rng(1)


def _mvau(mw, mh, idt, odt, acc, steps=0, **extra):
    attrs = dict(MW=mw, MH=mh, PE=1, SIMD=1, inputDataType=idt, weightDataType="INT4", outputDataType=odt,
                 accDataType=acc, noActivation=0 if steps else 1)
    attrs.update(extra)
    inits = [RNG.integers(-8, 8, (mw, mh)).astype(float)]
    if steps:
        inits.append(np.sort(RNG.normal(0, 20, (mh, steps)), axis=1))
    return NodeSpec("MVAU", attrs, inits)


@pytest.fixture
def mlp_file(tmp_path):
    model = linear_model([_mvau(16, 8, "UINT4", "UINT3", "INT13", steps=7), _mvau(8, 4, "UINT3", "INT11", "INT11")])
    path = tmp_path / "dataflow.onnx"
    model.save(str(path))
    return path


VITIS_FILES = ["build_prj.tcl", "project.tcl", "build_opt.tcl", "vivado_synth.tcl", "myproject_test.cpp",
               "firmware/myproject.cpp", "firmware/myproject.h", "firmware/defines.h", "firmware/parameters.h",
               "firmware/nnet_utils/nnet_hil_threshold.h", "firmware/nnet_utils/nnet_dense_stream.h",
               "firmware/ap_types/ap_int.h", "tb_data/tb_input_features.dat", "tb_data/tb_output_predictions.dat",
               "README.md", "hil_build.json"]


def test_project_holds_what_a_vitis_user_needs(mlp_file, tmp_path):
    prj = tmp_path / "prj"
    result = run_cli("build", str(mlp_file), "--backend", "hls4ml", "-o", str(prj), "--part", "xczu7ev-ffvc1156-2-e",
                     "--clock-ns", "4", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["csim"] is None and out["hls_backend"] == "Vitis" and out["io_type"] == "io_stream"
    for name in VITIS_FILES:
        assert (prj / name).is_file(), name
    weights = {p.name for p in (prj / "firmware" / "weights").iterdir()}
    assert {"w2.h", "w2.txt", "t3.h", "t3.txt", "w4.h"} <= weights  # Dense, thresholds, Dense
    tcl = (prj / "project.tcl").read_text()
    assert 'set part "xczu7ev-ffvc1156-2-e"' in tcl and "set clock_period 4" in tcl
    assert 'set backend "vitis"' in tcl
    rows = (prj / "tb_data" / "tb_input_features.dat").read_text().strip().splitlines()
    assert len(rows) == 16 and len(rows[0].split()) == 16
    assert not list(prj.rglob("*.so"))  # the project is relocatable: no library with the staging path
    assert str(tmp_path / ".prj") not in (prj / "hls4ml_config.yml").read_text()


def test_precisions_are_the_ir_types_and_no_default_remains(mlp_file, tmp_path):
    prj = tmp_path / "prj"
    build_hls4ml(_load(mlp_file), prj)
    defines = (prj / "firmware" / "defines.h").read_text()
    typedefs = dict((name, t) for t, name in re.findall(r"typedef (.+?) (\w+);", defines))
    assert typedefs["input_t"] == "nnet::array<ap_uint<4>, 16*1>"
    assert typedefs["mvau_0_acc_weight_t"] == "ap_int<4>"
    assert typedefs["mvau_0_acc_accum_t"] == "ap_int<13>"
    assert typedefs["mvau_0_threshold_t"].startswith("ap_int<")
    assert typedefs["layer3_t"] == "nnet::array<ap_uint<3>, 8*1>"  # thresholds -> UINT3
    assert typedefs["mvau_1_accum_t"] == "ap_int<11>" and typedefs["result_t"] == "nnet::array<ap_int<11>, 4*1>"
    for path in prj.rglob("*"):
        if path.is_file() and path.suffix in (".h", ".cpp", ".yml", ".tcl", ".json", ".md"):
            text = path.read_text()
            if "nnet_utils" in path.parts or "ap_types" in path.parts:
                continue  # hls4ml's library headers
            assert "16,6" not in text, path
            assert "default_t" not in text, path
    assert "ap_fixed<" not in defines and "ap_ufixed<" not in defines


def test_vivado_backend_is_selectable(mlp_file, tmp_path):
    prj = tmp_path / "prj"
    result = build_hls4ml(_load(mlp_file), prj, backend="vivado", part="xc7z020clg400-1", clock_ns=10)
    assert result["hls_backend"] == "Vivado"
    assert 'set backend "vivado"' in (prj / "project.tcl").read_text()
    assert "vivado_hls -f build_prj.tcl" in (prj / "README.md").read_text()


def test_refused_construct_exits_2_and_writes_nothing(tmp_path):
    model = linear_model([_mvau(32, 10, "UINT4", "INT12", "INT12", runtime_writeable_weights=1)])
    path = tmp_path / "bad.onnx"
    model.save(str(path))
    prj = tmp_path / "prj"
    result = run_cli("build", str(path), "--backend", "hls4ml", "-o", str(prj))
    assert result.returncode == 2
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "MVAU_0" in err and "runtime-writeable" in err and "Traceback" not in err
    assert not prj.exists() and not list(tmp_path.glob(".prj*"))


def test_unknown_backend_and_bad_options_are_user_errors(mlp_file, tmp_path):
    for args in (["--backend", "vhdl"], ["--hls-backend", "quartus"], ["--csim", "-1"]):
        result = run_cli("build", str(mlp_file), "-o", str(tmp_path / "p"), *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, args


def test_existing_foreign_folder_is_not_replaced(mlp_file, tmp_path):
    prj = tmp_path / "prj"
    prj.mkdir()
    (prj / "notes.txt").write_text("mine")
    result = run_cli("build", str(mlp_file), "-o", str(prj))
    assert result.returncode == 2 and (prj / "notes.txt").read_text() == "mine"


def _load(path):
    from toolchain.onnxio import load_model

    return load_model(path)


def test_reuse_factor_without_a_valid_resource_rf_uses_latency_strategy(tmp_path):
    from toolchain.backends.reuse import reuse_and_strategy

    assert reuse_and_strategy("MVAU_0", 32, 10, pe=1, simd=4) == (80, "Latency")  # FINN SetFolding's kind of RF
    assert reuse_and_strategy("MVAU_0", 32, 10, pe=1, simd=1) == (320, "Resource")
    assert reuse_and_strategy("MVAU_0", 32, 10, pe=10, simd=32) == (1, "Latency")
