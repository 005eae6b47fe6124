"""Thresholding: execution vs numpy reference, cycles vs token schedule, FINN HLS formulas."""

import numpy as np
import pytest
from qonnx.custom_op.registry import getCustomOp

from hw.cost.resources import CostModel
from hw.ops.base import make_hw_node

RNG = np.random.default_rng(1)


def thresholding(**kw):
    attrs = dict(NumChannels=6, PE=1, numSteps=3, inputDataType="INT8", outputDataType="INT2", ActVal=-2)
    attrs.update(kw)
    return getCustomOp(make_hw_node("Thresholding", ["x", "t"], ["y"], "Thresholding_0", **attrs))


def test_execute_matches_reference_per_channel_and_broadcast():
    x = RNG.integers(-128, 128, size=(4, 5, 5, 6)).astype(np.float32)
    thr = np.sort(RNG.integers(-100, 100, size=(6, 3)), axis=1).astype(np.float32)
    (y,) = thresholding(numInputVectors=[4, 5, 5]).execute([x, thr])
    assert np.array_equal(y, (x[..., None] >= thr).sum(-1) - 2)
    (y1,) = thresholding().execute([x, thr[:1]])
    assert np.array_equal(y1, (x[..., None] >= thr[0]).sum(-1) - 2)


def test_bipolar_output():
    x = RNG.integers(-128, 128, size=(9, 6)).astype(np.float32)
    thr = RNG.integers(-10, 10, size=(6, 1)).astype(np.float32)
    (y,) = thresholding(numSteps=1, outputDataType="BIPOLAR", ActVal=0).execute([x, thr])
    assert np.array_equal(y, np.where(x >= thr[:, 0], 1, -1))


def test_range_violation_refused():
    thr = np.zeros((6, 3), np.float32)
    with pytest.raises(ValueError, match="Thresholding_0.*exceeds outputDataType"):
        thresholding(outputDataType="UINT1", ActVal=0).execute([np.ones((1, 6), np.float32), thr])


@pytest.mark.parametrize("pe,vec", [(1, [1]), (2, [1, 4, 4]), (6, [3])])
def test_cycles_equal_firings(pe, vec):
    op = thresholding(PE=pe, numInputVectors=vec)
    ts = op.token_schedule()
    assert ts.firings == op.cycles() == int(np.prod(vec)) * 6 // pe
    assert ts.words_in() == ts.words_out() == op.cycles()
    assert op.instream_width() == 8 * pe and op.outstream_width() == 2 * pe


def test_finn_hls_resources():
    # finn-plus hls/thresholding_hls.py: memory word M = PE·threshold bits·numSteps = 2·8·3;
    # LUT = A·P + M·ceil(TMEM/64) (distributed, TMEM > 1); BRAM = ceil(M/16)·ceil(TMEM/1024) on block
    op = thresholding(NumChannels=128, PE=2, preferred_impl_style="hls")  # FINN's default is the RTL one
    r = op.resources(CostModel.FINN)
    assert (r.LUT, r.BRAM_18K) == (8 * 2 + 48 * 1, 0)
    op.set_nodeattr("ram_style", "block")
    r = op.resources(CostModel.FINN)
    assert (r.LUT, r.BRAM_18K) == (16, 3)
    assert op.legal_folding() == {"PE": [1, 2, 4, 8, 16, 32, 64, 128]}
    assert "PE=5 must divide 128" in thresholding(NumChannels=128, PE=5).verify_node()[0]
