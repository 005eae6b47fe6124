"""Issue 16: generated QONNX graphs and folding configs either lower exactly or are refused (exit 2,
one line), never crash. Hypothesis draws the networks (layer widths, bit widths, signedness,
power-of-two or float scales, a broken dimension now and then) and the foldings (PE/SIMD values
legal or not, huge, negative, of the wrong type, unknown nodes and attributes).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from tests.fuzz.harness import refusal_problems, run_in_process

SETTINGS = settings(max_examples=8, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def mlps(draw):
    """A Quant -> (MatMul(Quant W) -> Relu -> Quant)* QONNX MLP, sometimes subtly broken."""
    widths = draw(st.lists(st.integers(1, 12), min_size=2, max_size=4))
    in_bits = draw(st.integers(2, 8))
    w_bits = draw(st.integers(1, 8))
    a_bits = draw(st.integers(1, 8))
    scale = draw(st.sampled_from([0.5, 0.25, 0.125, 0.3, 1.0]))
    broken = draw(st.sampled_from([None, None, None, "dim", "bits", "scale"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)

    def quant(i, o, s, bw, signed):
        return helper.make_node("Quant", [i, s, "zero", bw], [o], domain="qonnx.custom_op.general",
                                rounding_mode="ROUND", signed=signed, narrow=0)

    nodes, values = [quant("x", "q0", "s_in", "b_in", 1)], {}
    prev = "q0"
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        rows = a + 1 if broken == "dim" and i == 0 else a
        values[f"W{i}"] = rng.normal(0, 1.5, (rows, b))
        nodes += [quant(f"W{i}", f"Wq{i}", "s_w", "b_w", 1), helper.make_node("MatMul", [prev, f"Wq{i}"], [f"h{i}"])]
        if i < len(widths) - 2:
            nodes += [helper.make_node("Relu", [f"h{i}"], [f"r{i}"]), quant(f"r{i}", f"a{i}", "s_a", "b_a", 0)]
            prev = f"a{i}"
        else:
            prev = f"h{i}"
    nodes[-1].output[0] = "y"
    graph = helper.make_graph(nodes, "gen", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, widths[0]])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, widths[-1]])])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="hypothesis"))
    values.update({"s_in": 0.125, "s_w": scale, "s_a": 0.25, "zero": 0.0, "b_in": float(in_bits),
                   "b_w": float(0 if broken == "bits" else w_bits), "b_a": float(a_bits)})
    if broken == "scale":
        values["s_w"] = -scale
    for name, value in values.items():
        model.set_initializer(name, np.asarray(value, dtype=np.float32))
    return model


def _lower(tmp: Path, *extra: str):
    outcome = run_in_process(["lower", "model.onnx", "-o", "df.onnx", "--samples", "32", "--json", *extra], cwd=tmp)
    return outcome


@SETTINGS
@given(model=mlps())
def test_generated_graphs_lower_exactly_or_are_refused(tmp_path_factory, model):
    tmp = tmp_path_factory.mktemp("gen")
    model.save(str(tmp / "model.onnx"))
    outcome = _lower(tmp)
    if outcome.code == 0:
        result = json.loads(outcome.stdout)
        assert result["mismatches"] == 0 and (tmp / "df.onnx").exists()
    else:
        assert not refusal_problems(outcome), outcome.stderr
        assert not (tmp / "df.onnx").exists()


FOLD_VALUES = st.one_of(st.integers(-3, 20), st.sampled_from([10**400, 2**63, 2.5, "4", None, [2], True]))


@st.composite
def foldings(draw):
    config = {}
    for node in draw(st.lists(st.sampled_from(["MVAU_0", "MVAU_1", "FIFO_0", "MVAU_7", "MVAU_hls_1", "Thing"]),
                              max_size=3, unique=True)):
        attrs = draw(st.dictionaries(st.sampled_from(["PE", "SIMD", "mem_mode", "ram_style", "depth", "XYZ"]),
                                     FOLD_VALUES, max_size=3))
        config[node] = attrs
    return config


@pytest.fixture(scope="module")
def lowered(tmp_path_factory):
    from tests.unit.test_backend_finn import tiny_qonnx
    from toolchain.lower import lower_file

    tmp = tmp_path_factory.mktemp("fold")
    tiny_qonnx().save(str(tmp / "model.onnx"))
    lower_file(tmp / "model.onnx", tmp / "dataflow.onnx", samples=8)
    return tmp


@SETTINGS
@given(config=foldings())
@example(config={"MVAU_0": {"PE": 4, "SIMD": 2}, "MVAU_1": {"PE": 2}})  # legal: applied as given
def test_generated_foldings_apply_or_are_refused(lowered, config):
    (lowered / "f.json").write_text(json.dumps(config))  # Python's json writes 10**400 as digits
    outcome = run_in_process(["estimate", "dataflow.onnx", "--folding", "f.json", "--json"], cwd=lowered)
    if outcome.code == 0:
        layers = {row["name"]: row for row in json.loads(outcome.stdout)["layers"]}
        for node, attrs in config.items():
            for attr in ("PE", "SIMD"):
                if attr in attrs and node in layers:
                    assert layers[node][attr] == attrs[attr]
    else:
        assert not refusal_problems(outcome), outcome.stderr
