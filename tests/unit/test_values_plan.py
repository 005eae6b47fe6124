"""The compiled values plan (hw/emulator/plan.py, the ops' compile_values kernels) equals the ops'
`execute`, the one definition of their values, bit for bit, on hypothesis-drawn ops and inputs; and
`hil emulate --inputs` streams a large input file with bounded memory."""

from __future__ import annotations

import tracemalloc
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qonnx.core.datatype import DataType

from hw.emulator.plan import compile_plan
from hw.emulator.values import execute_dataflow
from hw.ops import _threshold_kernel as threshold_kernel
from hw.ops.base import accumulator_range, dtype_for_range, threshold_output_dtype
from hw.ops.graph import NodeSpec, linear_model

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INPUT_TYPES = ["BINARY", "BIPOLAR", "UINT2", "INT4", "UINT8", "INT8", "INT16"]
WEIGHT_TYPES = ["BIPOLAR", "INT2", "INT4", "INT8", "INT16"]


def draw_ints(rng, dt: str, shape) -> np.ndarray:
    d = DataType[dt]
    v = rng.integers(int(d.min()), int(d.max()) + 1, size=shape)
    return (np.where(v > 0, 1, -1) if dt == "BIPOLAR" else v).astype(np.float64)


def assert_outputs_equal(ref: dict, got: dict, samples: int) -> None:
    """Same output names, and per output the same dtype, shape and every value (the first differing
    sample named)."""
    assert ref.keys() == got.keys()
    for k in ref:
        assert got[k].dtype == ref[k].dtype and got[k].shape == ref[k].shape, (got[k].dtype, ref[k].dtype, got[k].shape)
        bad = np.flatnonzero((got[k] != ref[k]).reshape(samples, -1).any(axis=1))
        assert bad.size == 0, f"{bad.size} of {samples} samples differ, first {bad[0]}"


def assert_plan_equals_execute(model, x: np.ndarray) -> None:
    """Equal outputs, and the plan really ran the op's own kernel, not the execute fallback."""
    name = model.graph.input[0].name
    ref = execute_dataflow(model, {name: x}, compiled=False)
    plan = compile_plan(model)
    kernel = plan.steps[0].fn.__qualname__
    assert kernel.startswith(f"{model.graph.node[0].op_type}.compile_values"), kernel
    assert_outputs_equal(ref, plan({name: x}), len(x))


def thresholds(rng, lo: np.ndarray, hi: np.ndarray, steps: int, shared: bool) -> np.ndarray:
    """Unsorted, partly non-integer thresholds, some outside the reachable range [lo, hi]."""
    rows = 1 if shared else len(lo)
    a, b = (lo.min(), hi.max()) if shared else (lo[:, None], hi[:, None])
    t = rng.uniform(a - 3, b + 3, size=(rows, steps))
    return np.where(rng.random(t.shape) < 0.5, np.round(t), np.round(2 * t) / 2)


def mvau_case(rng, mw, mh, idt, wdt, xnor, act, steps, shared, vec, flatten, act_val, make_thresholds=None):
    """(model, inputs) of one drawn MVAU: act "none" (no activation), "bipolar" (one threshold, BIPOLAR
    out) or any other value (`steps` thresholds from make_thresholds(rng, lo, hi, steps, shared), by
    default `thresholds`), over the proven accumulator range; `flatten` feeds a multi-vector input as
    one flattened row."""
    if xnor:
        idt, wdt = rng.choice(["BINARY", "BIPOLAR"]), "BIPOLAR"
    w = draw_ints(rng, wdt, (mw, mh))
    lo, hi = (np.zeros(mh), np.full(mh, mw)) if xnor else accumulator_range(
        w, float(DataType[idt].min()), float(DataType[idt].max()))
    attrs = dict(MW=mw, MH=mh, PE=1, SIMD=1, inputDataType=idt, weightDataType=wdt, binaryXnorMode=int(xnor),
                 numInputVectors=vec)
    if act == "none":
        odt = dtype_for_range(lo.min(), hi.max())
        spec = NodeSpec("MVAU", {**attrs, "noActivation": 1, "outputDataType": odt.name, "accDataType": odt.name}, [w])
    else:
        steps = 1 if act == "bipolar" else steps
        thr = (make_thresholds or thresholds)(rng, lo, hi, steps, shared)
        odt = DataType["BIPOLAR"] if act == "bipolar" else threshold_output_dtype(DataType["INT8"], act_val, steps)
        spec = NodeSpec("MVAU", {**attrs, "outputDataType": odt.name, "ActVal": 0 if act == "bipolar" else act_val},
                        [w, thr])
    model = linear_model([spec])
    x = draw_ints(rng, idt, (int(rng.integers(1, 20)),) + tuple(vec[1:]) + (mw,))
    if flatten and len(vec) > 1:
        x = x.reshape(len(x), -1)  # a flattened feature map feeding a dense layer
    return model, x


