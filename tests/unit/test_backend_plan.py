"""hls4ml plan: the rewrites (bit streams, xnor popcount, threshold rounding) give the emulator's values,
types are the IR's, and what hls4ml cannot express is refused naming the node. No compiler here: the
plan is interpreted with numpy the way hls4ml's kernels compute (Dense = x·W + b in the accumulator
type, wrapping; HilThreshold = count of x >= T); tests/equiv compiles the real C++."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from hw.emulator.values import execute_dataflow
from hw.ops.graph import NodeSpec, linear_model
from toolchain.backends.plan import (AddLayer, BackendRefusal, DenseLayer, FlattenLayer, PadLayer, PoolLayer,
                                    ThresholdLayer, plan_hls4ml)
from toolchain.backends.reuse import resource_rf_valid
from toolchain.backends.precision import Enc, IntType, stream_type

RNG = np.random.default_rng(0)


def mvau(mw, mh, idt, wdt, odt, acc, pe=1, simd=1, steps=0, act=0, xnor=0, vec=(1,), w=None, **extra):
    if w is None:
        w = RNG.choice([-1.0, 1.0], (mw, mh)) if wdt in ("BIPOLAR",) else \
            RNG.integers(DataType[wdt].min(), DataType[wdt].max() + 1, (mw, mh)).astype(float)
    attrs = dict(MW=mw, MH=mh, PE=pe, SIMD=simd, inputDataType=idt, weightDataType=wdt, outputDataType=odt,
                 accDataType=acc, binaryXnorMode=xnor, noActivation=0 if steps else 1, ActVal=act,
                 numInputVectors=list(vec), **extra)
    inits = [w]
    if steps:
        centre = mw / 2 if xnor else 0.0
        inits.append(np.sort(RNG.normal(centre, 3 * np.sqrt(mw) + 1, (mh, steps)), axis=1))
    return NodeSpec("MVAU", attrs, inits)


def swg(k, c, i, dt):
    return NodeSpec("SWG", dict(ConvKernelDim=[k, k], IFMChannels=c, IFMDim=[i, i], OFMDim=[i - k + 1] * 2, SIMD=1,
                                Stride=[1, 1], inputDataType=dt, outputDataType=dt))


# ---- numpy interpretation of a plan, as hls4ml's kernels compute it ------------------------------

def _wrap(values: np.ndarray, t: IntType) -> np.ndarray:
    span = 2**t.bits
    return (values - t.lo) % span + t.lo


def run_plan(plan, x):
    outs = {plan.layers[0].name: plan.input.enc.to_hw(x)}
    for layer in plan.layers[1:]:
        y = outs[layer.inputs[0]]
        if isinstance(layer, AddLayer):
            y = y + outs[layer.inputs[1]]
        elif isinstance(layer, DenseLayer):
            if layer.conv is not None and layer.conv.k > 1:
                g = layer.conv
                r = np.arange(g.out_h)[:, None] * g.stride + np.arange(g.k)[None]
                y = y[:, r[:, None, :, None], r[None, :, None, :], :].reshape(len(y), g.out_h, g.out_w, -1)
            acc = y @ layer.weight.astype(np.float64) + layer.bias
            y = _wrap(_wrap(acc, layer.accum_t), layer.out.hw)
        elif isinstance(layer, ThresholdLayer):
            count = (y[..., None] >= layer.thresholds).sum(-1)
            y = layer.out_scale * count + layer.out_bias
        elif isinstance(layer, PoolLayer):
            n, h, w, c = y.shape
            k = layer.k
            y = y.reshape(n, h // k, k, w // k, k, c).max(axis=(2, 4))
        elif isinstance(layer, PadLayer):
            t, lft, b, r = layer.pads
            y = np.pad(y, ((0, 0), (t, b), (lft, r), (0, 0)))
        elif isinstance(layer, FlattenLayer):  # the io_stream order: pixel by pixel, channels within
            y = y.reshape(len(y), -1)
        assert layer.out.hw.covers(y.min(), y.max()), layer.name
        outs[layer.name] = y
    return plan.output.enc.from_hw(y)


def check_exact(specs, n=300):
    return check_model_exact(linear_model(specs), n)


def check_model_exact(model, n=300):
    plan = plan_hls4ml(model)
    lo, hi = plan.input.lo, plan.input.hi
    shape = (n,) + plan.layers[0].shape
    x = RNG.choice([-1.0, 1.0], shape) if plan.input.enc is Enc.BIT else RNG.integers(lo, hi + 1, shape).astype(float)
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    ref = execute_dataflow(model, {iname: x})[oname]
    got = run_plan(plan, x)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    assert len(np.unique(ref.reshape(n, -1), axis=0)) > 1  # the outputs carry information
    return plan


# ---- types ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("lo, hi, want", [
    (-8, 7, IntType(4, True)), (0, 15, IntType(4, False)), (0, 1, IntType(1, False)), (-1, 0, IntType(1, True)),
    (-2, 1, IntType(2, True)), (0, 0, IntType(1, False)), (-9, 7, IntType(5, True)), (-8, 8, IntType(5, True))])
def test_narrowest_integer_type(lo, hi, want):
    assert IntType.covering(lo, hi) == want
    assert want.covers(lo, hi)


def test_stream_types_follow_the_ir_datatypes():
    assert stream_type("INT4").hw.hls == "ap_int<4>"
    assert stream_type("UINT7").hw.hls == "ap_uint<7>"
    assert stream_type("BINARY").hw.hls == "ap_uint<1>"
    bip = stream_type("BIPOLAR")
    assert bip.hw.hls == "ap_uint<1>" and bip.enc is Enc.BIT
    np.testing.assert_array_equal(bip.enc.to_hw(np.array([-1.0, 1.0])), [0.0, 1.0])


def test_layer_types_are_the_ir_types():
    plan = plan_hls4ml(linear_model([mvau(16, 8, "UINT4", "INT3", "UINT2", "INT12", steps=3),
                                     mvau(8, 4, "UINT2", "INT4", "INT10", "INT10")]))
    d0, t0, d1 = plan.layers[1:]
    assert plan.input.hw.hls == "ap_uint<4>"
    assert (d0.weight_t.hls, d0.accum_t.hls, d0.out.hw.hls) == ("ap_int<3>", "ap_int<12>", "ap_int<12>")
    assert t0.out.hw.hls == "ap_uint<2>" and t0.thresholds.shape == (8, 3)
    assert (d1.weight_t.hls, d1.accum_t.hls, d1.out.hw.hls) == ("ap_int<4>", "ap_int<10>", "ap_int<10>")


# ---- exactness of the rewrites ---------------------------------------------------------------------

def test_mlp_with_thresholds_and_actval():
    check_exact([mvau(16, 32, "UINT4", "INT4", "UINT4", "INT16", steps=15, pe=4, simd=4),
                 mvau(32, 16, "UINT4", "INT4", "INT3", "INT16", steps=7, act=-4),
                 mvau(16, 5, "INT3", "INT4", "INT16", "INT16", pe=5, simd=2)])


def test_binary_xnor_popcount_and_bipolar_streams():
    plan = check_exact([mvau(32, 16, "BIPOLAR", "BIPOLAR", "BIPOLAR", "UINT6", steps=1, xnor=1),
                        mvau(16, 16, "BIPOLAR", "INT4", "BIPOLAR", "INT8", steps=1, pe=4),
                        mvau(16, 8, "BIPOLAR", "BIPOLAR", "UINT5", "UINT5", xnor=1)])
    assert plan.input.enc is Enc.BIT and plan.layers[1].weight_t == IntType(2, True)
    assert plan.layers[3].weight_t == IntType(5, True)  # 2·W for a bipolar input into INT4 weights


def test_conv_with_padding_and_maxpool():
    pad = NodeSpec("FMPadding", dict(ImgDim=[6, 6], Padding=[1, 1, 1, 1], NumChannels=2, SIMD=1, inputDataType="INT4"))
    pool = NodeSpec("StreamingMaxPool", dict(ImgDim=[6, 6], PoolDim=[2, 2], NumChannels=8, dataType="UINT3"))
    plan = check_exact([pad, swg(3, 2, 8, "INT4"), mvau(18, 8, "INT4", "INT4", "UINT3", "INT12", steps=7, pe=2,
                                                        vec=(1, 6, 6)),
                        pool, mvau(8, 4, "UINT3", "INT4", "INT9", "INT9", vec=(1, 3, 3))], n=100)
    dense = [layer for layer in plan.layers if isinstance(layer, DenseLayer)]
    assert dense[0].conv.k == 3 and dense[0].ir_nodes == ("SWG_0", "MVAU_0") and dense[1].conv.k == 1


def test_dense_after_a_feature_map_larger_than_1x1_reads_it_flattened():
    """conv -> 4x4x4 map -> dense, and max-pool -> 2x2x4 map -> dense: Reshape (h, w, c) + Dense."""
    conv = [swg(3, 2, 6, "INT4"), mvau(18, 4, "INT4", "INT4", "UINT3", "INT12", steps=7, vec=(1, 4, 4))]
    plan = check_exact(conv + [mvau(64, 5, "UINT3", "INT4", "INT12", "INT12")], n=200)
    flat = [layer for layer in plan.layers if isinstance(layer, FlattenLayer)]
    assert [(f.name, f.shape, f.ir_tensor) for f in flat] == [("MVAU_1_flatten", (64,), None)]
    assert plan.layers[-1].conv is None and plan.layers[-1].shape == (5,)
    pool = NodeSpec("StreamingMaxPool", dict(ImgDim=[4, 4], PoolDim=[2, 2], NumChannels=4, dataType="UINT3"))
    plan = check_exact(conv + [pool, mvau(16, 3, "UINT3", "INT4", "INT12", "INT12", steps=3, pe=3)], n=200)
    assert [type(layer) for layer in plan.layers[-3:]] == [FlattenLayer, DenseLayer, ThresholdLayer]


def test_standalone_thresholds_on_bipolar_and_integer_streams():
    t_bip = RNG.integers(-2, 3, (16, 1)).astype(float)  # x = ±1 against -2..2: (T + 1) / 2 often a half
    t_bip[:4, 0] = [-1, 0, 1, 0.5]
    thr_bip = NodeSpec("Thresholding", dict(NumChannels=16, numSteps=1, inputDataType="BIPOLAR",
                                            outputDataType="BINARY"), [t_bip])
    thr_int = NodeSpec("Thresholding", dict(NumChannels=8, numSteps=2, inputDataType="INT8", outputDataType="UINT2"),
                       [np.sort(RNG.normal(0, 20, (8, 2)), axis=1)])
    check_exact([thr_bip, mvau(16, 8, "BINARY", "INT4", "INT8", "INT8"), thr_int])


def test_hls4ml_product_corner_cases_get_wider_weight_types():
    w = np.full((4, 4), -2.0)
    w[0] = 1.0
    plan = check_exact([mvau(4, 4, "UINT3", "INT2", "INT8", "INT8", w=w)], n=50)
    assert plan.layers[1].weight_t == IntType(3, True)  # ap_int<2> would select hls4ml's ternary product
    wb = RNG.integers(0, 2, (6, 3)).astype(float)
    wb[0] = 1.0
    plan = check_exact([mvau(6, 3, "BINARY", "BINARY", "UINT3", "UINT3", w=wb)], n=50)
    assert plan.layers[1].weight_t == IntType(2, False)  # ap_uint<1> x ap_uint<1> is cast as an xnor popcount


def test_label_select_runs_on_the_host():
    ls = NodeSpec("LabelSelect", dict(Labels=5, PE=1, K=1, inputDataType="INT12"))
    plan = plan_hls4ml(linear_model([mvau(8, 5, "UINT4", "INT4", "INT12", "INT12"), ls]))
    assert plan.host_label_select == "LabelSelect_0" and plan.layers[-1].name == "MVAU_0"


# ---- refusals ----------------------------------------------------------------------------------------

def test_reuse_factor_rule_and_strategy():
    assert resource_rf_valid(16, 64, 1024) and resource_rf_valid(32, 5, 160) and not resource_rf_valid(32, 5, 80)
    plan = plan_hls4ml(linear_model([mvau(32, 10, "UINT4", "INT4", "INT16", "INT16", simd=4)]))
    layer = next(l for l in plan.layers if l.name == "MVAU_0")
    assert (layer.reuse, layer.strategy) == (80, "Latency")  # no valid Resource RF: Latency, same RF


CONV = [swg(3, 2, 6, "INT4"), mvau(18, 4, "INT4", "INT4", "UINT3", "INT12", steps=7, vec=(1, 4, 4))]


@pytest.mark.parametrize("broken, fixed, match", [
    # a dense layer after a 4x4x4 map must read all 64 values (MW=64) ...
    (lambda: CONV + [mvau(32, 5, "UINT3", "INT4", "INT12", "INT12")],
     lambda: CONV + [mvau(64, 5, "UINT3", "INT4", "INT12", "INT12")],
     r"MVAU_1: an MVAU with MW=32 and numInputVectors=\[1\] after a feature map of shape \(4, 4, 4\).*"
     r"set numInputVectors=\[1, 4, 4\] with MW=4 for a pointwise layer, or MW=64 for a dense layer"),
    # ... and a pointwise one the map's own size
    (lambda: CONV + [mvau(4, 5, "UINT3", "INT4", "INT12", "INT12", vec=(1, 2, 8))],
     lambda: CONV + [mvau(4, 5, "UINT3", "INT4", "INT12", "INT12", vec=(1, 4, 4))],
     r"MVAU_1: an MVAU over numInputVectors=\[1, 2, 8\].*set numInputVectors=\[1, 4, 4\] and MW=4"),
    # a pointwise layer over a 1-D map of length 8: hls4ml convolves it as a 1x8 map
    (lambda: [mvau(4, 3, "INT4", "INT4", "INT12", "INT12", vec=(1, 8))],
     lambda: [mvau(4, 3, "INT4", "INT4", "INT12", "INT12", vec=(1, 1, 8))],
     r"MVAU_0: an MVAU over numInputVectors=\[1, 8\] on a stream of shape \(8, 4\) \(not a 2-D feature map\).*"
     r"give a 1-D map of length L the shape \(1, L, C\) and numInputVectors=\[1, 1, L\]"),
    (lambda: [swg(3, 2, 6, "INT4"), mvau(16, 4, "INT4", "INT4", "INT12", "INT12", vec=(1, 4, 4))],
     lambda: [swg(3, 2, 6, "INT4"), mvau(18, 4, "INT4", "INT4", "INT12", "INT12", vec=(1, 4, 4))],
     r"MVAU_0: MW=16 after SWG_0 \(3x3x2 windows\).*set MW=18"),
    (lambda: [mvau(8, 4, "UINT4", "INT4", "INT16", "INT16"), mvau(6, 2, "INT16", "INT4", "INT24", "INT24")],
     lambda: [mvau(8, 4, "UINT4", "INT4", "INT16", "INT16"), mvau(4, 2, "INT16", "INT4", "INT24", "INT24")],
     r"MVAU_1: an MVAU with MW=6 after a stream of 4 values per vector.*set MW=4"),
    (lambda: [mvau(8, 4, "UINT4", "INT4", "INT16", "INT6")], lambda: [mvau(8, 4, "UINT4", "INT4", "INT16", "INT16")],
     r"MVAU_0: accDataType INT6 .*widen accDataType"),
    (lambda: [mvau(8, 4, "UINT4", "INT4", "INT6", "INT16")], lambda: [mvau(8, 4, "UINT4", "INT4", "INT16", "INT16")],
     r"MVAU_0: outputDataType INT6 .*set outputDataType to the accumulator type"),
    (lambda: [mvau(8, 4, "UINT4", "INT4", "INT16", "INT16", mem_mode="external")],
     lambda: [mvau(8, 4, "UINT4", "INT4", "INT16", "INT16", mem_mode="internal_embedded")],
     r"MVAU_0: external or runtime-writeable weights.*use mem_mode internal_embedded"),
    (lambda: [mvau(8, 4, "UINT4", "INT4", "BIPOLAR", "INT16", steps=2)],
     lambda: [mvau(8, 4, "UINT4", "INT4", "BIPOLAR", "INT16", steps=1)],
     r"MVAU_0: a BIPOLAR output from 2 thresholds per channel.*use one threshold per channel"),
    (lambda: [mvau(8, 4, "UINT4", "INT4", "UINT2", "INT16", steps=3, act=1)],
     lambda: [mvau(8, 4, "UINT4", "INT4", "UINT3", "INT16", steps=3, act=1)],
     r"MVAU_0: outputs \[1, 4\] outside outputDataType UINT2.*widen outputDataType"),
])
def test_each_refusal_names_the_construct_and_its_fix_works(broken, fixed, match):
    with pytest.raises(BackendRefusal, match=match) as err:
        plan_hls4ml(linear_model(broken()))
    assert "is not expressible in hls4ml; " in str(err.value)
    check_exact(fixed(), n=100)  # the fix the message names gives an exact plan


def test_label_select_must_be_last():
    ls = NodeSpec("LabelSelect", dict(Labels=5, PE=1, K=1, inputDataType="INT12", outputDataType="UINT3"))
    with pytest.raises(BackendRefusal, match="LabelSelect_0"):
        plan_hls4ml(linear_model([mvau(8, 5, "UINT4", "INT4", "INT12", "INT12"), ls,
                                  mvau(1, 2, "UINT3", "INT4", "INT8", "INT8")]))


def test_residual_fork_and_join_from_the_lowering():
    """lower's residual MLP: DuplicateStreams -> (MVAU | skip) -> AddStreams: the skip stream feeds the
    branch's Dense and the Merge add (hls4ml clones it), the sum is exact in AddStreams' type."""
    from tests.unit.test_passes_residual import residual_mlp
    from toolchain.lower import lower_model

    for join_quant in (False, True):
        plan = check_model_exact(lower_model(residual_mlp(join_quant=join_quant)), n=300)
        add = next(layer for layer in plan.layers if isinstance(layer, AddLayer))
        assert add.name == "AddStreams_0" and add.out.hw == IntType(4, False)  # UINT3 + UINT3
        fork = next(layer for layer in plan.layers if layer.ir_tensor and "MVAU_0" in layer.ir_nodes)
        readers = [layer.name for layer in plan.layers if fork.name in layer.inputs]
        assert readers == ["MVAU_1_acc", "AddStreams_0"]


def test_a_join_of_bipolar_streams_is_refused_with_a_fix():
    dup = NodeSpec("DuplicateStreams", dict(NumChannels=4, PE=1, NumOutputStreams=2, inputDataType="BIPOLAR"))
    add = NodeSpec("AddStreams", dict(NumChannels=4, PE=1, inputDataTypes=["BIPOLAR", "BIPOLAR"]))
    model = linear_model([mvau(8, 4, "UINT4", "INT4", "BIPOLAR", "INT16", steps=1), dup, add])
    dnode, anode = model.graph.node[1], model.graph.node[2]
    dnode.output.append("skip")  # the fork's second stream is the join's second input
    anode.input.append("skip")
    with pytest.raises(BackendRefusal, match=r"AddStreams_0: a sum of BIPOLAR streams .*quantize the joined streams"):
        plan_hls4ml(model)


def test_refusals_of_hand_edited_graphs_name_the_construct_and_a_fix():
    def refused(model, match):
        with pytest.raises(BackendRefusal, match=match):
            plan_hls4ml(model)

    refused(linear_model([swg(3, 2, 6, "INT4")]),
            r"SWG_0: a sliding-window generator at the end of the graph .*end the graph with the MVAU")
    half = RNG.integers(-3, 4, (8, 4)) + 0.5
    refused(linear_model([mvau(8, 4, "UINT4", "INT4", "INT16", "INT16", w=half)]),
            r"MVAU_0: weights with non-integer values .*give it integer values")
    model = linear_model([mvau(8, 4, "UINT4", "INT4", "UINT2", "INT16", steps=3)])
    t = model.get_initializer("MVAU_0_param1").copy()
    t[0, 0] = np.nan
    model.set_initializer("MVAU_0_param1", t)
    refused(model, r"MVAU_0: NaN thresholds .*give every threshold a finite value")
    model = linear_model([mvau(8, 4, "UINT4", "INT4", "INT16", "INT16")])
    model.graph.initializer.remove(model.graph.initializer[0])
    refused(model, r"node MVAU_0 has inputs no node produces .*give every node input a producer node or an initializer")
    model = linear_model([mvau(8, 4, "UINT4", "INT4", "INT16", "INT16")])
    model.graph.node[0].input[1] = ""  # an omitted optional input
    refused(model, r"MVAU_0: a weight matrix that is not an initializer .*make it an initializer")
    model = linear_model([mvau(8, 4, "UINT4", "INT4", "INT16", "INT16")])
    model.graph.node[0].domain = ""
    refused(model, r"MVAU_0: a MVAU node \(domain ''\) .*run `hil lower` on it first")
