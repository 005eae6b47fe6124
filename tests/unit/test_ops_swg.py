"""SWG: im2col values vs a naive loop, the replayed HLS loop vs FINN's cycle formula."""

import numpy as np
import pytest
from qonnx.custom_op.registry import getCustomOp

from hw.cost.resources import CostModel
from hw.ops.base import make_hw_node
from hw.ops.swg import swg_hls_flags

RNG = np.random.default_rng(2)


def swg(k=3, ch=4, ifm=6, stride=1, simd=1, **kw):
    ofm = (ifm - k) // stride + 1
    attrs = dict(ConvKernelDim=[k, k], IFMChannels=ch, IFMDim=[ifm, ifm], OFMDim=[ofm, ofm], SIMD=simd,
                 Stride=[stride, stride], inputDataType="INT4", outputDataType="INT4")
    attrs.update(kw)
    return getCustomOp(make_hw_node("SWG", ["x"], ["y"], "SWG_0", **attrs))


def naive_im2col(x, k, s):
    n, h, w, c = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, oh, ow, k * k * c), x.dtype)
    for y in range(oh):
        for xx in range(ow):
            out[:, y, xx, :] = x[:, y * s:y * s + k, xx * s:xx * s + k, :].reshape(n, -1)  # (kh, kw, C) order
    return out


@pytest.mark.parametrize("k,stride,ifm", [(3, 1, 6), (2, 2, 8), (3, 2, 7)])
def test_execute_matches_naive_im2col(k, stride, ifm):
    op = swg(k=k, stride=stride, ifm=ifm)
    x = RNG.integers(-8, 8, size=(3, ifm, ifm, 4)).astype(np.float32)
    (y,) = op.execute([x])
    assert np.array_equal(y, naive_im2col(x, k, stride))
    assert y.shape[1:] == op.normal_output_shape()[1:]


@pytest.mark.parametrize("k,stride,ifm,ch,simd", [(3, 1, 32, 3, 3), (3, 1, 10, 8, 2), (2, 2, 8, 4, 1), (4, 2, 10, 2, 1)])
def test_firings_equal_finn_cycles_and_move_every_word(k, stride, ifm, ch, simd):
    op = swg(k=k, ch=ch, ifm=ifm, stride=stride, simd=simd)
    ts = op.token_schedule()
    assert ts.firings == op.cycles()
    assert ts.words_in() == ifm * ifm * ch // simd
    assert ts.words_out() == op.words_out()
    cf, ofm = ch // simd, op.a("OFMDim")[0]
    assert ts.reads[0, :ifm * k * cf].all() and not ts.writes[0, :ifm * k * cf].any()  # rows buffered first


@pytest.mark.parametrize("k,stride,ifm", [(3, 2, 9), (5, 2, 11), (3, 1, 8)])
def test_loop_is_periodic_over_frames(k, stride, ifm):
    ofm = (ifm - k) // stride + 1
    r1, w1 = swg_hls_flags(k, stride, ifm, ofm, 2, frames=1)
    r3, w3 = swg_hls_flags(k, stride, ifm, ofm, 2, frames=3)
    assert np.array_equal(np.tile(r1, 3), r3) and np.array_equal(np.tile(w1, 3), w3)
    assert r1.sum() == ifm * ifm * 2 and w1.sum() == ofm * ofm * k * k * 2


def test_kernel_stride_variant_counts():
    op = swg(k=3, stride=2, ifm=9)
    ts = op.token_schedule()
    # ConvolutionInputGenerator_kernel_stride runs (IFM·K·cf) + (OFM-1)·max + max(write, OFM) iterations
    assert ts.firings == 9 * 3 * 4 + 3 * max(4 * 9 * 4, 2 * 9 * 4) + max(4 * 9 * 4, 4)
    assert ts.words_in() == 9 * 9 * 4 and ts.words_out() == 16 * 9 * 4


def test_refuses_what_hls_cannot_build():
    assert "square kernel" in swg(ConvKernelDim=[3, 1]).verify_node()[0]
    assert "square kernel" in swg(Dilation=[2, 2]).verify_node()[0]
    assert "SIMD=3 must divide 4" in swg(simd=3).verify_node()[0]
    assert swg(simd=4).verify_node() == []


def test_finn_hls_resources():
    # hls/convolutioninputgenerator_hls.py 2D: depth = ifm·C/SIMD = 6·4 = 24 -> width 36
    op = swg(ram_style="block")
    assert op.resources(CostModel.FINN).BRAM_18K == (3 + 1) * 1 * 1
    op = swg(ram_style="distributed")
    r = op.resources(CostModel.FINN)
    assert (r.LUT, r.BRAM_18K) == (300 + 4 * 1 * 4 * 1, 0)
    op = swg(ram_style="ultra", simd=32, ch=32)  # 32·4 bits -> ceil(128/64) = 2
    assert op.resources(CostModel.FINN).URAM == 4 * 2 * 1
