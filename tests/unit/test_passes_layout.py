"""The conv path: channels-last, Conv -> [FMPadding +] SWG + MVAU, MaxPool -> StreamingMaxPool, the
NCHW flatten before the first dense layer absorbed into its weight rows."""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp

from tests.unit.test_passes_common import QGraph, int_inputs
from toolchain.errors import UserError
from toolchain.lower import front_steps, lower_model, prepare, stream_inputs, verify
from toolchain.passes.channels_last import ToChannelsLast


def conv_net(pads=(0, 0, 0, 0), stride=1, bipolar_input=False, pool=(2, 2), size=8, dense_in=None):
    """input -> Conv 3x3 (2 -> 3 channels) -> Relu -> UINT3 -> MaxPool -> flatten -> dense 4."""
    rng = np.random.default_rng(7)
    g = QGraph([1, 2, size, size])
    x = g.bipolar("global_in") if bipolar_input else g.quant("global_in", 2**-5, 8)
    w = g.weight(rng.integers(-7, 8, size=(3, 2, 3, 3)) * 0.125, 0.125, 4)
    h = g.node("Conv", [x, w], kernel_shape=[3, 3], pads=list(pads), strides=[stride, stride])
    a = g.quant(g.node("Relu", [h]), 0.25, 3, signed=False)
    p = g.node("MaxPool", [a], kernel_shape=[pool[0], pool[0]], strides=[pool[1], pool[1]])
    flat = g.node("Reshape", [p, g.init(np.array([1, -1]))])
    out = g.gemm(flat, g.weight(rng.integers(-7, 8, size=(4, dense_in)) * 0.25, 0.25, 4))
    return g.build(out)


def test_flatten_of_a_feature_map_permutes_the_dense_weight_rows():
    # 8x8 -> conv 6x6 -> pool 3x3: the flatten orders 3·3·3 = 27 features (c, h, w) in NCHW, (h, w, c) in NHWC
    src = conv_net(dense_in=27)
    model = prepare(src)
    for step in front_steps():
        model = model.transform(step)
    before = model.get_initializer([n for n in model.graph.node if n.op_type == "MatMul"][-1].input[1]).copy()
    nhwc = model.transform(ToChannelsLast())
    after = nhwc.get_initializer([n for n in nhwc.graph.node if n.op_type == "MatMul"][-1].input[1])
    perm = np.arange(27).reshape(3, 3, 3).transpose(1, 2, 0).ravel()  # (h, w, c) position -> (c, h, w) index
    np.testing.assert_array_equal(after, before[perm])
    x = int_inputs(src, -128, 127, 12, 2**-5)
    xi = stream_inputs(src, nhwc, x)
    for k in range(len(x)):  # qonnx's Im2Col executes one sample at a time
        want = execute_onnx(src, {"global_in": x[k:k + 1]})["global_out"]
        got = execute_onnx(nhwc, {"global_in": xi[k:k + 1]})["global_out"]
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("pads, stride, size", [((1, 1, 1, 1), 1, 8), ((0, 0, 0, 0), 2, 9), ((0, 0, 0, 0), 1, 6)])
def test_conv_lowers_to_swg_and_mvau(pads, stride, size):
    out = (size + pads[0] + pads[2] - 3) // stride + 1  # 8, 4, 4
    # pool the whole map: a flatten of more than one pixel needs the MVAU to read (N, H, W, C) as (N, H·W·C)
    src = conv_net(pads=pads, stride=stride, size=size, dense_in=3, pool=(out, out))
    df = lower_model(src)
    ops = [n.op_type for n in df.graph.node if n.op_type not in ("FIFO", "DWC")]
    assert ops == (["FMPadding"] if any(pads) else []) + ["SWG", "MVAU", "StreamingMaxPool", "MVAU"]
    swg = getCustomOp([n for n in df.graph.node if n.op_type == "SWG"][0])
    assert swg.get_nodeattr("Stride") == [stride, stride]
    assert swg.get_nodeattr("IFMDim") == [size + pads[0] + pads[2]] * 2
    assert verify(src, df, int_inputs(src, -128, 127, 300, 2**-5))["mismatches"] == 0


def test_asymmetric_padding_is_refused_by_name():
    src = conv_net(pads=(1, 0, 1, 0), dense_in=3, pool=(8, 8))  # 8x6 output: the SWG needs square images
    with pytest.raises(UserError, match=r"Conv_\d+ \(Conv\):.*square"):
        lower_model(src)


def test_padding_a_bipolar_input_is_refused():
    src = conv_net(pads=(1, 1, 1, 1), bipolar_input=True, dense_in=3, pool=(8, 8))
    with pytest.raises(UserError, match=r"Conv_\d+ \(Conv\): zero padding of a BIPOLAR input"):
        lower_model(src)


def test_overlapping_max_pool_is_refused():
    src = conv_net(pool=(3, 1), dense_in=3 * 16)
    with pytest.raises(UserError, match=r"MaxPool_\d+ \(MaxPoolNHWC\): stride \[1, 1\] differs from kernel"):
        lower_model(src)
