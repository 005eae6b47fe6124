"""hil build --backend finn: FINN-format folding JSON (FINN names, FIFO depths from the emulator), a
FINN-ready QONNX, and a folding JSON that round-trips through `hil lower --folding` to the same estimate."""

import json

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from tests.conftest import run_cli
from toolchain.emulate import emulate
from toolchain.estimate import estimate
from toolchain.lower import lower_file, lower_model
from toolchain.onnxio import load_model


def tiny_qonnx(seed: int = 0, n_in: int = 8, hidden: int = 16, n_out: int = 4) -> ModelWrapper:
    """Quant(8b) -> MatMul(Quant 4b W) -> Relu -> Quant(4b unsigned) -> MatMul(Quant 4b W), po2 scales."""
    rng = np.random.default_rng(seed)

    def quant(i, o, s, bw, signed):
        return helper.make_node("Quant", [i, s, "zero", bw], [o], domain="qonnx.custom_op.general",
                                rounding_mode="ROUND", signed=signed, narrow=0)

    nodes = [quant("global_in", "x_q", "s_in", "bw8", 1),
             quant("W1", "W1_q", "s_w", "bw4", 1), helper.make_node("MatMul", ["x_q", "W1_q"], ["h1"]),
             helper.make_node("Relu", ["h1"], ["r1"]), quant("r1", "a1", "s_a", "bw4", 0),
             quant("W2", "W2_q", "s_w", "bw4", 1), helper.make_node("MatMul", ["a1", "W2_q"], ["global_out"])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("global_in", TensorProto.FLOAT, [1, n_in])],
                              [helper.make_tensor_value_info("global_out", TensorProto.FLOAT, [1, n_out])])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="test"))
    values = {"W1": rng.normal(0, 1.5, (n_in, hidden)), "W2": rng.normal(0, 1.5, (hidden, n_out)),
              "s_in": 0.125, "s_w": 0.5, "s_a": 0.25, "zero": 0.0, "bw8": 8.0, "bw4": 4.0}
    for name, value in values.items():
        model.set_initializer(name, np.asarray(value, dtype=np.float32))
    return model


FOLDING = {"MVAU_0": {"PE": 4, "SIMD": 2}, "MVAU_1": {"PE": 2, "SIMD": 4, "mem_mode": "internal_embedded"}}


