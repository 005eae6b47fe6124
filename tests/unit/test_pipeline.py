"""toolchain.pipeline: the orchestration above the stages. The FINN handoff lowers its source once
(it used to lower the same QONNX up to three times), and the result is the same either way in."""

import json

import pytest

import toolchain.lower
from tests.unit.test_backend_finn import FOLDING, tiny_qonnx
from toolchain.errors import UserError
from toolchain.lower import lower_file
from toolchain.onnxio import load_model
from toolchain.pipeline import as_dataflow, build, estimate_model


@pytest.fixture
def lowerings(monkeypatch):
    """Counts QONNX -> dataflow conversions (toolchain.lower.to_dataflow, what lower_model runs)."""
    calls = []
    real = toolchain.lower.to_dataflow

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(toolchain.lower, "to_dataflow", counted)
    return calls


@pytest.fixture
def files(tmp_path):
    src = tmp_path / "model.onnx"
    tiny_qonnx().save(str(src))
    df = tmp_path / "dataflow.onnx"
    lower_file(src, df, samples=20)  # unfolded (PE = SIMD = 1)
    return src, df


def folding_file(tmp_path):
    path = tmp_path / "folding.json"
    path.write_text(json.dumps(FOLDING))
    return path


@pytest.mark.parametrize("start", ["qonnx", "dataflow"])
def test_finn_handoff_with_a_folding_lowers_the_source_once(tmp_path, files, lowerings, start):
    src, df = files
    result = build(src if start == "qonnx" else df, "finn", tmp_path / f"finn_{start}", folding=folding_file(tmp_path))
    assert len(lowerings) == 1
    handoff = load_model(tmp_path / f"finn_{start}" / "dataflow.onnx")
    pe = {n.name: [a.i for a in n.attribute if a.name == "PE"][0] for n in handoff.graph.node if n.op_type == "MVAU"}
    assert pe == {"MVAU_0": 4, "MVAU_1": 2} and result["nodes"] == 2


def test_both_ways_in_give_the_same_handoff(tmp_path, files):
    src, df = files
    folding = folding_file(tmp_path)
    a = build(src, "finn", tmp_path / "a", folding=folding)
    b = build(df, "finn", tmp_path / "b", folding=folding)
    assert (tmp_path / "a" / "folding_config.json").read_text() == (tmp_path / "b" / "folding_config.json").read_text()
    assert a["fifo_sizing"] == b["fifo_sizing"]


def test_estimate_of_a_qonnx_model_is_the_estimate_of_its_lowering(files):
    src, df = files
    assert estimate_model(load_model(src)) == estimate_model(load_model(df))
    folded = estimate_model(load_model(df), folding=FOLDING)
    assert folded == estimate_model(as_dataflow(load_model(src), FOLDING))
    assert folded["network"]["max_cycles"] < estimate_model(load_model(df))["network"]["max_cycles"]


def test_the_estimate_stage_itself_takes_dataflow_only(files):
    from toolchain.estimate import estimate

    with pytest.raises(UserError, match="lower the QONNX model first"):
        estimate(load_model(files[0]))
