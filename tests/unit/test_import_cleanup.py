"""The import step (toolchain/passes/cleanup.py import_cleanup) makes other tools' QONNX lowerable:
legacy domains, missing opset imports, initializers listed as inputs, and a clear error for a graph
whose shapes cannot be inferred."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper

from tests.unit.test_passes_common import QGraph
from toolchain.errors import UserError
from toolchain.lower import lower_file, lower_model

W = np.array([[1.0, -2.0, 3.0], [0.0, 1.0, -1.0]]) * 0.25


def _mlp() -> ModelWrapper:
    g = QGraph([1, 3])
    x = g.quant("global_in", 2**-4, 8)
    h = g.gemm(x, g.weight(W, 0.25, 4))
    y = g.quant(g.node("Relu", [h]), 0.5, 2, signed=False)
    return g.build(g.gemm(y, g.weight(W[:, :2] * 2, 0.5, 4)))


def test_legacy_domain_without_opset_import_loads_and_lowers(tmp_path):
    model = _mlp()
    for n in model.graph.node:
        if n.op_type in ("Quant", "BipolarQuant"):
            n.domain = "onnx.brevitas"  # what older Brevitas wrote, without declaring the domain
    del model.model.opset_import[1:]
    path = tmp_path / "legacy.onnx"
    onnx.save(model.model, path)
    result = lower_file(path, tmp_path / "df.onnx", samples=50)
    assert result["mismatches"] == 0 and result["ties"] == 0 and (tmp_path / "df.onnx").exists()


def test_initializers_listed_as_graph_inputs_are_plain_initializers(tmp_path):
    model = _mlp()
    for init in model.graph.initializer:  # torch.onnx keep_initializers_as_inputs=True
        model.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    assert len(model.graph.input) > 1
    path = tmp_path / "static_inputs.onnx"
    onnx.save(model.model, path)
    result = lower_file(path, tmp_path / "df.onnx", samples=50)
    assert result["mismatches"] == 0


def test_symbolic_batch_becomes_one():
    model = _mlp()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    df = lower_model(model)
    assert df.get_tensor_shape(df.graph.input[0].name)[0] == 1


def test_shape_that_cannot_be_inferred_is_one_line_error():
    """A Reshape whose shape depends on the data (here on max(x)): no static shape exists."""
    g = QGraph([1, 4])
    x = g.quant("global_in", 2**-4, 8)
    top = g.node("Cast", [g.node("ReduceMax", [x], keepdims=1)], to=TensorProto.INT64)
    shape = g.node("Concat", [g.init(np.array([1])), top], axis=0)
    r = g.node("Reshape", [x, shape])
    model = g.build(g.gemm(r, g.weight(np.ones((2, 4)) * 0.25, 0.25, 4)))
    with pytest.raises(UserError) as err:
        lower_model(model)
    msg = str(err.value)
    assert "\n" not in msg and "cannot be inferred" in msg and "Reshape" in msg


def test_tfc_zoo_model_as_shipped_lowers_and_emulates(tmp_path):
    """tests/data/TFC_1W1A.onnx (QONNX model zoo): legacy domain, 34 graph inputs, dynamic Reshape,
    2x-1 before the input quantizer, float output affine; lowered and emulated on raw [0, 1) inputs."""
    from pathlib import Path

    from toolchain.emulate import emulate

    src = Path(__file__).parents[1] / "data" / "TFC_1W1A.onnx"
    df = tmp_path / "df.onnx"
    x = np.random.default_rng(0).random((60, 1, 28, 28)).astype(np.float32)
    result = lower_file(src, df, inputs=x)
    assert result["mismatches"] == 0 and result["ties"] == 0 and result["label_agreement"] == 1.0
    np.save(tmp_path / "x.npy", x)
    emulated = emulate(df, inputs=tmp_path / "x.npy", frames=1, source=src)  # src lies outside df's folder
    assert emulated["samples"] == 60 and emulated["mismatches"] == 0 and emulated["equality"]["ties"] == 0
