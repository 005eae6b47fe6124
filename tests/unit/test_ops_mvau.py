"""MVAU: bit-exact execution vs a plain numpy reference, cycles vs token schedule, FINN formulas."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp

from hw.cost.resources import CostModel
from hw.ops.base import make_hw_node
from hw.ops.graph import NodeSpec, linear_model

RNG = np.random.default_rng(0)


def ref_mvau(x, w, thr=None, act_val=0, xnor=False, bipolar_out=False):
    """Loop-free but naive reference: explicit per-element sums in Python ints."""
    x = x.astype(np.int64)
    w = w.astype(np.int64)
    if xnor:
        acc = (x[..., :, None] == w[None, :, :]).sum(axis=-2)
    else:
        acc = (x[..., :, None] * w[None, :, :]).sum(axis=-2)
    if thr is None:
        return acc
    cnt = (acc[..., :, None] >= thr[None, :, :]).sum(axis=-1)
    return 2 * cnt - 1 if bipolar_out else cnt + act_val


def mvau(**kw):
    attrs = dict(MW=8, MH=6, PE=1, SIMD=1, inputDataType="INT4", weightDataType="INT3", outputDataType="INT4",
                 accDataType="INT32", noActivation=0, ActVal=-8)
    attrs.update(kw)
    return getCustomOp(make_hw_node("MVAU", ["x", "w", "t"], ["y"], "MVAU_0", **attrs))


def rand(dt, shape):
    d = DataType[dt]
    return RNG.integers(int(d.min()), int(d.max()) + 1, size=shape).astype(np.float32)


def test_execute_thresholds_matches_reference():
    op = mvau()
    x, w = rand("INT4", (5, 8)), rand("INT3", (8, 6))
    thr = np.sort(RNG.integers(-60, 60, size=(6, 15)), axis=1).astype(np.float32)
    (y,) = op.execute([x, w, thr])
    assert np.array_equal(y, ref_mvau(x, w, thr, act_val=-8))


def test_execute_many_steps_uses_exact_binary_search():
    op = mvau(outputDataType="UINT8", ActVal=0)
    x, w = rand("INT4", (3, 4, 8)), rand("INT3", (8, 6))
    thr = np.sort(RNG.integers(-100, 100, size=(6, 255)), axis=1).astype(np.float32)
    (y,) = op.execute([x, w, thr])
    assert np.array_equal(y, ref_mvau(x, w, thr))


def test_execute_no_activation_is_exact_accumulator():
    op = mvau(noActivation=1, outputDataType="INT32", MW=300, inputDataType="INT8", weightDataType="INT8")
    x, w = rand("INT8", (4, 300)), rand("INT8", (300, 6))
    (y,) = op.execute([x, w])
    assert np.array_equal(y, ref_mvau(x, w))


def test_binary_xnor_mode_counts_matches_and_bipolar_output():
    op = mvau(binaryXnorMode=1, inputDataType="BIPOLAR", weightDataType="BIPOLAR", outputDataType="BIPOLAR",
              ActVal=0, MW=16, MH=4)
    x, w = rand("BIPOLAR", (7, 16)), rand("BIPOLAR", (16, 4))
    x[x == 0] = 1
    w[w == 0] = -1
    thr = RNG.integers(0, 17, size=(4, 1)).astype(np.float32)
    (y,) = op.execute([x, w, thr])
    ref = ref_mvau(x, w, thr, xnor=True, bipolar_out=True)
    assert set(np.unique(y)) <= {-1.0, 1.0}
    assert np.array_equal(y, ref)
    (acc,) = mvau(binaryXnorMode=1, inputDataType="BIPOLAR", weightDataType="BIPOLAR", outputDataType="UINT5",
                  noActivation=1, MW=16, MH=4).execute([x, w])
    assert np.array_equal(acc, ref_mvau(x, w, xnor=True))


def test_output_overflow_is_refused():
    op = mvau(noActivation=1, outputDataType="INT4")
    x, w = np.full((1, 8), 7, np.float32), np.full((8, 6), 3, np.float32)
    with pytest.raises(ValueError, match="MVAU_0.*exceeds outputDataType INT4"):
        op.execute([x, w])


@pytest.mark.parametrize("pe,simd,vec", [(1, 1, [1]), (2, 4, [1]), (3, 8, [1, 3, 3]), (6, 2, [2])])
def test_cycles_equal_token_schedule_firings(pe, simd, vec):
    op = mvau(PE=pe, SIMD=simd, numInputVectors=vec)
    ts = op.token_schedule()
    assert ts.firings == op.cycles() == (6 // pe) * (8 // simd) * int(np.prod(vec))
    assert ts.words_in() == int(np.prod(vec)) * 8 // simd      # input read only while nf == 0
    assert ts.words_out() == int(np.prod(vec)) * 6 // pe
    sf = 8 // simd
    assert ts.reads[0, :sf].all() and not ts.reads[0, sf:].any()
    assert np.flatnonzero(ts.writes[0]).tolist() == list(range(sf - 1, ts.period, sf))


def test_stream_widths_and_folding_checks():
    op = mvau(PE=3, SIMD=4)
    assert op.instream_width() == 16 and op.outstream_width() == 12 and op.weightstream_width() == 36
    assert op.verify_node() == []
    assert op.legal_folding() == {"PE": [1, 2, 3, 6], "SIMD": [1, 2, 4, 8]}
    assert "PE=4 must divide 6" in mvau(PE=4).verify_node()[0]
    wide = mvau(MW=4096, MH=4096, SIMD=1024, PE=4, weightDataType="INT2")
    assert "8191" in wide.verify_node()[0]
    assert max(wide.legal_folding()["SIMD"]) == 512 and max(wide.legal_folding()["PE"]) == 2


def test_finn_unit_res_estimate_current_formula():
    # tests/fpgadataflow/test_fpgadataflow_res_estimate.py config (MW=MH=4, INT2, PE=SIMD=1); with the
    # current formula it gives 315 LUT (lut) and 311 LUT + 1 DSP (dsp), docs/finn.md §5.6
    op = mvau(MW=4, MH=4, inputDataType="INT2", weightDataType="INT2", outputDataType="INT2", ActVal=-2,
              resType="lut")
    assert op.resources(CostModel.FINN).LUT == 315
    op.set_nodeattr("resType", "dsp")
    r = op.resources(CostModel.FINN)
    assert (r.LUT, r.DSP) == (311, 1)
    with pytest.raises(NotImplementedError):
        op.resources(CostModel.CALIBRATED)


def test_execute_onnx_runs_graph_of_mvau_and_thresholding():
    w0, w1 = rand("INT2", (12, 8)), rand("INT2", (8, 4))
    t_in = np.sort(RNG.integers(-5, 5, size=(12, 3)), axis=1).astype(np.float32)
    t0 = np.sort(RNG.integers(-10, 10, size=(8, 3)), axis=1).astype(np.float32)
    model = linear_model([
        NodeSpec("Thresholding", dict(NumChannels=12, PE=1, numSteps=3, inputDataType="INT8",
                                      outputDataType="UINT2"), [t_in]),
        NodeSpec("MVAU", dict(MW=12, MH=8, PE=2, SIMD=3, inputDataType="UINT2", weightDataType="INT2",
                              outputDataType="UINT2", noActivation=0), [w0, t0]),
        NodeSpec("MVAU", dict(MW=8, MH=4, PE=1, SIMD=1, inputDataType="UINT2", weightDataType="INT2",
                              outputDataType="INT32", noActivation=1)),
    ])
    model.set_initializer("MVAU_1_param0", w1)  # noActivation node takes W only
    model.graph.node[2].input.append("MVAU_1_param0")
    x = rand("INT8", (1, 12))
    y = execute_onnx(model, {"global_in": x})["global_out"]
    h = (x[..., :, None] >= t_in[None]).sum(-1)
    ref = ref_mvau(ref_mvau(h, w0, t0), w1)
    assert np.array_equal(y, ref)
    assert [n.name for n in model.graph.node] == ["Thresholding_0", "MVAU_0", "MVAU_1"]


def test_flattened_feature_map_is_read_in_stream_order():
    # a dense layer after a (2, 2, 2) feature map: MW = 8, the stream carries the map pixel by pixel
    op = mvau(noActivation=1, outputDataType="INT32")
    x, w = rand("INT4", (5, 2, 2, 2)), rand("INT3", (8, 6))
    (y,) = op.execute([x, w])
    assert np.array_equal(y, ref_mvau(x.reshape(5, 8), w))
