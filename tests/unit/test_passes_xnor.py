"""Bipolar x bipolar layers become XNOR-popcount MVAUs: thresholds shift from the dot product
(dot = 2·popcount - K) to the popcount, a bare popcount output maps back through hil_io."""

from __future__ import annotations

import itertools

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from tests.unit.test_passes_common import QGraph
from toolchain.lower import lower_model, verify
from toolchain.passes.common import get_io

K = 7


def xnor_model():
    rng = np.random.default_rng(5)
    g = QGraph([1, K])
    x = g.bipolar("global_in")
    h = g.gemm(x, g.weight(rng.choice([-1.0, 1.0], size=(6, K)), bits=1))
    bn = g.batchnorm(h, gamma=[1.0, -0.7, 0.3, 2.0, -1.0, 0.9], beta=[0.2, -0.4, 0.0, 1.1, 0.5, -0.3],
                     mean=[0.0, 1.0, -1.0, 0.5, 2.0, -3.0], var=[1.0, 2.0, 3.0, 0.5, 1.0, 4.0])
    y = g.bipolar(bn)
    return g.build(g.gemm(y, g.weight(rng.choice([-1.0, 1.0], size=(4, 6)), bits=1)))


ALL_INPUTS = np.array(list(itertools.product([-1.0, 1.0], repeat=K)), dtype=np.float32)


def test_bipolar_layers_become_xnor_mvaus_and_stay_exact():
    src = xnor_model()
    df = lower_model(src)
    assert verify(src, df, ALL_INPUTS) == {"samples": 2**K, "mismatches": 0}
    mvaus = [getCustomOp(n) for n in df.graph.node if n.op_type == "MVAU"]
    assert [m.get_nodeattr("binaryXnorMode") for m in mvaus] == [1, 1]
    assert [m.get_nodeattr("noActivation") for m in mvaus] == [0, 1]
    first = mvaus[0]
    assert first.get_nodeattr("outputDataType") == "BIPOLAR"
    thr = df.get_initializer(first.onnx_node.input[2])
    assert thr.shape == (6, 1) and 0 <= thr.min() and thr.max() <= K + 1  # popcount domain
    # the classifier outputs a popcount in [0, 6]; y = 2·popcount - 6
    assert mvaus[1].get_nodeattr("outputDataType") == DataType.get_smallest_possible(6).name
    io = get_io(df)
    assert (io["output_scale"], io["output_bias"]) == (2.0, -6.0)


def test_popcount_thresholds_are_the_shifted_dot_thresholds():
    """Per channel, the source's BipolarQuant output is +1 exactly when the popcount of the
    (sign-absorbed) weights reaches the threshold: popcount = (s·dot + K)/2, s = -1 on the channels
    whose negative gamma was absorbed into the weights (read from the source model itself)."""
    from qonnx.core.onnx_exec import execute_onnx

    src = xnor_model()
    df = lower_model(src)
    mvau = [n for n in df.graph.node if n.op_type == "MVAU"][0]
    thr = df.get_initializer(mvau.input[2])[:, 0]
    gemm = [n for n in src.graph.node if n.op_type == "Gemm"][0]
    bn = [n for n in src.graph.node if n.op_type == "BatchNormalization"][0]
    act_name = src.find_consumer(bn.output[0]).output[0]
    w_src = np.sign(src.get_initializer(src.find_producer(gemm.input[1]).input[0])).T
    flip = np.sign(df.get_initializer(mvau.input[1]))[0] * w_src[0]
    np.testing.assert_array_equal(flip, [1, -1, 1, 1, -1, 1])  # the negative gammas
    for x in ALL_INPUTS:
        ctx = execute_onnx(src, {"global_in": x[None]}, return_full_exec_context=True)
        dot, act = ctx[gemm.output[0]][0], ctx[act_name][0]
        np.testing.assert_array_equal(act > 0, (flip * dot + K) / 2 >= thr)
