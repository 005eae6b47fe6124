"""The generated standard-ONNX values graph (hw/emulator/onnx_graph.py, the ops' onnx_values) run by
onnxruntime equals every op's `execute` and the compiled plan bit for bit, on hypothesis-drawn designs:
MVAU (binary/XNOR, signed/unsigned, one or many thresholds, no activation), Thresholding, SWG -> MVAU
as one Conv, max-pool, a residual DuplicateStreams/AddStreams pair, a float64 accumulator and one too
wide for float64 that must fall back to the plan. The threshold forms' proofs (hw/ops/_onnx_values.py)
are checked against brute force; the engine (hw/emulator/engine.py) keeps the faster engine and says why."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from hw.emulator.engine import compile_values
from hw.emulator.onnx_graph import compile_onnx
from hw.emulator.plan import compile_plan
from hw.emulator.values import execute_dataflow
from hw.ops._onnx_values import estimate_form, rounding_form, threshold_form
from hw.ops.base import OnnxUnsupported, accumulator_range, dtype_for_range, make_hw_node
from hw.ops.graph import NodeSpec, linear_model, opset_imports
from tests.unit.test_values_plan import (INPUT_TYPES, WEIGHT_TYPES, assert_outputs_equal, draw_ints, mvau_case,
                                         thresholding_case, thresholds)

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_onnx_equals_execute(model, x: np.ndarray):
    """The onnxruntime graph's outputs equal `execute`'s and the plan's (dtype, shape, every value);
    returns the generated graph's op types."""
    name = model.graph.input[0].name
    ref = execute_dataflow(model, {name: x}, compiled=False)
    plan = compile_plan(model)({name: x})
    values = compile_onnx(model)
    for other in (values({name: x}), plan):
        assert_outputs_equal(ref, other, len(x))
    return [n.op_type for n in values.proto.graph.node]


def float64_matmuls(model) -> int:
    g = compile_onnx(model).proto.graph
    doubles = {i.name for i in g.initializer if i.data_type == TensorProto.DOUBLE}
    return sum(n.op_type == "MatMul" and n.input[1] in doubles for n in g.node)


def grid_thresholds(rng, lo: np.ndarray, hi: np.ndarray, steps: int) -> np.ndarray:
    """Thresholds of a uniform quantizer with a per-channel offset, as the lowering makes them: the
    rounding points (k + 1/2)·g + beta_c, on ties alternately one up and one down (round half to even)."""
    g = float(2 ** rng.integers(0, 7))
    beta = rng.uniform(lo.min() - g, max(lo.min() - g, hi.max() - steps * g) + 1, size=(len(lo), 1))
    beta = np.round(beta) + rng.choice([0.0, 0.5], size=beta.shape)  # integer or half: ties happen
    k = np.arange(steps)[None, :]
    t = (k + 0.5) * g + beta
    tie = t == np.round(t)
    return np.where(tie, t + np.where(k % 2 == 0, 1, 0), np.ceil(t))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), mw=st.integers(1, 40), mh=st.integers(1, 12),
       idt=st.sampled_from(INPUT_TYPES), wdt=st.sampled_from(WEIGHT_TYPES), xnor=st.booleans(),
       act=st.sampled_from(["none", "steps", "grid", "bipolar"]), steps=st.integers(1, 70), shared=st.booleans(),
       vec=st.sampled_from([[1], [1, 3], [1, 2, 3]]), flatten=st.booleans(), act_val=st.integers(-4, 2))
def test_mvau_graph_equals_execute(seed, mw, mh, idt, wdt, xnor, act, steps, shared, vec, flatten, act_val):
    grid = (lambda rng, lo, hi, steps, shared: grid_thresholds(rng, lo, hi, steps)) if act == "grid" else None
    model, x = mvau_case(np.random.default_rng(seed), mw, mh, idt, wdt, xnor, act, steps, shared, vec, flatten,
                         act_val, grid)
    ops = assert_onnx_equals_execute(model, x)
    assert "MatMul" in ops


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), channels=st.integers(1, 16), steps=st.integers(1, 300),
       idt=st.sampled_from(INPUT_TYPES), shared=st.booleans(), bipolar=st.booleans(), act_val=st.integers(-3, 3),
       grid=st.booleans())
