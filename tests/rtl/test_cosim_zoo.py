"""`hil build --backend rtl --cosim 1000` on the zoo's digits-mlp (the CI subset of issue 12): at
PE=SIMD=1 with FINN's default depth-2 FIFOs (the source stalls on a full FIFO), and at a
--target-fps folding (DWCs) with FIFOs sized by `hil emulate --size-fifos --impl rtl`. Values
bit-equal, every handshake cycle and every FIFO high-water mark equal to the emulator's."""

import json

import pytest

from tests.conftest import run_cli
from toolchain.export import export_run


@pytest.fixture(scope="module")
def digits_mlp(tmp_path_factory):
    path = tmp_path_factory.mktemp("qonnx") / "digits-mlp.onnx"
    assert export_run("digits-mlp", path, untrained=True, samples=100)["mismatches"] == 0
    return path


def cosim(model, out) -> dict:
    proc = run_cli("build", str(model), "--backend", "rtl", "-o", str(out), "--cosim", "1000", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def assert_exact(result: dict) -> None:
    c = result["cosim"]
    assert c["samples"] == 1000 and c["mismatches"] == 0
    assert c["cycle_exact"] is True and c["first_difference"] is None
    assert c["fifo_high_water_equal"] is True
    assert c["rtl_cycles"] == c["emulator_cycles"]


@pytest.mark.slow
def test_digits_mlp_unfolded_depth2(digits_mlp, tmp_path):
    df = tmp_path / "df.onnx"
    assert run_cli("lower", str(digits_mlp), "-o", str(df)).returncode == 0
    result = cosim(df, tmp_path / "prj")
    assert_exact(result)
    assert {e["depth"] for e in result["edges"]} == {2}
    # the input FIFO runs full: the source is blocked, in RTL exactly when the emulator says
    full = [e for e in result["cosim"]["edges"] if e["rtl_hwm"] == e["depth"]]
    assert full and full[0]["name"].startswith("global_in")


@pytest.mark.slow
def test_digits_mlp_target_fps_sized_fifos(digits_mlp, tmp_path):
    df, sized = tmp_path / "df.onnx", tmp_path / "sized.onnx"
    assert run_cli("lower", str(digits_mlp), "--target-fps", "200000", "-o", str(df)).returncode == 0
    proc = run_cli("emulate", str(df), "--size-fifos", "--impl", "rtl", "--write-model", str(sized), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    depths = json.loads(proc.stdout)["fifo_depths"]
    result = cosim(sized, tmp_path / "prj")
    assert_exact(result)
    assert {e["name"]: e["depth"] for e in result["edges"]} == depths
    assert max(depths.values()) > 2  # sizing grew some FIFO beyond the default


@pytest.mark.slow
def test_digits_cnn_unfolded_depth2(tmp_path_factory, tmp_path):
    """The CI's one CNN: SWG, MVAU over every pixel, DWCs and StreamingMaxPool, depth-2 FIFOs."""
    src = tmp_path_factory.mktemp("qonnx") / "digits-cnn.onnx"
    assert export_run("digits-cnn", src, untrained=True, samples=100)["mismatches"] == 0
    df = tmp_path / "df.onnx"
    assert run_cli("lower", str(src), "-o", str(df)).returncode == 0
    result = cosim(df, tmp_path / "prj")
    assert_exact(result)
    assert {"SWG", "StreamingMaxPool", "DWC"} <= {n["op_type"] for n in result["node_types"]}
