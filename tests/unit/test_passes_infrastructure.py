"""Folding, DWC and FIFO insertion, names, LabelSelect, metadata, lower_file and `hil lower`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from typer.testing import CliRunner

from tests.conftest import run_cli
from tests.unit.test_passes_common import QGraph, int_inputs
from toolchain.cli import app
from toolchain.errors import UserError
from toolchain.lower import lower_file, lower_model, verify
from toolchain.passes.common import get_io


def mlp():
    """8 -> 6 -> 4 -> 3, INT4 weights, UINT3 activations."""
    rng = np.random.default_rng(11)
    g = QGraph([1, 8])
    h = g.quant("global_in", 2**-4, 8)
    for n_in, n_out in ((8, 6), (6, 4)):
        h = g.gemm(h, g.weight(rng.integers(-7, 8, size=(n_out, n_in)) * 0.25, 0.25, 4))
        h = g.quant(g.node("Relu", [h]), 0.5, 3, signed=False)
    return g.build(g.gemm(h, g.weight(rng.integers(-7, 8, size=(3, 4)) * 0.25, 0.25, 4)))


X = int_inputs(mlp(), -128, 127, 500, 2**-4)


def names(model):
    return [n.name for n in model.graph.node]


def test_unfolded_graph_has_fifos_between_nodes_and_readable_names():
    df = lower_model(mlp())
    assert names(df) == ["MVAU_0", "FIFO_0", "MVAU_1", "FIFO_1", "MVAU_2"]
    assert all(getCustomOp(n).get_nodeattr("depth") == 2 for n in df.graph.node if n.op_type == "FIFO")
    assert df.graph.input[0].name == "global_in" and df.graph.output[0].name == "global_out"
    io = get_io(df)
    keys = ("input_scale", "input_dtype", "output_scale", "output_bias", "output_kind")  # and the host steps
    assert {k: io[k] for k in keys} == {"input_scale": 2**-4, "input_dtype": "INT8", "output_scale": 2**-3,
                                        "output_bias": 0.0, "output_kind": "values"}
    assert verify(mlp(), df, X)["mismatches"] == 0


def test_folding_config_inserts_dwcs_and_sets_fifo_depths():
    folding = {"MVAU_0": {"PE": 2, "SIMD": 4}, "MVAU_1": {"PE": 1, "SIMD": 3, "inFIFODepths": [16]},
               "MVAU_2": {"PE": 3, "SIMD": 2}, "FIFO_3": {"depth": 64}}
    df = lower_model(mlp(), folding=folding)
    assert names(df) == ["MVAU_0", "FIFO_0", "DWC_0", "FIFO_1", "MVAU_1", "FIFO_2", "DWC_1", "FIFO_3", "MVAU_2"]
    ops = {n.name: getCustomOp(n) for n in df.graph.node}
    assert (ops["MVAU_0"].get_nodeattr("PE"), ops["MVAU_0"].get_nodeattr("SIMD")) == (2, 4)
    assert (ops["DWC_0"].get_nodeattr("inWidth"), ops["DWC_0"].get_nodeattr("outWidth")) == (2 * 3, 3 * 3)
    assert ops["FIFO_1"].get_nodeattr("depth") == 16  # MVAU_1's requested input depth
    assert ops["FIFO_3"].get_nodeattr("depth") == 64
    assert ops["FIFO_0"].get_nodeattr("shape") == [1, 3, 2]  # MVAU_0's folded output: 6 channels, PE 2
    assert verify(mlp(), df, X)["mismatches"] == 0


def test_target_fps_folds_with_finn_setfolding():
    slow = lower_model(mlp())
    fast = lower_model(mlp(), target_fps=10e6, clock_ns=10.0)  # 10 cycles per frame
    cycles = lambda m: max(getCustomOp(n).cycles() for n in m.graph.node)  # noqa: E731
    assert cycles(slow) == 48 and cycles(fast) < 10
    assert verify(mlp(), fast, X)["mismatches"] == 0


def test_folding_and_target_fps_are_exclusive():
    with pytest.raises(UserError, match="either a folding config or a target fps"):
        lower_model(mlp(), folding={}, target_fps=1000.0)


def test_label_select_ends_the_graph():
    df = lower_model(mlp(), label_select=True)
    assert names(df)[-1] == "LabelSelect_0"
    assert get_io(df)["output_kind"] == "labels"
    assert verify(mlp(), df, X) == {"samples": 500, "mismatches": 0}


def test_lower_file_writes_verified_model_with_metadata(tmp_path):
    src = tmp_path / "model.onnx"
    mlp().save(str(src))
    out = tmp_path / "run" / "dataflow.onnx"
    result = lower_file(src, out, part="Pynq-Z2", clock_ns=5.0)
    assert (result["samples"], result["mismatches"]) == (500, 0)
    model = ModelWrapper(str(out))
    assert model.get_metadata_prop("hil_source") == "../model.onnx"
    assert model.get_metadata_prop("hil_part") == "Pynq-Z2"
    assert json.loads(model.get_metadata_prop("hil_io"))["input_dtype"] == "INT8"


def test_a_mismatch_fails_and_writes_nothing(tmp_path, monkeypatch):
    import toolchain.lower as lower

    src = tmp_path / "model.onnx"
    mlp().save(str(src))
    real = lower.lower_model

    def broken(model, **kw):  # a dataflow graph that computes something else
        df = real(model, **kw)
        w = [n for n in df.graph.node if n.op_type == "MVAU"][0].input[1]
        df.set_initializer(w, -df.get_initializer(w))
        return df

    monkeypatch.setattr(lower, "lower_model", broken)
    out = tmp_path / "dataflow.onnx"
    with pytest.raises(UserError, match=r"not bit-exact: \d+ of 500 samples differ"):
        lower_file(src, out)
    assert list(tmp_path.iterdir()) == [src]


def test_cli_lower(tmp_path):
    src = tmp_path / "model.onnx"
    mlp().save(str(src))
    runner = CliRunner()
    ok = runner.invoke(app, ["lower", str(src), "-o", str(tmp_path / "df.onnx"), "--label-select", "--json"])
    assert ok.exit_code == 0, ok.output
    result = json.loads(ok.stdout)
    assert result["mismatches"] == 0 and result["nodes"]["LabelSelect"] == 1
    bad = run_cli("lower", str(src), "-o", str(tmp_path / "x.onnx"), "--folding", str(tmp_path / "missing.json"))
    assert bad.returncode == 2 and not (tmp_path / "x.onnx").exists()
    assert bad.stderr.strip().splitlines() == [  # checked at the CLI edge (toolchain/cli_types.py)
        f"error: --folding {tmp_path / 'missing.json'}: file not found (see `hil lower --help`)"]


def test_refolding_a_dataflow_graph_rebuilds_its_dwcs():
    from toolchain.lower import fold_dataflow

    folded = lower_model(mlp(), folding={"MVAU_0": {"PE": 2, "SIMD": 4}})
    assert "DWC_0" in names(folded)
    unfolded = fold_dataflow(folded, folding={"MVAU_0": {"PE": 1, "SIMD": 1}})
    assert names(unfolded) == ["MVAU_0", "FIFO_0", "MVAU_1", "FIFO_1", "MVAU_2"]
    assert verify(mlp(), unfolded, X)["mismatches"] == 0
