"""The hls4ml plan of the issue-15 ops on small hand-built graphs (no g++): what each maps to, and the
named refusals where hls4ml cannot express the construct (each with its fixed twin planned, so the
refusal is about the construct named and nothing else). The C-sims are in the recipes' tests."""

from __future__ import annotations

import numpy as np
import pytest

from hw.ops.graph import NodeSpec, linear_model
from toolchain.backends.hls4ml import dense_kind, hls4ml_config, HLSOptions
from toolchain.backends.plan import AccPoolLayer, plan_hls4ml
from toolchain.backends.refusal import BackendRefusal

RNG = np.random.default_rng(15)


def swg(c, depthwise, dt="UINT4"):
    return NodeSpec("SWG", dict(ConvKernelDim=[3, 3], IFMChannels=c, IFMDim=[5, 5], OFMDim=[3, 3], SIMD=1,
                                Stride=[1, 1], inputDataType=dt, outputDataType=dt, depthwise=depthwise))


def vvau(c, **extra):
    attrs = {**dict(PE=1, SIMD=1, Dim=[3, 3], Channels=c, Kernel=[3, 3], inputDataType="UINT4", weightDataType="INT4",
                    outputDataType="INT12", accDataType="INT12", noActivation=1), **extra}
    return NodeSpec("VVAU", attrs, [RNG.integers(-8, 8, (c, 1, 3, 3)).astype(float)])


def mvau(mw, mh, vec):
    attrs = dict(MW=mw, MH=mh, PE=1, SIMD=1, inputDataType="UINT4", weightDataType="INT4", outputDataType="INT16",
                 accDataType="INT16", noActivation=1, numInputVectors=list(vec))
    return NodeSpec("MVAU", attrs, [RNG.integers(-8, 8, (mw, mh)).astype(float)])


def test_a_depthwise_window_and_vvau_plan_as_one_depthwise_conv2d(tmp_path):
    model = linear_model([swg(4, 1), vvau(4)])
    plan = plan_hls4ml(model)
    dw = plan.layers[1]
    assert dw.ir_nodes == ("SWG_0", "VVAU_0") and dense_kind(dw) == "DepthwiseConv2D" and dw.shape == (3, 3, 4)
    _, layers = hls4ml_config(plan, tmp_path, HLSOptions())
    # hls4ml's depthwise kernel (kh, kw, C, 1) flattened is weights[tap·C + c]; the VVAU's is W[c, 0, kh, kw]
    w = model.get_initializer("VVAU_0_param0")
    assert np.array_equal(layers[1]["depthwise_data"][..., 0], w[:, 0].transpose(1, 2, 0))


def test_a_global_acc_pool_plans_as_the_sum_in_its_output_type():
    spec = NodeSpec("GlobalAccPool", dict(NumChannels=4, PE=1, inputDataType="UINT4", numInputVectors=[1, 4, 4]))
    plan = plan_hls4ml(linear_model([spec]))
    pool = plan.layers[1]
    assert isinstance(pool, AccPoolLayer) and pool.pixels == 16 and pool.shape == (4,)
    assert pool.out.hw.hls == "ap_uint<8>"  # 16 · 15 = 240: FINN's get_output_datatype, UINT8


@pytest.mark.parametrize("broken, fixed, match", [
    ([swg(4, 1), mvau(36, 2, (1, 3, 3))], [swg(4, 1), vvau(4)],
     r"SWG_0: a depthwise sliding window feeding the MVAU MVAU_0 is not expressible in hls4ml; feed a depthwise "
     r"window generator to a VVAU"),
    ([swg(4, 0), vvau(4)], [swg(4, 1), vvau(4)],
     r"VVAU_0: a VVAU not fed by a depthwise sliding-window generator is not expressible in hls4ml"),
    ([swg(4, 1), vvau(4, mem_mode="external")], [swg(4, 1), vvau(4, mem_mode="internal_embedded")],
     r"VVAU_0: external weights is not expressible in hls4ml; use mem_mode internal_embedded"),
    ([swg(4, 1), vvau(4, accDataType="INT8", outputDataType="INT8")], [swg(4, 1), vvau(4)],
     r"VVAU_0: accDataType INT8 for the accumulator range \[-\d+, \d+\].*widen accDataType"),
])
def test_named_refusals_and_their_fixes(broken, fixed, match):
    with pytest.raises(BackendRefusal, match=match):
        plan_hls4ml(linear_model(broken))
    plan_hls4ml(linear_model(fixed))