def test_thresholding_graph_equals_execute(seed, channels, steps, idt, shared, bipolar, act_val, grid):
    make = (lambda rng, lo, hi, steps, shared: grid_thresholds(rng, lo, hi, steps)) if grid else None
    assert_onnx_equals_execute(*thresholding_case(np.random.default_rng(seed), channels, steps, idt, shared, bipolar,
                                                  act_val, make))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 3), s=st.integers(1, 2), extra=st.integers(0, 5),
       ch=st.integers(1, 4), mh=st.integers(1, 6), idt=st.sampled_from(INPUT_TYPES), wdt=st.sampled_from(WEIGHT_TYPES),
       grid=st.booleans(), pool=st.booleans(), xnor=st.booleans())
def test_cnn_graph_equals_execute(seed, k, s, extra, ch, mh, idt, wdt, grid, pool, xnor):
    """SWG -> FIFO -> MVAU (one Conv on the SWG's input) [-> max-pool] -> a dense MVAU on the
    flattened map."""
    rng = np.random.default_rng(seed)
    if xnor:
        idt, wdt = rng.choice(["BINARY", "BIPOLAR"]), "BIPOLAR"
    ifm = k + extra
    ofm = (ifm - k) // s + 1
    pool = pool and ofm % 2 == 0
    mw = k * k * ch
    w = draw_ints(rng, wdt, (mw, mh))
    lo, hi = (np.zeros(mh), np.full(mh, mw)) if xnor else accumulator_range(
        w, float(DataType[idt].min()), float(DataType[idt].max()))
    thr = grid_thresholds(rng, lo, hi, 3) if grid else thresholds(rng, lo, hi, 3, False)
    specs = [NodeSpec("SWG", dict(ConvKernelDim=[k, k], IFMChannels=ch, IFMDim=[ifm, ifm], OFMDim=[ofm, ofm], SIMD=1,
                                  Stride=[s, s], inputDataType=idt, outputDataType=idt)),
             NodeSpec("FIFO", dict(depth=2, shape=[1, ofm, ofm, mw, 1], dataType=idt)),
             NodeSpec("MVAU", dict(MW=mw, MH=mh, PE=1, SIMD=1, inputDataType=idt, weightDataType=wdt,
                                   binaryXnorMode=int(xnor), outputDataType="UINT2", numInputVectors=[1, ofm, ofm]),
                      [w, thr])]
    dim = ofm
    if pool:
        specs.append(NodeSpec("StreamingMaxPool", dict(ImgDim=[ofm, ofm], PoolDim=[2, 2], NumChannels=mh,
                                                       dataType="UINT2")))
        dim = ofm // 2
    w2 = draw_ints(rng, "INT4", (dim * dim * mh, 3))
    specs.append(NodeSpec("MVAU", dict(MW=dim * dim * mh, MH=3, PE=1, SIMD=1, inputDataType="UINT2",
                                       weightDataType="INT4", outputDataType="INT16", accDataType="INT16",
                                       noActivation=1), [w2]))
    model = linear_model(specs)
    ops = assert_onnx_equals_execute(model, draw_ints(rng, idt, (int(rng.integers(1, 6)), ifm, ifm, ch)))
    if "Conv" not in ops:  # onnxruntime's Conv is float32 only: a float64 accumulator takes the im2col
        assert "Gather" in ops and float64_matmuls(model) >= 1
    else:
        assert "Gather" not in ops  # the windows became the Conv, not an im2col copy
    assert ("MaxPool" in ops) == pool


def test_swg_feeding_a_non_mvau_materializes_its_windows():
    """An SWG read by something other than an MVAU (here a Thresholding) gets the Gather im2col."""
    rng = np.random.default_rng(5)
    specs = [NodeSpec("SWG", dict(ConvKernelDim=[2, 2], IFMChannels=3, IFMDim=[5, 5], OFMDim=[2, 2], SIMD=1,
                                  Stride=[2, 2], inputDataType="INT4", outputDataType="INT4")),
             NodeSpec("Thresholding", dict(NumChannels=12, numSteps=2, inputDataType="INT4", outputDataType="UINT2",
                                           numInputVectors=[1, 2, 2]), [np.sort(rng.integers(-8, 8, (12, 2)), 1)])]
    ops = assert_onnx_equals_execute(linear_model(specs), draw_ints(rng, "INT4", (7, 5, 5, 3)))
    assert "Gather" in ops and "Conv" not in ops


