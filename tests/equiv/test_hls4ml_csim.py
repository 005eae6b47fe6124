"""hls4ml C-simulation (g++) ≡ emulator: 0 mismatching samples out of 1,000, every layer compared, for the
zoo's MLPs (multi-bit and binary) and CNN, each fully parallel (Latency, RF 1) and folded (Resource,
RF = (MW/SIMD)·(MH/PE) > 1); and 200 samples for the graphs beyond the zoo's: a dense layer after a 2x2
feature map (Reshape + Dense) and a residual fork/join (Clone + Merge add)."""

import pytest
from qonnx.custom_op.registry import getCustomOp

from toolchain.backends.hls4ml import build_hls4ml
from toolchain.export import export_run
from toolchain.lower import lower_model
from toolchain.onnxio import load_model

RECIPES = ["digits-mlp", "jet-mlp", "tfc-w1a1", "digits-cnn"]
SAMPLES = 1000

# folded: reuse factors hls4ml's Resource strategy accepts (rf < MW with rf | MW, or MW | rf, rf | MW·MH)
FOLDED = {
    "digits-mlp": {"MVAU_0": {"PE": 8, "SIMD": 8}, "MVAU_1": {"PE": 4, "SIMD": 16}, "MVAU_2": {"PE": 5, "SIMD": 2}},
    "jet-mlp": {"MVAU_0": {"PE": 16, "SIMD": 4}, "MVAU_1": {"PE": 8, "SIMD": 8}, "MVAU_2": {"PE": 4, "SIMD": 4},
                "MVAU_3": {"PE": 5, "SIMD": 2}},
    "tfc-w1a1": {"MVAU_0": {"PE": 64, "SIMD": 16}, "MVAU_1": {"PE": 16, "SIMD": 16}, "MVAU_2": {"PE": 16, "SIMD": 16},
                 "MVAU_3": {"PE": 5, "SIMD": 16}},
    "digits-cnn": {"MVAU_0": {"PE": 4, "SIMD": 1}, "MVAU_1": {"PE": 8, "SIMD": 16}, "MVAU_2": {"PE": 5, "SIMD": 8}},
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("qonnx")
    out = {}
    for recipe in RECIPES:
        path = root / f"{recipe}.onnx"
        assert export_run(recipe, path, untrained=True, samples=100)["mismatches"] == 0
        out[recipe] = path
    return out


def parallel_folding(model) -> dict:
    """Every MVAU fully unrolled (weights embedded), every SWG one window element per cycle per channel."""
    fold = {}
    for node in model.graph.node:
        op = getCustomOp(node)
        if node.op_type == "MVAU":
            fold[node.name] = {"PE": op.get_nodeattr("MH"), "SIMD": op.get_nodeattr("MW"),
                               "mem_mode": "internal_embedded"}
        elif node.op_type == "SWG":
            fold[node.name] = {"SIMD": op.get_nodeattr("IFMChannels")}
    return fold


@pytest.mark.slow
@pytest.mark.parametrize("folding", ["parallel", "folded"])
@pytest.mark.parametrize("recipe", RECIPES)
def test_csim_matches_emulator(recipe, folding, sources, tmp_path):
    source = load_model(sources[recipe])
    fold = parallel_folding(lower_model(source)) if folding == "parallel" else FOLDED[recipe]
    model = lower_model(load_model(sources[recipe]), folding=fold)
    result = build_hls4ml(model, tmp_path / "prj", csim=SAMPLES)
    dense = [layer for layer in result["layers"] if "reuse_factor" in layer]
    if folding == "parallel":
        assert all(layer["reuse_factor"] == 1 and layer["strategy"] == "Latency" for layer in dense)
    else:
        assert all(layer["reuse_factor"] > 1 and layer["strategy"] == "Resource" for layer in dense)
    csim = result["csim"]
    assert csim["samples"] == SAMPLES
    assert csim["mismatches"] == 0
    assert csim["per_layer"] and all(v == 0 for v in csim["per_layer"].values()), csim["per_layer"]
    print(f"{recipe} {folding}: {csim['mismatches']} mismatches / {csim['samples']}, g++ {csim['compile_seconds']} s")


@pytest.mark.slow
def test_csim_matches_emulator_at_a_setfolding_reuse_factor(sources, tmp_path):
    """FINN's SetFolding picks reuse factors hls4ml's Resource strategy rejects (digits-mlp at 1 Mfps: the
    32x10 classifier gets RF 80); such layers use the Latency strategy at the same RF, still exact."""
    model = lower_model(load_model(sources["digits-mlp"]), target_fps=1_000_000, clock_ns=10.0)
    result = build_hls4ml(model, tmp_path / "prj", csim=SAMPLES)
    strategies = {layer["strategy"] for layer in result["layers"] if "reuse_factor" in layer}
    assert {"Latency", "Resource"} <= strategies
    assert result["csim"]["mismatches"] == 0 and result["csim"]["samples"] == SAMPLES


CNN_2X2 = """name: cnn-2x2
description: conv 3x3, max-pool 2, conv 2x2 -> a 2x2 feature map flattened into the classifier
dataset: {name: digits, images: true}
architecture:
  input_shape: [1, 8, 8]
  layers:
    - {type: conv, channels: 4, kernel: 3}
    - {type: maxpool, kernel: 2}
    - {type: conv, channels: 4, kernel: 2}
    - {type: dense, units: 10}
quant: {weight_bits: 4, act_bits: 4}
training: {epochs: 1, batch_size: 64, lr: 0.01, seed: 0}
"""


def test_csim_of_a_dense_layer_after_a_2x2_feature_map(tmp_path):
    """conv -> 2x2x4 map -> dense: hls4ml's io_stream Conv2D writes the map pixel by pixel (h, w) with the
    channels in each word, its Dense after a Reshape reads the words in that order; the IR's MVAU reads
    the flattened map as (h, w, c). Random weights make any other order mismatch."""
    import json

    from tests.conftest import run_cli

    recipe = tmp_path / "cnn-2x2.yaml"
    recipe.write_text(CNN_2X2)
    assert export_run(str(recipe), tmp_path / "cnn.onnx", untrained=True, samples=100)["mismatches"] == 0
    dataflow = lower_model(load_model(tmp_path / "cnn.onnx"))
    last = dataflow.graph.node[-1]
    assert last.op_type == "MVAU" and dataflow.get_tensor_shape(last.input[0]) == [1, 2, 2, 4]
    assert getCustomOp(last).get_nodeattr("numInputVectors") == [1]
    dataflow.save(tmp_path / "dataflow.onnx")
    run = run_cli("build", str(tmp_path / "dataflow.onnx"), "-o", str(tmp_path / "prj"), "--csim", "200", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    kinds = [(layer["name"], layer["kind"]) for layer in result["layers"]]
    assert kinds[-2:] == [("MVAU_2_flatten", "Reshape"), ("MVAU_2", "Dense")]
    csim = result["csim"]
    assert csim["samples"] == 200 and csim["mismatches"] == 0
    # every layer that computes an IR tensor was traced and compared, the classifier included
    assert csim["per_layer"] == {"MVAU_0": 0, "MaxPool_0": 0, "MVAU_1": 0, "MVAU_2": 0}


@pytest.mark.slow
def test_csim_of_a_residual_fork_and_join(tmp_path):
    """lower's residual MLP (DuplicateStreams -> MVAU | skip -> AddStreams): hls4ml clones the forked
    stream and adds the two in AddStreams' type; every layer, the join included, equals the emulator."""
    from tests.unit.test_passes_residual import residual_mlp

    result = build_hls4ml(lower_model(residual_mlp()), tmp_path / "prj", csim=200)
    assert [layer["kind"] for layer in result["layers"]].count("Add") == 1
    firmware = (tmp_path / "prj" / "firmware" / "myproject.cpp").read_text()
    assert "nnet::clone_stream" in firmware and "nnet::add" in firmware
    csim = result["csim"]
    assert csim["samples"] == 200 and csim["mismatches"] == 0
    assert csim["per_layer"] == {"MVAU_0": 0, "MVAU_1": 0, "AddStreams_0": 0, "MVAU_2": 0}
