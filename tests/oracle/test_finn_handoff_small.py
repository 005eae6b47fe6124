"""The FINN handoff verified by finn-plus, in the non-slow suite: a hand-built QONNX CNN small enough to
build and run through FINN's flow in seconds (no Brevitas export), with every structure of cnv-w1a1's
handoff that FINN treats its own way -- an RTL sliding window, a max-pool (FINN's SWG + Pool_hls pair,
its SWG counted among the ConvolutionInputGenerators), a sliding window after the pool (index 2 in
FINN, SWG_1 in ours), MVAUs -- at a folding with SIMD/PE below the maximum. `hil build --backend finn`
(in process) writes the handoff; FINN's own steps with ApplyConfig take its model.onnx,
specialize_layers_config.json and folding_config.json; every FINN layer, by name, has our numbers.
The full cnv-w1a1 / tfc-w1a1 / cybsec-mlp handoffs are test_finn_handoff.py (slow).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from tests.oracle.conftest import PART
from tests.oracle.test_finn_handoff import assert_finn_layers_equal_ours, assert_folding_applied

FOLDING = {"SWG_0": {"SIMD": 1}, "MVAU_0": {"PE": 2, "SIMD": 3}, "SWG_1": {"SIMD": 2, "ram_style": "block"},
           "MVAU_1": {"PE": 4, "SIMD": 4}, "MVAU_2": {"PE": 1, "SIMD": 2}}


def tiny_cnn(seed: int = 0, ch: int = 2, img: int = 8, f1: int = 4, f2: int = 8, n_out: int = 3) -> ModelWrapper:
    """Quant(8b) -> Conv 3x3 (4b W) -> Relu -> Quant(4b u) -> MaxPool 2 -> Conv 3x3 -> Relu -> Quant
    -> Flatten -> MatMul (4b W); NCHW, power-of-two scales."""
    rng = np.random.default_rng(seed)

    def quant(i, o, s, bw, signed):
        return helper.make_node("Quant", [i, s, "zero", bw], [o], domain="qonnx.custom_op.general",
                                rounding_mode="ROUND", signed=signed, narrow=0)

    def conv(i, w, o):
        return helper.make_node("Conv", [i, w], [o], kernel_shape=[3, 3], strides=[1, 1], pads=[0, 0, 0, 0],
                                group=1, dilations=[1, 1])

    pooled = (img - 2) // 2
    nodes = [quant("global_in", "x_q", "s_in", "bw8", 1),
             quant("W1", "W1_q", "s_w", "bw4", 1), conv("x_q", "W1_q", "c1"),
             helper.make_node("Relu", ["c1"], ["r1"]), quant("r1", "a1", "s_a", "bw4", 0),
             helper.make_node("MaxPool", ["a1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0]),
             quant("W2", "W2_q", "s_w", "bw4", 1), conv("p1", "W2_q", "c2"),
             helper.make_node("Relu", ["c2"], ["r2"]), quant("r2", "a2", "s_a", "bw4", 0),
             helper.make_node("Flatten", ["a2"], ["fl"], axis=1),
             quant("W3", "W3_q", "s_w", "bw4", 1), helper.make_node("MatMul", ["fl", "W3_q"], ["global_out"])]
    graph = helper.make_graph(nodes, "tiny_cnn", [helper.make_tensor_value_info("global_in", TensorProto.FLOAT,
                                                                                [1, ch, img, img])],
                              [helper.make_tensor_value_info("global_out", TensorProto.FLOAT, [1, n_out])])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="test"))
    values = {"W1": rng.normal(0, 1.5, (f1, ch, 3, 3)), "W2": rng.normal(0, 1.5, (f2, f1, 3, 3)),
              "W3": rng.normal(0, 1.5, (f2 * (pooled - 2) ** 2, n_out)),
              "s_in": 0.125, "s_w": 0.5, "s_a": 0.25, "zero": 0.0, "bw8": 8.0, "bw4": 4.0}
    for name, value in values.items():
        model.set_initializer(name, np.asarray(value, dtype=np.float32))
    return model


@pytest.fixture(scope="module")
def handoff(finn_handoff):
    h = finn_handoff("tiny_cnn", lambda path: tiny_cnn().save(str(path)), FOLDING)  # conftest.py
    return h.dataflow, h.flow, h.dir


def test_the_handoff_names_what_finn_builds(handoff):
    df, flow, h = handoff
    assert [n.op_type for n in df.graph.node if n.op_type not in ("FIFO", "DWC")] == [
        "SWG", "MVAU", "StreamingMaxPool", "SWG", "MVAU", "MVAU"]
    result = json.loads((h / "hil_build.json").read_text())
    assert result["finn_layers"]["MaxPool_0"] == ["ConvolutionInputGenerator_rtl_1", "Pool_hls_0"]
    assert result["finn_layers"]["SWG_1"] == ["ConvolutionInputGenerator_rtl_2"]
    assert result["finn_names"]["MaxPool_0"] == "Pool_hls_0"
    assert result["finn_names"]["SWG_1"] == "ConvolutionInputGenerator_rtl_2"
    # the input Transpose (NCHW) and the output scale stay outside FINN's dataflow, nothing else
    assert sorted(flow.unconverted) == ["Mul", "Transpose"]
    assert_folding_applied(flow, json.loads((h / "folding_config.json").read_text()))


def test_every_finn_layer_equals_ours(handoff):
    df, flow, h = handoff
    assert_finn_layers_equal_ours(df, flow, h)


# finn-plus 1.6.1 build_dataflow_steps.py:step_apply_folding_config, the attributes it writes back to
# report/applied_folding_config.json (finn/util/config.py:extract_model_config; a local list in the step)
APPLIED_ATTRS = ["PE", "SIMD", "EmbFold", "SeqFold", "parallel_window", "ram_style", "ram_style_thresholds",
                 "ram_style_mask", "depth", "impl_style", "resType", "mac_resource", "mem_mode",
                 "runtime_writeable_weights", "depth_trigger_uram", "depth_trigger_bram"]


def _relowered_estimate(h, folding) -> dict:
    """`hil lower <source> --folding F` then `hil estimate` of it, in process (what the verbs call)."""
    from toolchain.estimate import estimate
    from toolchain.lower import lower_model
    from toolchain.onnxio import load_model

    relowered = lower_model(load_model(h / "source.onnx"), folding=folding)  # the source the folder carries
    return estimate(relowered, part=PART)


def test_the_handoffs_folding_config_lowers_to_the_handed_off_design(handoff):
    """FINN's node names in folding_config.json (a max-pool's ConvolutionInputGenerator_rtl_1 + Pool_hls_0,
    the window after it counted as ConvolutionInputGenerator_rtl_2) read back by FINN's naming rule."""
    from toolchain.estimate import estimate

    _, _, h = handoff
    want = estimate(ModelWrapper(str(h / "dataflow.onnx")), part=PART)
    assert _relowered_estimate(h, h / "folding_config.json") == want


