"""Golden: FINN's canonical foldings of the BNN-PYNQ networks apply to our lowering unchanged.

Source: finn-examples, build/bnn-pynq/folding_config/cnv-w1a1_folding_config.json and
tfc-w1a1_folding_config.json (quoted below, FINN node names: Thresholding_Batch_0 /
Thresholding_hls_0 is the input quantizer on raw UINT8 pixels). Our cnv-w1a1 and tfc-w1a1 recipes
read 8-bit pixels as FINN's networks do (architecture.input_kind: uint8), so the lowering produces
FINN's node sequence and every entry of the config names a node of ours. The layer geometry below is
the topology of brevitas_examples/bnn_pynq CNV.py / FC.py (3x3 unpadded convs on 32x32, 2x2 max-pools;
784-64-64-64-10); the cycle oracle is FINN's MVAU get_exp_cycles, (MH/PE)·(MW/SIMD)·vec
(matrixvectoractivation.py, docs/finn.md §2.1), with the config's PE and SIMD.
"""

from __future__ import annotations

import math

import pytest
from qonnx.custom_op.registry import getCustomOp

from toolchain.export import export_and_verify, verification_inputs
from toolchain.lower import lower_model, verify
from toolchain.onnxio import load_model
from toolchain.passes.common import get_io
from toolchain.passes.folding import our_node_name
from toolchain.train import untrained_model

CNV_W1A1 = {
    "Defaults": {},
    "Thresholding_Batch_0": {"PE": 1, "ram_style": "distributed"},
    "ConvolutionInputGenerator_0": {"SIMD": 3, "ram_style": "distributed"},
    "MatrixVectorActivation_0": {"PE": 16, "SIMD": 3, "ram_style": "auto"},
    "ConvolutionInputGenerator_1": {"SIMD": 32, "ram_style": "distributed"},
    "MatrixVectorActivation_1": {"PE": 32, "SIMD": 32, "ram_style": "auto"},
    "ConvolutionInputGenerator_2": {"SIMD": 32, "ram_style": "distributed"},
    "MatrixVectorActivation_2": {"PE": 16, "SIMD": 32, "ram_style": "auto"},
    "ConvolutionInputGenerator_3": {"SIMD": 32, "ram_style": "distributed"},
    "MatrixVectorActivation_3": {"PE": 16, "SIMD": 32, "ram_style": "auto"},
    "ConvolutionInputGenerator_4": {"SIMD": 32, "ram_style": "distributed"},
    "MatrixVectorActivation_4": {"PE": 4, "SIMD": 32, "ram_style": "auto"},
    "ConvolutionInputGenerator_5": {"SIMD": 32, "ram_style": "distributed"},
    "MatrixVectorActivation_5": {"PE": 1, "SIMD": 32, "ram_style": "auto"},
    "MatrixVectorActivation_6": {"PE": 1, "SIMD": 4, "ram_style": "auto"},
    "MatrixVectorActivation_7": {"PE": 1, "SIMD": 8, "ram_style": "auto"},
    "MatrixVectorActivation_8": {"PE": 5, "SIMD": 1, "ram_style": "auto"},
    "LabelSelect_Batch_0": {"PE": 1},
}
TFC_W1A1 = {
    "Defaults": {},
    "Thresholding_hls_0": {"PE": 49, "ram_style": "distributed"},
    "MVAU_hls_0": {"PE": 16, "SIMD": 49, "ram_style": "block"},
    "MVAU_hls_1": {"PE": 8, "SIMD": 8, "ram_style": "auto"},
    "MVAU_hls_2": {"PE": 8, "SIMD": 8, "ram_style": "auto"},
    "MVAU_hls_3": {"PE": 10, "SIMD": 8, "ram_style": "distributed"},
    "LabelSelect_hls_0": {"PE": 1},
}
FOLDINGS = {"cnv-w1a1": CNV_W1A1, "tfc-w1a1": TFC_W1A1}

