"""Exact thresholds: round-half-even ties, the quantizer's own rounding mode, BatchNorm with
negative gamma (absorbed into the weights), signed activations, standalone Thresholding."""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from tests.unit.test_passes_common import QGraph, int_inputs
from toolchain.errors import UserError
from toolchain.lower import lower_model, prepare, verify


def nodes(model, op_type):
    return [n for n in model.graph.node if n.op_type == op_type]


def tie_model(rounding: str = "ROUND"):
    """acc = x_int · w (w = 1, 2, 3, -1), value acc·2^-5 -> Relu -> UINT4 at scale 2^-3: q = round(acc / 4),
    so every acc = 2 mod 4 is a tie."""
    g = QGraph([1, 1])
    x = g.quant("global_in", 2**-3, 8)
    w = g.weight(np.array([[1.0], [2.0], [3.0], [-1.0]]) * 0.25, 0.25, 4)
    y = g.quant(g.node("Relu", [g.gemm(x, w)]), 2**-3, 4, signed=False, rounding=rounding)
    return g.build(y)


ALL_INT8 = (np.arange(-128, 128, dtype=np.float32) * 2**-3)[:, None]


def test_thresholds_are_exact_at_half_even_ties():
    src = tie_model("ROUND")
    df = lower_model(src)
    assert verify(src, df, ALL_INT8) == {"samples": 256, "mismatches": 0}
    mvau = nodes(df, "MVAU")[0]
    thr = df.get_initializer(mvau.input[2])
    # channel 0 (acc = x): level k needs round_half_even(acc / 4) >= k
    half_even = [3, 6, 11, 14, 19, 22, 27, 30, 35, 38, 43, 46, 51, 54, 59]
    assert thr[0].tolist() == half_even
    finn_half_up = [int(np.ceil(4 * (k - 0.5))) for k in range(1, 16)]  # FINN's T = s/2 + s·t
    assert finn_half_up != half_even
    assert thr.shape == (4, 15) and df.get_tensor_datatype(mvau.output[0]) == DataType["UINT4"]


def test_thresholds_follow_the_quantizers_rounding_mode():
    src = tie_model("HALF_UP")
    df = lower_model(src)
    assert verify(src, df, ALL_INT8)["mismatches"] == 0
    thr = df.get_initializer(nodes(df, "MVAU")[0].input[2])
    assert thr[0].tolist() == [4 * k - 2 for k in range(1, 16)]


def bn_model(gamma, act: str = "bipolar", weight_bits: int = 4, narrow: bool = True, w=None):
    rng = np.random.default_rng(1)
    g = QGraph([1, 8])
    x = g.quant("global_in", 2**-4, 8)
    w = rng.integers(-7, 8, size=(4, 8)).astype(np.float64) if w is None else w
    h = g.gemm(x, g.weight(w * 0.125, 0.125, weight_bits, narrow=narrow))
    bn = g.batchnorm(h, gamma=gamma, beta=[0.1, -0.2, 0.3, 0.05], mean=[0.5, -1.0, 0.0, 2.0], var=[1.0, 2.0, 0.5, 4.0])
    y = g.bipolar(bn) if act == "bipolar" else g.quant(g.node("Relu", [bn]), 0.5, 2, signed=False)
    out = g.gemm(y, g.weight(rng.integers(-7, 8, size=(3, 4)) * 0.25, 0.25, 4))
    return g.build(out), w


@pytest.mark.parametrize("act", ["bipolar", "relu"])
def test_negative_batchnorm_gamma_is_absorbed_into_the_weights(act):
    src, w_int = bn_model([1.0, -1.5, 0.5, -0.25], act)
    df = lower_model(src)
    x = int_inputs(src, -128, 127, 2000, 2**-4)
    assert verify(src, df, x) == {"samples": 2000, "mismatches": 0}
    mvau = nodes(df, "MVAU")[0]
    w_df = df.get_initializer(mvau.input[1])
    np.testing.assert_array_equal(w_df, w_int.T * np.array([1, -1, 1, -1]))


def test_negative_gamma_with_asymmetric_weights_is_refused():
    w = np.full((4, 8), 3.0)
    w[1, 0] = -8.0  # INT4 non-narrow: -8 cannot be negated
    src, _ = bn_model([1.0, -1.5, 0.5, 0.25], weight_bits=4, narrow=False, w=w)
    with pytest.raises(UserError, match=r"Gemm_\d+.*negative BatchNorm gamma.*narrow-range"):
        lower_model(src)


def test_signed_activation_keeps_its_offset():
    g = QGraph([1, 6])
    x = g.quant("global_in", 2**-4, 8)
    rng = np.random.default_rng(3)
    h = g.gemm(x, g.weight(rng.integers(-7, 8, size=(5, 6)) * 0.125, 0.125, 4))
    bn = g.batchnorm(h, gamma=[0.5, 1.0, 2.0, 0.7, 1.3], beta=[0.0, 0.5, -0.5, 0.2, 0.1],
                     mean=[0.0, 0.1, -0.2, 0.3, 0.0], var=[1.0, 1.0, 2.0, 0.5, 1.0])
    y = g.quant(bn, 0.25, 3, signed=True)
    src = g.build(g.gemm(y, g.weight(rng.integers(-7, 8, size=(2, 5)) * 0.5, 0.5, 4)))
    df = lower_model(src)
    mvau = nodes(df, "MVAU")[0]
    assert mvau.attribute and df.get_tensor_datatype(mvau.output[0]) == DataType["INT3"]
    assert [a.i for a in mvau.attribute if a.name == "ActVal"] == [-4]
    assert verify(src, df, int_inputs(src, -128, 127, 2000, 2**-4))["mismatches"] == 0


def test_requantized_input_becomes_a_thresholding_node():
    g = QGraph([1, 5])
    x = g.quant("global_in", 2**-4, 8)
    y = g.quant(g.node("Relu", [x]), 2**-2, 3, signed=False)
    rng = np.random.default_rng(4)
    src = g.build(g.gemm(y, g.weight(rng.integers(-7, 8, size=(2, 5)) * 0.5, 0.5, 4)))
    df = lower_model(src)
    assert [n.op_type for n in df.graph.node if n.op_type != "FIFO"] == ["Thresholding", "MVAU"]
    thr = df.get_initializer(nodes(df, "Thresholding")[0].input[1])
    # x_int / 4 rounded half-even, clipped to [0, 7]: level k from x_int >= 4k - 2 (+1 at even-k ties)
    assert thr[0].tolist() == [3, 6, 11, 14, 19, 22, 27]
    assert verify(src, df, (np.arange(-128, 128)[:, None] * 2**-4 * np.ones((1, 5))).astype(np.float32))[
        "mismatches"] == 0


def test_thresholded_nodes_record_their_source_quantizer():
    import json

    src = tie_model("HALF_UP")
    df = lower_model(src)
    records = json.loads(df.get_metadata_prop("hil_quantizers"))
    assert list(records) == ["MVAU_0"]
    rec = records["MVAU_0"]
    cleaned = prepare(src)  # the names of a cleaned QONNX (what `hil export` writes)
    quant = [n for n in cleaned.graph.node if n.op_type == "Quant"][-1]
    assert rec["quantizer"] == quant.name
    assert rec["chain"][-2:] == [cleaned.find_producer(quant.input[0]).name, quant.name]
    assert (rec["op_type"], rec["dtype"], rec["scale"], rec["signed"], rec["rounding_mode"]) == \
        ("Quant", "UINT4", [0.125], 0, "HALF_UP")
    assert not any(a.name == "hil_quantizer" for n in df.graph.node for a in n.attribute)