def test_the_folding_finn_plus_writes_lowers_to_the_same_design(handoff, tmp_path):
    """applied_folding_config.json as finn-plus's step_apply_folding_config writes it after applying the
    handoff's config (every HW attribute of every FINN layer, FINN's names), read back: the same design."""
    from finn.util.config import extract_model_config
    from toolchain.estimate import estimate

    _, flow, h = handoff
    written = extract_model_config(flow.model, None, APPLIED_ATTRS)
    assert "Pool_hls_0" in written and written["ConvolutionInputGenerator_rtl_2"]["SIMD"] == 2
    path = tmp_path / "applied_folding_config.json"
    path.write_text(json.dumps(written))
    want = estimate(ModelWrapper(str(h / "dataflow.onnx")), part=PART)
    got = _relowered_estimate(h, path)
    # FINN writes FIFO depths only at step_set_fifo_depths: the FIFOs keep hil's default depth, every
    # other layer (compute and DWC) and the cycles are the handed-off design's
    def no_fifo(result):
        return {layer["name"]: layer for layer in result["layers"] if layer["op"] != "FIFO"}

    assert no_fifo(got) == no_fifo(want)
    fifo_free = set(want) - {"layers", "total", "utilization", "utilization_percent", "total_energy_pj"}
    assert {k: got[k] for k in fifo_free} == {k: want[k] for k in fifo_free}


def test_the_handoff_folder_emulates_on_its_own(handoff, tmp_path):
    """`hil emulate DIR/dataflow.onnx --inputs x.npy` of a handoff moved elsewhere: no --source, values
    compared bit-exact against the source QONNX the folder carries (source.onnx, its hil_source)."""
    import shutil

    from tests.conftest import run_cli

    _, _, h = handoff
    moved = tmp_path / "moved"
    shutil.copytree(h, moved)
    x = np.random.default_rng(1).normal(0, 2, (16, 2, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = run_cli("emulate", str(moved / "dataflow.onnx"), "--inputs", str(tmp_path / "x.npy"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["samples"], out["mismatches"]) == (16, 0)
    assert json.loads((h / "hil_build.json").read_text())["source_file"] == "source.onnx"