def residual_model(rng, c: int, idt: str):
    """x -> DuplicateStreams -> (MVAU c x c, thresholds) + x -> AddStreams."""
    w = draw_ints(rng, "INT3", (c, c))
    lo, hi = accumulator_range(w, float(DataType[idt].min()), float(DataType[idt].max()))
    thr = grid_thresholds(rng, lo, hi, 3)
    nodes = [make_hw_node("DuplicateStreams", ["x"], ["a", "b"], "DuplicateStreams_0", NumChannels=c, PE=1,
                          inputDataType=idt, numInputVectors=[1, 2]),
             make_hw_node("MVAU", ["a", "w", "t"], ["m"], "MVAU_0", MW=c, MH=c, PE=1, SIMD=1, inputDataType=idt,
                          weightDataType="INT3", outputDataType="UINT2", numInputVectors=[1, 2]),
             make_hw_node("AddStreams", ["m", "b"], ["y"], "AddStreams_0", NumChannels=c, PE=1,
                          inputDataTypes=["UINT2", idt], numInputVectors=[1, 2])]
    graph = helper.make_graph(nodes, "res", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, c])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, c])])
    model = ModelWrapper(qonnx_make_model(graph, opset_imports=opset_imports()))
    model.set_initializer("w", w.astype(np.float32))
    model.set_initializer("t", thr.astype(np.float32))
    for t, d in (("x", idt), ("a", idt), ("b", idt), ("m", "UINT2")):
        model.set_tensor_datatype(t, DataType[d])
    return model


@pytest.mark.parametrize("idt", ["INT4", "UINT8"])
def test_residual_graph_equals_execute(idt):
    rng = np.random.default_rng(6)
    ops = assert_onnx_equals_execute(residual_model(rng, 6, idt), draw_ints(rng, idt, (40, 2, 6)))
    assert ops.count("Add") >= 1


def test_wide_accumulator_runs_in_float64():
    """INT16 x INT16 over 64 inputs: partial sums up to 2^36, past float32's 2^24: a float64 MatMul."""
    rng = np.random.default_rng(2)
    w = draw_ints(rng, "INT16", (64, 4))
    model = linear_model([NodeSpec("MVAU", dict(MW=64, MH=4, PE=1, SIMD=1, inputDataType="INT16",
                                                weightDataType="INT16", outputDataType="INT40", accDataType="INT40",
                                                noActivation=1), [w])])
    x = np.concatenate([np.full((1, 64), -2.0**15), np.full((1, 64), 2.0**15 - 1), draw_ints(rng, "INT16", (50, 64))])
    assert_onnx_equals_execute(model, x)
    assert float64_matmuls(model) == 1


def test_accumulator_beyond_float64_falls_back_to_the_plan():
    """INT32 x INT24 over 64 inputs: partial sums up to 2^60, not exact in float64: no ONNX form, and
    the engine runs the plan (whose execute uses int64), with the reason."""
    rng = np.random.default_rng(3)
    w = draw_ints(rng, "INT24", (64, 2))
    model = linear_model([NodeSpec("MVAU", dict(MW=64, MH=2, PE=1, SIMD=1, inputDataType="INT32",
                                                weightDataType="INT24", outputDataType="INT62", accDataType="INT62",
                                                noActivation=1), [w])])
    with pytest.raises(OnnxUnsupported, match="MVAU_0"):
        compile_onnx(model)
    engine = compile_values(model)
    assert engine.onnx is None and "MVAU_0" in engine.reason
    x = draw_ints(rng, "INT32", (5, 64))
    got = engine({"global_in": x})["global_out"]
    assert engine.choice == "plan" and "no ONNX form" in engine.why
    assert np.array_equal(got, execute_dataflow(model, {"global_in": x}, compiled=False)["global_out"])


def test_op_without_onnx_form_falls_back_with_its_name():
    """LabelSelect has no onnx_values (its tie order is finn-hlslib's): the design runs the plan."""
    rng = np.random.default_rng(4)
    w = draw_ints(rng, "INT4", (8, 5))
    model = linear_model([NodeSpec("MVAU", dict(MW=8, MH=5, PE=1, SIMD=1, inputDataType="INT4", weightDataType="INT4",
                                                outputDataType="INT12", accDataType="INT12", noActivation=1), [w]),
                          NodeSpec("LabelSelect", dict(Labels=5, PE=1, K=1, inputDataType="INT12"))])
    engine = compile_values(model)
    assert engine.onnx is None and "LabelSelect_0" in engine.reason
    with pytest.raises(OnnxUnsupported):
        compile_values(model, engine="onnxruntime")


