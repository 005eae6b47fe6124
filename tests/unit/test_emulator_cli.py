"""`hil emulate` / toolchain.emulate: JSON contract, mismatches against the source QONNX, user errors."""

import json

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from hw.ops.graph import NodeSpec, linear_model
from tests.conftest import run_cli
from toolchain.emulate import emulate
from toolchain.errors import UserError

RNG = np.random.default_rng(5)
W = RNG.integers(-2, 2, size=(16, 6)).astype(np.float32)


def save_dataflow(model, path, source=None, io=None):
    model.model.opset_import.append(helper.make_opsetid("hw.ops", 1))
    if source:
        model.set_metadata_prop("hil_source", source)
    if io:
        model.set_metadata_prop("hil_io", json.dumps(io))
    model.save(str(path))
    return path


def source_matmul(path, w):
    """The 'source QONNX': y = x @ w on float inputs."""
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "src",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, w.shape[0]])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, w.shape[1]])])
    m = ModelWrapper(qonnx_make_model(g))
    m.set_initializer("w", w)
    m.save(str(path))


def mvau(w, extra=()):
    return linear_model([NodeSpec("MVAU", dict(MW=16, MH=6, PE=3, SIMD=4, inputDataType="INT4", weightDataType="INT2",
                                               outputDataType="INT32", accDataType="INT32", noActivation=1), [w]),
                         *extra])


IO = {"input_scale": 0.5, "input_dtype": "INT4", "output_scale": 0.5, "output_bias": 0.0, "output_kind": "values"}


@pytest.fixture
def files(tmp_path):
    source_matmul(tmp_path / "model.onnx", W)
    good = save_dataflow(mvau(W), tmp_path / "dataflow.onnx", "model.onnx", IO)
    bad_w = W.copy()
    bad_w[3, 2] += 1
    bad = save_dataflow(mvau(bad_w), tmp_path / "bad.onnx", "model.onnx", IO)
    x = RNG.integers(-8, 8, size=(20, 16)).astype(np.float32) * 0.5
    np.save(tmp_path / "x.npy", x)
    return tmp_path, good, bad, x


def test_values_match_source_and_json_fields(files):
    tmp, good, bad, x = files
    r = emulate(good, inputs=tmp / "x.npy", frames=4, output=tmp / "y.npy")
    assert r["mismatches"] == 0 and r["samples"] == 20
    assert np.allclose(np.load(tmp / "y.npy"), x @ W)
    assert r["interval_cycles"] == 8.0 and r["throughput_fps"] == 1e9 / (10.0 * 8)
    assert set(r["per_layer"]["MVAU_0"]) >= {"busy_per_frame", "stall_in_per_frame", "stall_out_per_frame"}
    assert r["deadlock"] is False and r["frames"] == 4 and r["latency_cycles"] > 8
    assert emulate(bad, inputs=tmp / "x.npy")["mismatches"] > 0


def test_labels_are_checked_against_the_source_top_k(tmp_path):
    source_matmul(tmp_path / "model.onnx", W)
    label = NodeSpec("LabelSelect", dict(Labels=6, PE=3, K=2, inputDataType="INT32"))
    df = save_dataflow(mvau(W, [label]), tmp_path / "df.onnx", "model.onnx", {**IO, "output_kind": "labels"})
    np.save(tmp_path / "x.npy", RNG.integers(-8, 8, size=(30, 16)).astype(np.float32) * 0.5)
    assert emulate(df, inputs=tmp_path / "x.npy")["mismatches"] == 0
    wrong = W.copy()
    wrong[:, 0] += 2
    df = save_dataflow(mvau(wrong, [label]), tmp_path / "bad.onnx", "model.onnx", {**IO, "output_kind": "labels"})
    assert emulate(df, inputs=tmp_path / "x.npy")["mismatches"] > 0


def test_user_errors(files):
    tmp, good, _, x = files
    np.save(tmp / "wrong_shape.npy", x[:, :8])
    np.save(tmp / "strings.npy", np.array([["a"] * 16]))
    np.save(tmp / "off_grid.npy", x + 0.25)
    (tmp / "zero.json").write_text(json.dumps({"MVAU_0->global_out": 0}))
    for kwargs, msg in [(dict(frames=0), "frames"), (dict(inputs=tmp / "wrong_shape.npy"), "shape"),
                        (dict(inputs=tmp / "strings.npy"), "dtype"), (dict(inputs=tmp / "off_grid.npy"), "grid"),
                        (dict(fifo_depths=tmp / "zero.json"), "depth 0"), (dict(output=tmp / "y.npy"), "needs --inputs")]:
        with pytest.raises(UserError, match=msg):
            emulate(good, **kwargs)


def test_cli_exit_codes(tmp_path):
    from test_emulator_model import residual

    model, _ = residual()
    path = save_dataflow(model, tmp_path / "res.onnx")
    dead = run_cli("emulate", str(path), "--json")
    assert dead.returncode == 3
    assert json.loads(dead.stdout)["deadlock"]["fifo"] == "DuplicateStreams_0->AddStreams_0"
    assert dead.stderr.count("\n") == 1 and "Traceback" not in dead.stderr
    sized = run_cli("emulate", str(path), "--size-fifos", "--json", "--write-model", str(tmp_path / "sized.onnx"))
    assert sized.returncode == 0, sized.stderr
    out = json.loads(sized.stdout)
    assert out["fifo_sizing"]["full_throughput"] and out["interval_cycles"] == out["max_node_cycles"]
    again = run_cli("emulate", str(tmp_path / "sized.onnx"), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["fifos"]["DuplicateStreams_0->AddStreams_0"]["capacity"] >= 8
    bad = run_cli("emulate", str(path), "--frames", "0")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1