def thresholding_case(rng, channels, steps, idt, shared, bipolar, act_val, make_thresholds=None):
    """(model, inputs) of one drawn Thresholding over the input type's whole range (2 vectors per frame)."""
    steps = int(rng.integers(1, 3)) if steps > 200 else steps  # compare-and-sum (<= 2 steps) drawn often
    d = DataType[idt]
    steps = 1 if bipolar else steps
    lo, hi = np.full(channels, float(d.min())), np.full(channels, float(d.max()))
    thr = (make_thresholds or thresholds)(rng, lo, hi, steps, shared)
    odt = "BIPOLAR" if bipolar else threshold_output_dtype(DataType["INT8"], act_val, steps).name
    model = linear_model([NodeSpec("Thresholding", dict(NumChannels=channels, numSteps=steps, inputDataType=idt,
                                                       outputDataType=odt, ActVal=0 if bipolar else act_val,
                                                       numInputVectors=[1, 2]), [thr])])
    return model, draw_ints(rng, idt, (int(rng.integers(1, 30)), 2, channels))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), mw=st.integers(1, 40), mh=st.integers(1, 12),
       idt=st.sampled_from(INPUT_TYPES), wdt=st.sampled_from(WEIGHT_TYPES), xnor=st.booleans(),
       act=st.sampled_from(["none", "steps", "bipolar"]), steps=st.integers(1, 70), shared=st.booleans(),
       vec=st.sampled_from([[1], [1, 3], [1, 2, 3]]), flatten=st.booleans(), act_val=st.integers(-4, 2),
       block=st.sampled_from([1, 37, 1 << 14]))
def test_mvau_kernel_equals_execute(seed, mw, mh, idt, wdt, xnor, act, steps, shared, vec, flatten, act_val, block):
    """`block`: values per fused block (hw.ops._threshold_kernel.BLOCK_VALUES), small ones so that
    the rows run in several blocks, the last one partial."""
    model, x = mvau_case(np.random.default_rng(seed), mw, mh, idt, wdt, xnor, act, steps, shared, vec, flatten,
                         act_val)
    with mock.patch.object(threshold_kernel, "BLOCK_VALUES", block):
        assert_plan_equals_execute(model, x)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), channels=st.integers(1, 16), steps=st.integers(1, 300),
       idt=st.sampled_from(INPUT_TYPES), shared=st.booleans(), bipolar=st.booleans(), act_val=st.integers(-3, 3),
       block=st.sampled_from([1, 29, 1 << 14]))
def test_thresholding_kernel_equals_execute(seed, channels, steps, idt, shared, bipolar, act_val, block):
    model, x = thresholding_case(np.random.default_rng(seed), channels, steps, idt, shared, bipolar, act_val)
    with mock.patch.object(threshold_kernel, "BLOCK_VALUES", block):
        assert_plan_equals_execute(model, x)


def test_threshold_table_falls_back_to_searchsorted_exactly():
    """Thresholds spread over a range too wide for a lookup table (> MAX_TABLE entries)."""
    rng = np.random.default_rng(1)
    thr = np.sort(rng.integers(-2**22, 2**22, size=(3, 40)), axis=1).astype(np.float64)
    model = linear_model([NodeSpec("Thresholding", dict(NumChannels=3, numSteps=40, inputDataType="INT24",
                                                       outputDataType="UINT6"), [thr])])
    from hw.ops._threshold_kernel import MAX_TABLE
    assert (thr[:, -1] - thr[:, 0] + 2).sum() > MAX_TABLE
    x = np.concatenate([draw_ints(rng, "INT24", (200, 3)), thr[None, :, 5], thr[None, :, 5] - 1])
    assert_plan_equals_execute(model, x)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 4), s=st.integers(1, 3), extra=st.integers(0, 6),
       ch=st.integers(1, 5), idt=st.sampled_from(INPUT_TYPES))