def test_engine_keeps_the_faster_and_both_are_equal():
    rng = np.random.default_rng(7)
    w = draw_ints(rng, "INT4", (16, 8))
    lo, hi = accumulator_range(w, -8.0, 7.0)
    model = linear_model([NodeSpec("MVAU", dict(MW=16, MH=8, PE=1, SIMD=1, inputDataType="INT4", weightDataType="INT4",
                                                outputDataType="UINT4"), [w, grid_thresholds(rng, lo, hi, 15)])])
    x = draw_ints(rng, "INT4", (3000, 16))
    ref = execute_dataflow(model, {"global_in": x}, compiled=False)["global_out"]
    engine = compile_values(model)
    assert engine.onnx is not None and engine.reason == ""
    got = engine({"global_in": x})["global_out"]
    assert np.array_equal(got, ref) and engine.choice in ("plan", "onnxruntime")
    assert engine.seconds[engine.choice] == min(engine.seconds.values()) and "probe" in engine.why
    again = engine({"global_in": x[:100]})["global_out"]  # later calls: the kept engine
    assert np.array_equal(again, ref[:100])
    for forced in ("plan", "onnxruntime"):
        e = compile_values(model, engine=forced)
        assert np.array_equal(e({"global_in": x})["global_out"], ref) and e.choice == forced


# ---- the threshold forms' proofs -------------------------------------------------------------------

def brute_count(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (t[None, :] <= x[:, None]).sum(axis=1)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(2, 70), channels=st.integers(1, 4),
       perturb=st.integers(0, 3))
def test_rounding_form_is_exact_on_every_integer_of_the_window(seed, steps, channels, perturb):
    """Whenever rounding_form claims a form, it equals the count on every integer of every channel's
    window (brute force); on uniform-quantizer thresholds it finds one. `perturb` thresholds are moved
    by +-1 or 2 (off the grid): then a claimed form must still be exact, and often none exists."""
    rng = np.random.default_rng(seed)
    lo, hi = np.full(channels, -3000.0), np.full(channels, 3000.0)
    t = np.sort(grid_thresholds(rng, lo, hi, steps), axis=1)
    for _ in range(perturb):
        c, k = rng.integers(channels), rng.integers(steps)
        t[c, k] += rng.choice([-2, -1, 1, 2])
    t = np.sort(t, axis=1)
    wlo, whi = t[:, 0] - 1, t[:, -1]
    form = rounding_form(t, wlo, whi)
    if perturb == 0 and (np.diff(t, axis=1) > 0).any(axis=1).all():
        assert form is not None  # (a channel whose thresholds all coincide has no step to measure)
    if form is None:
        return
    op, b, g, p = form
    fn = np.round if op == "Round" else np.floor
    for c in range(channels):
        x = np.arange(wlo[c], whi[c] + 1)
        assert np.array_equal(np.clip(fn((x + b[c]) / g), p, steps + p) - p, brute_count(t[c], x)), (c, op, b[c], g, p)


def test_rounding_form_refuses_a_threshold_off_the_grid():
    """One threshold moved by 2 within a 128-step grid: Round and Floor of any offset miss it."""
    t = np.array([[65.0, 192.0, 321.0, 448.0, 577.0]])  # (k + 1/2)·128 with half-even ties, gaps 127/129
    assert rounding_form(t, t[:, 0] - 1, t[:, -1]) is not None
    t[0, 2] += 2
    assert rounding_form(t, t[:, 0] - 1, t[:, -1]) is None
    form = threshold_form(t, np.arange(6), np.array([-1000.0]), np.array([1000.0]), 1000.0)
    assert form.kind == "table"


@pytest.mark.parametrize("thr,values,kind", [
    (np.array([[3.5]]), np.array([-1, 1]), "clip"),
    (np.array([[3.5]]), np.array([0, 1]), "clip"),
    (np.array([[3.5]]), np.array([2, 3]), "clip"),
    (np.array([[3.5]]), np.array([0, 3]), "compare"),
    (np.array([[-2.0, 7.0]]), np.array([0, 1, 2]), "compare"),
    (np.array([[65.0, 192.0, 321.0, 448.0]]), np.arange(5), "rounding"),
    (np.array([[64.0, 193.0, 320.0, 449.0]]), np.arange(5), "rounding"),  # the other tie parity
    (np.array([[-5.0, 0.0, 2.0, 40.0]]), np.arange(5), "table"),
])
def test_threshold_form_kinds(thr, values, kind):
    assert threshold_form(thr, values, np.array([-1000.0]), np.array([1000.0]), 1000.0).kind == kind


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) / 1024