@pytest.fixture
def handoff(tmp_path):
    src = tmp_path / "model.onnx"
    tiny_qonnx().save(str(src))
    df = tmp_path / "dataflow.onnx"
    lower_file(src, df, samples=50, folding=FOLDING)
    out = tmp_path / "finn"
    result = run_cli("build", str(df), "--backend", "finn", "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    return src, df, out, json.loads(result.stdout)


def test_handoff_files_and_finn_names(handoff):
    _, _, out, result = handoff
    for name in ("model.onnx", "dataflow.onnx", "folding_config.json", "specialize_layers_config.json", "build.py",
                 "README.md", "hil_build.json"):
        assert (out / name).is_file(), name
    folding = json.loads((out / "folding_config.json").read_text())
    assert set(folding) == {"Defaults", "MVAU_hls_0", "MVAU_hls_1"}
    assert folding["MVAU_hls_0"]["PE"] == 4 and folding["MVAU_hls_0"]["SIMD"] == 2
    assert folding["MVAU_hls_1"]["mem_mode"] == "internal_embedded"
    depths = result["fifo_sizing"]["depths"]
    assert folding["MVAU_hls_0"]["outFIFODepths"] == [depths["FIFO_0"]]
    assert folding["MVAU_hls_1"]["inFIFODepths"] == [depths["FIFO_0"]]
    assert result["fifo_sizing"]["full_throughput"]
    special = json.loads((out / "specialize_layers_config.json").read_text())
    assert special["MVAU_0"] == {"preferred_impl_style": "hls"} and "MVAU_1" in special
    build_py = (out / "build.py").read_text()
    for needle in ('folding_config_file="folding_config.json"', "auto_fifo_depths=False",
                   'specialize_layers_config_file="specialize_layers_config.json"', "xc7z020clg400-1"):
        assert needle in build_py
    compile(build_py, "build.py", "exec")
    readme = (out / "README.md").read_text()
    assert "step_apply_folding_config" in readme and "step_set_fifo_depths" in readme


def test_finn_ready_qonnx_has_the_integer_input_contract(handoff):
    _, df, out, _ = handoff
    model = load_model(out / "model.onnx")
    io = json.loads(load_model(df).get_metadata_prop("hil_io"))
    assert model.get_tensor_datatype("global_in").name == io["input_dtype"] == "INT8"
    assert {n.op_type for n in model.graph.node} >= {"Quant", "MatMul", "Mul"}


def test_folding_json_round_trips_to_the_same_estimate(handoff):
    """The FINN-named folding_config.json, read back by `hil lower --folding`, gives the estimate of the
    dataflow lowered from our own FOLDING dict (two different inputs to the folding pass)."""
    src, df, out, _ = handoff
    again = estimate(lower_model(load_model(src), folding=str(out / "folding_config.json")))
    original = estimate(load_model(df))
    compute = [row for row in original["layers"] if not row["name"].startswith(("FIFO", "DWC"))]
    assert [row for row in again["layers"] if not row["name"].startswith(("FIFO", "DWC"))] == compute
    assert again["network"] == original["network"]


def test_handoff_dataflow_has_the_expected_folding_fifos_and_timing(handoff, tmp_path):
    """The handed-off dataflow.onnx against values known without lowering anything: tiny_qonnx's shapes
    (8 -> 16 -> 4), FOLDING, FINN's MVAU cycles (MW/SIMD)·(MH/PE) (matrixvectoractivation.py
    get_exp_cycles, docs/finn.md §2.1), the emulator's FIFO depths reported by the build, and an emulated
    interval equal to the slowest node once those depths are in place."""
    _, _, out, result = handoff
    model = load_model(out / "dataflow.onnx")
    compute = {n.name: getCustomOp(n) for n in model.graph.node if n.op_type == "MVAU"}
    want = {"MVAU_0": (8, 16, 4, 2, "internal_decoupled", 16), "MVAU_1": (16, 4, 2, 4, "internal_embedded", 8)}
    got = {name: (*(op.get_nodeattr(a) for a in ("MW", "MH", "PE", "SIMD", "mem_mode")), op.cycles())
           for name, op in compute.items()}
    assert got == want
    # FIFOs: one in front of each MVAU, with the depths the emulator chose (the graph's output edge keeps
    # the default depth 2, for which no FIFO node is written at the graph's ends)
    depths = result["fifo_sizing"]["depths"]
    fifos = [n for n in model.graph.node if n.op_type == "FIFO"]
    consumers = [model.find_consumer(f.output[0]).name for f in fifos]
    assert consumers == ["MVAU_0", "MVAU_1"]
    assert [getCustomOp(f).get_nodeattr("depth") for f in fifos] == [depths["global_in->MVAU_0"], depths["FIFO_0"]]
    run = emulate(out / "dataflow.onnx", frames=4)
    assert run["deadlock"] is False and run["interval_cycles"] == 16.0


def test_handoff_needs_the_source_qonnx(tmp_path):
    src = tmp_path / "model.onnx"
    tiny_qonnx().save(str(src))
    df = tmp_path / "dataflow.onnx"
    lower_file(src, df, samples=20)
    src.unlink()
    result = run_cli("build", str(df), "--backend", "finn", "-o", str(tmp_path / "finn"))
    assert result.returncode == 2 and "model.onnx" in result.stderr and not (tmp_path / "finn").exists()
    result = run_cli("build", str(df), "--backend", "finn", "--csim", "10", "-o", str(tmp_path / "finn"))
    assert result.returncode == 2
