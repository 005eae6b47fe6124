"""QONNX ≡ dataflow: every zoo recipe (untrained export) lowers and its dataflow graph computes the
QONNX model's outputs exactly on 500 samples, under --strict (the recipe's data where it ships, else random
inputs); cnv-w1a1 lowers to FINN's node sequence."""

from __future__ import annotations

import pytest
from qonnx.custom_op.registry import getCustomOp

from toolchain.export import export_and_verify, verification_inputs
from toolchain.lower import lower_file
from toolchain.onnxio import load_model
from toolchain.train import untrained_model

RECIPES = ["digits-mlp", "digits-cnn", "mnist-mlp", "tfc-w1a1", "jet-mlp", "cybsec-mlp", "cnv-w1a1"]
SAMPLES = 500


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """recipe -> (QONNX path, 500 verification inputs), exported once per module."""
    cache = {}

    def get(name: str):
        if name not in cache:
            recipe, model = untrained_model(name, seed=0)
            x = verification_inputs(recipe, SAMPLES, seed=0)
            path = tmp_path_factory.mktemp(name) / "model.onnx"
            export_and_verify(model, recipe, x[:100], path)
            cache[name] = (path, x)
        return cache[name]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_lowers_bit_exact(recipe, exports):
    src, x = exports(recipe)
    result = lower_file(src, src.parent / "dataflow.onnx", inputs=x, strict=True)  # today's contract
    assert (result["samples"], result["mismatches"], result["ties"]) == (SAMPLES, 0, 0)
    assert set(result["nodes"]) <= {"MVAU", "SWG", "StreamingMaxPool", "Thresholding", "DWC", "FIFO"}


def _compute_nodes(model):
    return [n for n in model.graph.node if n.op_type not in ("FIFO", "DWC")]


@pytest.mark.slow
def test_cnv_w1a1_lowers_to_finns_node_sequence(exports):
    src, x = exports("cnv-w1a1")
    out = src.parent / "dataflow_labels.onnx"
    result = lower_file(src, out, inputs=x, label_select=True)
    assert (result["samples"], result["mismatches"]) == (SAMPLES, 0)  # labels == argmax of the QONNX outputs
    model = load_model(out)
    nodes = _compute_nodes(model)
    conv = ["SWG", "MVAU"]
    # raw UINT8 pixels in: x/255, 2x-1 and the 8-bit input quantizer are FINN's Thresholding_Batch_0
    assert [n.op_type for n in nodes] == (["Thresholding"] + conv * 2 + ["StreamingMaxPool"] + conv * 2
                                          + ["StreamingMaxPool"] + conv * 2 + ["MVAU"] * 3 + ["LabelSelect"])
    assert nodes[0].name == "Thresholding_0" and getCustomOp(nodes[0]).get_nodeattr("inputDataType") == "UINT8"
    mvaus = [getCustomOp(n) for n in nodes if n.op_type == "MVAU"]
    # every MVAU but the classifier carries BatchNorm + sign as one threshold per channel, bipolar out
    for op in mvaus[:-1]:
        assert op.get_nodeattr("noActivation") == 0 and op.get_nodeattr("outputDataType") == "BIPOLAR"
        assert model.get_initializer(op.onnx_node.input[2]).shape == (op.get_nodeattr("MH"), 1)
    assert mvaus[-1].get_nodeattr("noActivation") == 1
    # 8-bit image into the first layer; XNOR-popcount everywhere else (FINN's CNV-w1a1)
    assert [op.get_nodeattr("binaryXnorMode") for op in mvaus] == [0] + [1] * 8
    assert mvaus[0].get_nodeattr("inputDataType") == "INT8"
    assert [n.name for n in nodes if n.op_type == "StreamingMaxPool"] == ["MaxPool_0", "MaxPool_1"]
    assert nodes[-1].name == "LabelSelect_0"
