"""Real models in: QONNX that Brevitas, FINN and QKeras users have (float scales and biases, BatchNorm,
preprocessing, no input quantizer, Softmax) lowers and emulates; every difference from the source's
float32 execution is a verified tie (toolchain/equality.py), and --strict refuses what is not
bit-exact. The acceptance run on >= 1,000 samples per model is scripts/real_models_table.py; these
tests use fewer samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qonnx.custom_op.registry import getCustomOp

from tests.equiv import brevitas_defaults
from tests.unit.test_passes_common import QGraph
from toolchain.emulate import emulate
from toolchain.errors import UserError
from toolchain.lower import lower_file, lower_model
from toolchain.onnxio import load_model
from toolchain.passes.common import get_io
from toolchain.pipeline import estimate_model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = brevitas_defaults.export(name, tmp_path_factory.mktemp(name) / f"{name}.onnx")
        return cache[name]

    return get


def _raw_inputs(name: str, n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, *brevitas_defaults.SHAPES[name][1:])).astype(np.float32)


@pytest.mark.parametrize("name", ["cybsec", "tfc", "cnn"])
def test_default_quantizer_export_lowers_and_emulates(name, exported, tmp_path):
    src = exported(name)
    x = _raw_inputs(name, 150)
    df = tmp_path / "df.onnx"
    result = lower_file(src, df, inputs=x)
    assert result["samples"] == 150 and result["mismatches"] == 0  # differences, if any, are verified ties
    assert result["label_agreement"] >= 0.99
    np.save(tmp_path / "x.npy", x)
    # the raw float inputs, as lower takes them; src lies outside df's folder, so it is named
    emulated = emulate(df, inputs=tmp_path / "x.npy", frames=1, source=src)
    assert emulated["equality"]["samples"] == 150 and emulated["equality"]["mismatches"] == 0
    model = load_model(df)
    est = estimate_model(model, part="Pynq-Z2")  # hil estimate: FINN's formulas on every layer
    rows = {r["name"]: r for r in est["layers"]}
    mvaus = [n for n in model.graph.node if n.op_type == "MVAU"]
    assert mvaus and est["network"]["max_cycles"] == max(r["cycles"] for r in rows.values())
    for node in mvaus:  # unfolded (PE = SIMD = 1): FINN's MVAU cycles MH · MW · numInputVectors
        op = getCustomOp(node)
        want = op.get_nodeattr("MH") * op.get_nodeattr("MW") * math.prod(op.get_nodeattr("numInputVectors"))
        assert rows[node.name]["cycles"] == want


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cybsec", "tfc", "cnn"])
def test_default_quantizer_export_builds_and_csims_through_the_host_steps(name, exported, tmp_path):
    """`hil build --csim` of the plain exports: g++ C-sim fed raw inputs through the host steps, equal
    to the emulator layer by layer and, decoded through the output steps, to the source QONNX."""
    from toolchain.pipeline import build

    src = exported(name)
    df = tmp_path / "df.onnx"
    lower_file(src, df, inputs=_raw_inputs(name, 100))
    result = build(df, "hls4ml", tmp_path / "prj", csim=200)["csim"]
    assert result["samples"] == 200 and result["mismatches"] == 0 and set(result["per_layer"].values()) == {0}
    assert result["host_steps"] and result["source"]["mismatches"] == 0 and result["source"]["samples"] == 200


def test_strict_refuses_a_float_scale_model(exported, tmp_path):
    with pytest.raises(UserError, match="not a power of two"):
        lower_file(exported("cybsec"), tmp_path / "df.onnx", samples=20, strict=True)
    assert not (tmp_path / "df.onnx").exists()


CNV_PLAIN_FOLDING = {  # finn-examples cnv-w1a1_folding_config.json without the raw-pixel Thresholding
    "ConvolutionInputGenerator_0": {"SIMD": 3}, "MatrixVectorActivation_0": {"PE": 16, "SIMD": 3},
    "ConvolutionInputGenerator_1": {"SIMD": 32}, "MatrixVectorActivation_1": {"PE": 32, "SIMD": 32},
    "ConvolutionInputGenerator_2": {"SIMD": 32}, "MatrixVectorActivation_2": {"PE": 16, "SIMD": 32},
    "ConvolutionInputGenerator_3": {"SIMD": 32}, "MatrixVectorActivation_3": {"PE": 16, "SIMD": 32},
    "ConvolutionInputGenerator_4": {"SIMD": 32}, "MatrixVectorActivation_4": {"PE": 4, "SIMD": 32},
    "ConvolutionInputGenerator_5": {"SIMD": 32}, "MatrixVectorActivation_5": {"PE": 1, "SIMD": 32},
    "MatrixVectorActivation_6": {"PE": 1, "SIMD": 4}, "MatrixVectorActivation_7": {"PE": 1, "SIMD": 8},
    "MatrixVectorActivation_8": {"PE": 5, "SIMD": 1}, "LabelSelect_Batch_0": {"PE": 1},
}
CNV_GEOMETRY = [(3 * 9, 64, [1, 30, 30]), (64 * 9, 64, [1, 28, 28]), (64 * 9, 128, [1, 12, 12]),
                (128 * 9, 128, [1, 10, 10]), (128 * 9, 256, [1, 3, 3]), (256 * 9, 256, [1, 1, 1]),
                (256, 512, [1]), (512, 512, [1]), (512, 10, [1])]


@pytest.mark.slow
def test_cnv_w1a1_plain_export_at_finns_folding(exported, tmp_path):
    """The plain export (float input quantizer on the host, binary weights with scale 0.1): FINN's
    canonical folding applies and the MVAU cycles are FINN's (mh/pe)·(mw/simd)·vec (tests/golden/
    test_finn_canonical_foldings.py); labels verified against the source."""
    from toolchain.passes.folding import our_node_name

    src = exported("cnv")
    df_path = tmp_path / "df.onnx"
    result = lower_file(src, df_path, inputs=_raw_inputs("cnv", 20), folding=CNV_PLAIN_FOLDING, label_select=True)
    assert result["samples"] == 20 and result["mismatches"] == 0
    df = load_model(df_path)
    mvaus = [n for n in df.graph.node if n.op_type == "MVAU"]
    assert len(mvaus) == len(CNV_GEOMETRY)
    fold = {our_node_name(k): v for k, v in CNV_PLAIN_FOLDING.items()}
    for node, (mw, mh, vec) in zip(mvaus, CNV_GEOMETRY):
        op = getCustomOp(node)
        assert (op.get_nodeattr("MW"), op.get_nodeattr("MH"), op.get_nodeattr("numInputVectors")) == (mw, mh, vec)
        assert op.cycles() == (mh // fold[node.name]["PE"]) * (mw // fold[node.name]["SIMD"]) * math.prod(vec)


# ---- constructs built with onnx helpers ----------------------------------------------------------

W1 = np.array([[3.0, -1.0, 2.0, 0.0], [-2.0, 1.0, 1.0, 3.0], [1.0, 2.0, -3.0, -1.0]])
W2 = np.array([[1.0, -1.0, 2.0], [2.0, 1.0, -1.0]])


def _qkeras_like(softmax: bool = True, last_bias=(0.1, -0.25)):
    """QKeras-converted style: no input quantizer, float per-channel weight scale and float bias,
    a quantized ReLU, a last Dense with a float bias, Softmax."""
    g = QGraph([1, 4])
    scale = np.array([[0.11], [0.07], [0.13]])  # per output channel
    w1 = g.quant(g.init(W1 * scale), scale, 4)
    h = g.gemm("global_in", w1, bias=g.init([0.05, -0.3, 0.2]))
    y = g.quant(g.node("Relu", [h]), 0.37, 3, signed=False)
    out = g.gemm(y, g.weight(W2 * 0.09, 0.09, 4), bias=g.init(list(last_bias)))
    return g.build(g.node("Softmax", [out], axis=-1) if softmax else out)


def test_graph_input_without_quantizer_is_refused_with_the_suggestion():
    with pytest.raises(UserError, match=r"--input-type INT16 --input-scale 2\^-10"):
        lower_model(_qkeras_like())


def test_qkeras_like_graph_with_input_type(tmp_path):
    import onnx

    path = tmp_path / "keras.onnx"
    onnx.save(_qkeras_like().model, path)
    x = np.random.default_rng(0).uniform(-8, 8, size=(300, 4)).astype(np.float32)
    df = tmp_path / "df.onnx"
    result = lower_file(path, df, inputs=x, input_type="INT16", input_scale=2.0**-10)
    assert result["mismatches"] == 0 and result["label_agreement"] == 1.0
    io = get_io(load_model(df))
    assert [s["op"] for s in io["output_steps"]][-1] == "Softmax" and io["input_dtype"] == "INT16"
    with pytest.raises(UserError, match="argmax-preserving"):  # a per-channel bias moves the argmax
        lower_file(path, tmp_path / "labels.onnx", inputs=x, input_type="INT16", input_scale=2.0**-10,
                   label_select=True)
    scalar = tmp_path / "keras_scalar_bias.onnx"
    onnx.save(_qkeras_like(last_bias=(0.1,)).model, scalar)
    labels = lower_file(scalar, tmp_path / "labels.onnx", inputs=x, input_type="INT16", input_scale=2.0**-10,
                        label_select=True)  # scalar bias, Softmax dropped: argmax-preserving
    assert labels["mismatches"] == 0 and labels["io"]["output_kind"] == "labels"
    np.save(tmp_path / "x.npy", x)
    emulated = emulate(df, inputs=tmp_path / "x.npy", frames=1)
    assert emulated["equality"]["mismatches"] == 0 and emulated["equality"]["label_agreement"] == 1.0


def _preprocessed():
    """Reshape and (x + 1) / 2 before the input quantizer (images in [-1, 1] -> [0, 1])."""
    g = QGraph([1, 1, 2, 3])
    r = g.node("Reshape", ["global_in", g.init(np.array([1, 6]))])
    a = g.node("Div", [g.node("Add", [r, g.init(1.0)]), g.init(2.0)])
    x = g.quant(a, 2.0**-7, 8, signed=False)
    w = np.tile(W1[:, :3], (1, 2)) * 0.25
    h = g.gemm(x, g.weight(w, 0.25, 4))
    y = g.quant(g.node("Relu", [h]), 0.5, 2, signed=False)
    return g.build(g.gemm(y, g.weight(W2 * 0.5, 0.5, 4)))


def test_preprocessing_before_the_input_quantizer_is_a_host_step(tmp_path):
    import onnx

    path = tmp_path / "pre.onnx"
    onnx.save(_preprocessed().model, path)
    x = np.random.default_rng(0).uniform(-1, 1, size=(200, 1, 2, 3)).astype(np.float32)
    df = tmp_path / "df.onnx"
    result = lower_file(path, df, inputs=x, strict=True)  # power-of-two scales: bit-exact
    assert (result["mismatches"], result["ties"]) == (0, 0)
    assert [s["op"] for s in result["io"]["input_steps"]] == ["Reshape", "Add", "Div", "Quant"]
    np.save(tmp_path / "x.npy", x)
    assert emulate(df, inputs=tmp_path / "x.npy", frames=1)["mismatches"] == 0


def _tie_model():
    """Exact arithmetic and float32 disagree: the weight scale c = float32(0.1) = 13421773·2^-27, so
    25·c = 2.5 + 3.7e-8 rounds to 3, while float32(25·c) = 2.5 rounds half-even to 2."""
    g = QGraph([1, 1])
    x = g.quant("global_in", 1.0, 8)
    h = g.gemm(x, g.weight(np.array([[0.1]]), 0.1, 4))
    y = g.quant(h, 1.0, 4)
    return g.build(g.gemm(y, g.weight(np.array([[1.0]]), 1.0, 4)))


def test_float32_ties_are_verified_and_strict_refuses_them(tmp_path):
    import onnx

    path = tmp_path / "tie.onnx"
    onnx.save(_tie_model().model, path)
    x = np.arange(-60, 61, dtype=np.float32).reshape(-1, 1)
    result = lower_file(path, tmp_path / "df.onnx", inputs=x)
    assert result["mismatches"] == 0 and result["ties"] >= 1  # 25 is one; each checked at its quantizer
    with pytest.raises(UserError, match="not a power of two"):
        lower_file(path, tmp_path / "strict.onnx", inputs=x, strict=True)


def test_cli_input_type_and_strict(tmp_path):
    """`hil lower --input-type INT16 --input-scale 2^-10` on a QKeras-style graph; without it, the
    one-line error names those options; `--strict` refuses its float scales."""
    import json

    import onnx

    from tests.conftest import run_cli

    path = tmp_path / "keras.onnx"
    onnx.save(_qkeras_like().model, path)
    out = tmp_path / "df.onnx"
    proc = run_cli("lower", str(path), "-o", str(out), "--samples", "50")
    assert proc.returncode == 2 and "--input-type INT16 --input-scale 2^-10" in proc.stderr and not out.exists()
    proc = run_cli("lower", str(path), "-o", str(out), "--samples", "50", "--input-type", "INT16",
                   "--input-scale", "2^-10", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["io"]["input_scale"] == 2.0**-10 and result["mismatches"] == 0
    proc = run_cli("lower", str(path), "-o", str(tmp_path / "strict.onnx"), "--samples", "50", "--input-type",
                   "INT16", "--input-scale", "2^-10", "--strict")
    assert proc.returncode == 2 and "power of two" in proc.stderr and not (tmp_path / "strict.onnx").exists()