def test_onnx_engine_streams_chunks_in_constant_memory():
    """Chunks through the onnxruntime session (its arena outside Python, which tracemalloc does not
    see): resident memory after 40 chunks of 4 MiB tensors is what it was after 4; one chunk's tensors
    kept per chunk would add 300+ MiB."""
    rng = np.random.default_rng(8)
    w = draw_ints(rng, "INT4", (64, 64))
    lo, hi = accumulator_range(w, 0.0, 15.0)
    model = linear_model([NodeSpec("MVAU", dict(MW=64, MH=64, PE=1, SIMD=1, inputDataType="UINT4",
                                                weightDataType="INT4", outputDataType="UINT4"),
                                   [w, grid_thresholds(rng, lo, hi, 15)])])
    engine = compile_values(model, engine="onnxruntime")
    x = draw_ints(rng, "UINT4", (16_384, 64)).astype(np.float32)
    big = np.broadcast_to(x[None], (40,) + x.shape).reshape(-1, 64)  # 655,360 frames, no copy
    seen = []
    for i, _, y in engine.chunks(big, max_values=16_384 * 64):
        assert y["global_out"].shape == (16_384, 64)
        if i // 16_384 in (3, 39):
            seen.append(_rss_mib())
    assert len(seen) == 2 and seen[1] - seen[0] < 32, seen


def float_scale_thresholds(rng, channels: int, steps: int) -> np.ndarray:
    """Thresholds of a quantizer with a float (non-power-of-two) scale per channel, as folded float
    scales and BatchNorm give: (k + 1/2)·s_c + beta_c, ceiled, s_c in [25, 60)."""
    s = rng.uniform(25, 60, size=(channels, 1))
    beta = rng.uniform(-1500, -1000, size=(channels, 1))
    return np.ceil((np.arange(steps)[None, :] + 0.5) * s + beta)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_estimate_form_with_its_correction_is_exact_on_every_input(seed):
    """Float-scale thresholds (off any power-of-two grid, windows too wide for the small table): the
    affine estimate plus its ±1 correction, checked on every integer of the INT12 input range."""
    rng = np.random.default_rng(seed)
    channels, steps = 40, 63
    thr = float_scale_thresholds(rng, channels, steps)
    form = threshold_form(thr, np.arange(steps + 1), np.full(channels, -2048.0), np.full(channels, 2047.0), 2048.0)
    assert form.kind == "estimate"
    model = linear_model([NodeSpec("Thresholding", dict(NumChannels=channels, numSteps=steps, inputDataType="INT12",
                                                       outputDataType="UINT6", numInputVectors=[1]), [thr])])
    x = np.repeat(np.arange(-2048.0, 2048.0)[:, None], channels, axis=1)  # every input, every channel
    ops = assert_onnx_equals_execute(model, x)
    assert ops.count("GatherElements") == 2


def test_estimate_form_refuses_an_estimate_off_by_two():
    """A threshold far off the channel's mean step puts the estimate two counts away: no form."""
    t = np.array([[0.0, 100.0, 200.0, 300.0, 400.0, 500.0]])
    assert estimate_form(t, t[:, 0] - 1, t[:, -1], np.float32) is not None
    t[0, 1:3] = [290.0, 295.0]  # at x = 289 the count is 1, the estimate floor((289 + 100) / 100) = 3
    assert estimate_form(t, t[:, 0] - 1, t[:, -1], np.float32) is None


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), total=st.integers(0, 2), top=st.integers(0, 2), left=st.integers(0, 2),
       up=st.integers(1, 3), idt=st.sampled_from(["UINT2", "INT4", "UINT8", "INT16"]))