# per MVAU: (MW, MH, numInputVectors) of FINN's networks
GEOMETRY = {
    "cnv-w1a1": [(3 * 9, 64, [1, 30, 30]), (64 * 9, 64, [1, 28, 28]), (64 * 9, 128, [1, 12, 12]),
                 (128 * 9, 128, [1, 10, 10]), (128 * 9, 256, [1, 3, 3]), (256 * 9, 256, [1, 1, 1]),
                 (256, 512, [1]), (512, 512, [1]), (512, 10, [1])],
    "tfc-w1a1": [(784, 64, [1]), (64, 64, [1]), (64, 64, [1]), (64, 10, [1])],
}
# the input Thresholding: (channels, numInputVectors, steps) -- 8-bit Q1.7 image for CNV, binarized pixels for TFC
INPUT_THRESHOLDS = {"cnv-w1a1": (3, [1, 32, 32], 255), "tfc-w1a1": (784, [1], 1)}
CONV = ["SWG", "MVAU"]
SEQUENCE = {
    "cnv-w1a1": ["Thresholding"] + CONV * 2 + ["StreamingMaxPool"] + CONV * 2 + ["StreamingMaxPool"] + CONV * 2
                + ["MVAU"] * 3 + ["LabelSelect"],
    "tfc-w1a1": ["Thresholding"] + ["MVAU"] * 4 + ["LabelSelect"],
}
SAMPLES = 500
RECIPES = sorted(FOLDINGS)


@pytest.fixture(scope="module")
def lowered(tmp_path_factory):
    """recipe -> (source QONNX, dataflow folded with FINN's config, verification inputs)."""
    cache = {}

    def get(name: str):
        if name not in cache:
            recipe, model = untrained_model(name, seed=0)
            x = verification_inputs(recipe, SAMPLES, seed=0)  # MNIST test pixels (TFC), random pixels (CNV)
            path = tmp_path_factory.mktemp(name) / "model.onnx"
            export_and_verify(model, recipe, x[:100], path)
            dataflow = lower_model(load_model(path), folding=FOLDINGS[name], label_select=True)
            cache[name] = (load_model(path), dataflow, x)
        return cache[name]

    return get


def _compute(model):
    return [n for n in model.graph.node if n.op_type not in ("FIFO", "DWC")]


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_node_sequence_is_finns(name, lowered):
    _, df, _ = lowered(name)
    nodes = _compute(df)
    assert [n.op_type for n in nodes] == SEQUENCE[name]
    assert nodes[0].name == "Thresholding_0" and nodes[-1].name == "LabelSelect_0"
    thr = getCustomOp(nodes[0])
    channels, vec, steps = INPUT_THRESHOLDS[name]
    assert (thr.get_nodeattr("NumChannels"), thr.get_nodeattr("numInputVectors"), thr.get_nodeattr("numSteps")) \
        == (channels, vec, steps)
    assert thr.get_nodeattr("inputDataType") == "UINT8"
    io = get_io(df)
    assert (io["input_dtype"], io["input_scale"], io["output_kind"]) == ("UINT8", 1.0, "labels")


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_every_config_entry_is_applied(name, lowered):
    _, df, _ = lowered(name)
    by_name = {n.name: n for n in df.graph.node}
    config = {k: v for k, v in FOLDINGS[name].items() if k != "Defaults"}
    for finn_name, attrs in config.items():
        node = by_name[our_node_name(finn_name)]
        assert finn_name.startswith({"SWG": "ConvolutionInputGenerator", "MVAU": ("MVAU", "MatrixVector")}
                                    .get(node.op_type, node.op_type))
        op = getCustomOp(node)
        assert {a: op.get_nodeattr(a) for a in attrs} == attrs, finn_name
    # the config covers every compute node but the max-pools (FINN's configs leave them at PE 1)
    configured = {our_node_name(k) for k in config}
    assert {n.name for n in _compute(df) if n.op_type != "StreamingMaxPool"} == configured


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_mvau_cycles_follow_finns_formula(name, lowered):
    _, df, _ = lowered(name)
    mvaus = [n for n in df.graph.node if n.op_type == "MVAU"]
    assert len(mvaus) == len(GEOMETRY[name])
    finn_names = {our_node_name(k): v for k, v in FOLDINGS[name].items() if k != "Defaults"}
    for node, (mw, mh, vec) in zip(mvaus, GEOMETRY[name]):
        op = getCustomOp(node)
        assert (op.get_nodeattr("MW"), op.get_nodeattr("MH"), op.get_nodeattr("numInputVectors")) == (mw, mh, vec)
        pe, simd = finn_names[node.name]["PE"], finn_names[node.name]["SIMD"]
        assert op.cycles() == (mh // pe) * (mw // simd) * math.prod(vec), node.name
    thr = getCustomOp(_compute(df)[0])
    channels, vec, _ = INPUT_THRESHOLDS[name]
    pe = next(v["PE"] for k, v in FOLDINGS[name].items() if k.startswith("Thresholding"))
    assert thr.cycles() == math.prod(vec) * channels // pe  # thresholding.py: prod(folded_output_shape[:-1])


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_folded_dataflow_equals_qonnx(name, lowered):
    src, df, x = lowered(name)
    assert verify(src, df, x) == {"samples": SAMPLES, "mismatches": 0}  # labels == argmax of the QONNX outputs