def test_swg_kernel_equals_execute(seed, k, s, extra, ch, idt):
    rng = np.random.default_rng(seed)
    ifm = k + extra
    ofm = (ifm - k) // s + 1
    model = linear_model([NodeSpec("SWG", dict(ConvKernelDim=[k, k], IFMChannels=ch, IFMDim=[ifm, ifm],
                                               OFMDim=[ofm, ofm], SIMD=1, Stride=[s, s], inputDataType=idt,
                                               outputDataType=idt))])
    assert_plan_equals_execute(model, draw_ints(rng, idt, (3, ifm, ifm, ch)))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 4), tiles=st.integers(1, 4), ch=st.integers(1, 5),
       idt=st.sampled_from(INPUT_TYPES))
def test_maxpool_kernel_equals_execute(seed, k, tiles, ch, idt):
    rng = np.random.default_rng(seed)
    dim = k * tiles
    model = linear_model([NodeSpec("StreamingMaxPool", dict(ImgDim=[dim, dim], PoolDim=[k, k], NumChannels=ch,
                                                            dataType=idt))])
    assert_plan_equals_execute(model, draw_ints(rng, idt, (int(rng.integers(1, 6)), dim, dim, ch)))


def test_wide_accumulator_uses_float64_and_stays_exact():
    """INT16 x INT16 over 64 inputs: partial sums up to 2^36, past float32's 2^24, below float64's 2^53."""
    rng = np.random.default_rng(2)
    w = draw_ints(rng, "INT16", (64, 4))
    model = linear_model([NodeSpec("MVAU", dict(MW=64, MH=4, PE=1, SIMD=1, inputDataType="INT16",
                                                weightDataType="INT16", outputDataType="INT40", accDataType="INT40",
                                                noActivation=1), [w])])
    x = np.concatenate([np.full((1, 64), -2.0**15), np.full((1, 64), 2.0**15 - 1), draw_ints(rng, "INT16", (50, 64))])
    assert_plan_equals_execute(model, x)


def _peak_bytes(model, n: int, tmp_path) -> int:
    """tracemalloc peak of run_values over n samples read from a .npy file."""
    from toolchain.emulate import run_values
    from toolchain.inputs import load_inputs

    path = tmp_path / f"x{n}.npy"
    x = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, 8))
    x[:] = np.random.default_rng(3).integers(0, 4, size=(n, 8))
    x.flush()
    del x
    xs = load_inputs(path, mmap=True)
    tracemalloc.start()
    run_values(model, tmp_path / "model.onnx", xs, tmp_path / f"y{n}.npy")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.load(tmp_path / f"y{n}.npy").shape == (n, 4)
    return peak


def test_run_values_memory_is_bounded(tmp_path, monkeypatch):
    """10x the samples, about the same peak memory: the inputs are a memmap, the outputs are written
    chunk by chunk (chunks of 4,096 frames here)."""
    import hw.emulator.plan as plan

    monkeypatch.setattr(plan, "MAX_CHUNK_VALUES", 4096 * 8)
    w = draw_ints(np.random.default_rng(4), "INT2", (8, 4))
    model = linear_model([NodeSpec("MVAU", dict(MW=8, MH=4, PE=1, SIMD=1, inputDataType="UINT2",
                                                weightDataType="INT2", outputDataType="INT8", accDataType="INT8",
                                                noActivation=1), [w])])
    small, large = _peak_bytes(model, 20_000, tmp_path), _peak_bytes(model, 200_000, tmp_path)
    one_batch = 200_000 * 8 * 8  # the float64 integer inputs of 200k samples at once: 12.8 MB
    assert large < 2 * small and large < one_batch / 4, (small, large)