def test_padding_upsample_and_global_pool_graphs_equal_execute(seed, total, top, left, up, idt):
    """FMPadding -> SWG 3x3 -> MVAU (a padded convolution) -> Upsample x`up` -> GlobalAccPool."""
    rng = np.random.default_rng(seed)
    h, ch, mh = 4, 2, 3
    top, left = min(top, total), min(left, total)
    pad = [top, left, total - top, total - left]  # a square padded image (the SWG's rule), any split
    side = h + total
    o = side - 2
    w = draw_ints(rng, "INT4", (9 * ch, mh))
    lo, hi = accumulator_range(w, float(DataType[idt].min()), float(DataType[idt].max()))
    specs = [NodeSpec("FMPadding", dict(ImgDim=[h, h], Padding=pad, NumChannels=ch, inputDataType=idt)),
             NodeSpec("SWG", dict(ConvKernelDim=[3, 3], IFMChannels=ch, IFMDim=[side, side], OFMDim=[o, o], SIMD=1,
                                  Stride=[1, 1], inputDataType=idt, outputDataType=idt)),
             NodeSpec("MVAU", dict(MW=9 * ch, MH=mh, PE=1, SIMD=1, inputDataType=idt, weightDataType="INT4",
                                   outputDataType="UINT3", numInputVectors=[1, o, o]),
                      [w, grid_thresholds(rng, lo, hi, 7)]),
             NodeSpec("Upsample", dict(SIMD=1, HI=o, WI=o, HO=o * up, WO=o * up, NumChannels=mh,
                                       inputDataType="UINT3")),
             NodeSpec("GlobalAccPool", dict(NumChannels=mh, PE=1, inputDataType="UINT3",
                                           numInputVectors=[1, o * up, o * up]))]
    ops = assert_onnx_equals_execute(linear_model(specs), draw_ints(rng, idt, (5, h, h, ch)))
    assert {"Pad", "Conv", "ReduceSum"} <= set(ops)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 3), s=st.integers(1, 2), extra=st.integers(0, 3),
       ch=st.integers(1, 5), idt=st.sampled_from(["UINT2", "INT4", "UINT8", "INT16"]),
       act=st.sampled_from(["none", "grid", "random"]))
def test_depthwise_graph_equals_execute(seed, k, s, extra, ch, idt, act):
    """A depthwise SWG -> VVAU: one grouped Conv (float32), or Mul + ReduceSum on the windows (float64)."""
    rng = np.random.default_rng(seed)
    ifm = k + extra
    ofm = (ifm - k) // s + 1
    w = draw_ints(rng, "INT4", (ch, 1, k, k))
    wm = w.reshape(ch, k * k).T
    lo, hi = accumulator_range(wm, float(DataType[idt].min()), float(DataType[idt].max()))
    attrs = dict(PE=1, SIMD=1, Dim=[ofm, ofm], Channels=ch, Kernel=[k, k], inputDataType=idt, weightDataType="INT4")
    if act == "none":
        odt = dtype_for_range(lo.min(), hi.max())
        vvau = NodeSpec("VVAU", {**attrs, "noActivation": 1, "outputDataType": odt.name, "accDataType": odt.name}, [w])
    else:
        thr = grid_thresholds(rng, lo, hi, 7) if act == "grid" else thresholds(rng, lo, hi, 7, False)
        vvau = NodeSpec("VVAU", {**attrs, "outputDataType": "UINT3"}, [w, thr])
    specs = [NodeSpec("SWG", dict(ConvKernelDim=[k, k], IFMChannels=ch, IFMDim=[ifm, ifm], OFMDim=[ofm, ofm], SIMD=1,
                                  Stride=[s, s], inputDataType=idt, outputDataType=idt, depthwise=1)), vvau]
    ops = assert_onnx_equals_execute(linear_model(specs), draw_ints(rng, idt, (4, ifm, ifm, ch)))
    assert "Conv" in ops or "ReduceSum" in ops


def test_engine_keeps_the_plan_when_onnxruntime_fails_or_differs():
    """The plan is the reference: an onnxruntime error, or a graph that differs on the probe, leaves
    the plan in charge, with the reason."""
    rng = np.random.default_rng(9)
    w = draw_ints(rng, "INT4", (8, 4))
    model = linear_model([NodeSpec("MVAU", dict(MW=8, MH=4, PE=1, SIMD=1, inputDataType="INT4", weightDataType="INT4",
                                                outputDataType="INT10", accDataType="INT10", noActivation=1), [w])])
    x = draw_ints(rng, "INT4", (50, 8))
    ref = execute_dataflow(model, {"global_in": x}, compiled=False)["global_out"]

    def broken(inputs):
        raise RuntimeError("no kernel for this node\nsecond line")

    def wrong(inputs):
        return {"global_out": ref + 1}

    for onnx, why in ((broken, "onnxruntime failed on the probe: no kernel for this node"), (wrong, "differs")):
        engine = compile_values(model)
        engine.onnx = onnx
        assert np.array_equal(engine({"global_in": x})["global_out"], ref)
        assert engine.choice == "plan" and why in engine.why
