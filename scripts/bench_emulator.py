"""Emulator speed on the real model zoo, one run on one machine. Prints two tables.

    .venv/bin/python scripts/bench_emulator.py [--samples 10000] [--cnv-fps 3000] [--frames 2] [--fold 1]

Values (jet-mlp, untrained export, lowered with the folding tests/equiv/test_hls4ml_csim.py builds with
hls4ml; `--samples` inputs of the recipe put on the input grid by the lowering's own mapping):
* emulator: hw.emulator.values.execute_dataflow on the dataflow graph (every node's bit-exact execute over
  the batch); first checked with toolchain.emulate.emulate (0 mismatches against QONNX on these inputs);
* hls4ml C-sim: the same dataflow through toolchain.backends (plan -> hls4ml ModelGraph, io_stream), g++
  once (compile seconds reported apart, not in the rate), then ModelGraph.predict; checked equal to the
  emulator on every sample;
* qonnx: toolchain.export.run_qonnx (execute_onnx, batched) on the source QONNX;
* onnxruntime: the recipe's float32 twin (toolchain.compress.model.build_model(recipe, quantized=False),
  torch.onnx.export to standard ONNX, dynamic batch), one InferenceSession.run over all inputs; a
  different (float) function, shown for scale only.
The acceptance target is emulator >= 20x the hls4ml C-sim rate.

Timing engine (token·node updates = computed events: active firings + write events, source and sink words
included; the kernel is JIT-warmed first):
* real: the lowered cnv-w1a1 at PE = SIMD = 1 and at SetFolding for `--cnv-fps` (10 ns clock), one frame and
  `--frames` frames, plus the wall time of `emulate(..., frames=1, size=True)` in this process and of
  `hil emulate --frames 1 --size-fifos --json` as a fresh process (imports and numba cache load included);
* synthetic: E's CNV-like graph (random weights, every PE = SIMD = `--fold`), kept for continuity.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from qonnx.custom_op.registry import getCustomOp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hw.emulator import kernel as K  # noqa: E402
from hw.emulator.compile import compile_graph  # noqa: E402
from hw.emulator.fifo_sizing import size_fifos  # noqa: E402
from hw.emulator.graph import SimConfig  # noqa: E402
from hw.emulator.timing import _result  # noqa: E402
from hw.emulator.model_graph import build_timing_graph  # noqa: E402
from hw.emulator.values import execute_dataflow  # noqa: E402
from hw.ops.base import make_hw_node  # noqa: E402
from hw.ops.graph import NodeSpec, linear_model  # noqa: E402

RNG = np.random.default_rng(0)


def timed(fn, min_seconds: float = 1.0) -> float:
    """Seconds per call: one warm-up call, then repeated calls for at least min_seconds."""
    fn()
    reps, t0 = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        dt = time.perf_counter() - t0
        if dt >= min_seconds:
            return dt / reps


def table(title: str, header: tuple[str, ...], rows: list[tuple]) -> None:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print(f"\n{title}")
    for row in [header] + rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))


# ---- values on jet-mlp ----------------------------------------------------------------------------

def grid_inputs(recipe: str, src, dataflow, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(float inputs of the source on its input grid, the dataflow's integer inputs)."""
    from toolchain.export import verification_inputs
    from toolchain.lower import stream_inputs
    from toolchain.zoo import load_recipe

    x = verification_inputs(load_recipe(recipe), n)
    xi = stream_inputs(src, dataflow, x).astype(np.float64)
    scale = json.loads(dataflow.get_metadata_prop("hil_io"))["input_scale"]
    xs = xi.transpose(0, 3, 1, 2) if xi.ndim == 4 and xi.shape[1:] != x.shape[1:] else xi
    return (xs * scale).astype(np.float32), xi


def hls4ml_predictor(model, prj: Path):
    """(predict(x_int) -> integer outputs, g++ seconds) of the dataflow's hls4ml C-sim."""
    from toolchain.backends.csim import compile_project
    from toolchain.backends.hls4ml import HLSOptions, make_model_graph
    from toolchain.backends.plan import plan_hls4ml

    plan = plan_hls4ml(model)
    if plan.host_label_select:
        raise SystemExit("bench: the benchmark network must not end in a host-side LabelSelect")
    hmodel = make_model_graph(plan, prj, HLSOptions())
    compile_s = compile_project(hmodel)

    def predict(xi: np.ndarray) -> np.ndarray:
        x_hw = np.ascontiguousarray(plan.input.enc.to_hw(xi).reshape(len(xi), -1), dtype=np.float64)
        with contextlib.redirect_stdout(io.StringIO()):
            y_hw = hmodel.predict(x_hw)
        return plan.output.enc.from_hw(np.asarray(y_hw).reshape(len(xi), -1))

    return predict, compile_s


def float_twin_session(recipe_name: str, path: Path):
    """onnxruntime session of the recipe's float32 twin exported to standard ONNX."""
    import onnxruntime as ort
    import torch

    from toolchain.compress.model import build_model
    from toolchain.export import quiet
    from toolchain.zoo import load_recipe

    recipe = load_recipe(recipe_name)
    net = build_model(recipe, quantized=False).eval()
    dummy = torch.zeros(1, *recipe.architecture.input_shape)
    with quiet():
        torch.onnx.export(net, (dummy,), str(path), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, dynamo=False)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def bench_values(samples: int, tmp: Path) -> None:
    from tests.equiv.test_hls4ml_csim import FOLDED
    from toolchain.emulate import emulate
    from toolchain.export import export_run, run_qonnx
    from toolchain.lower import lower_model
    from toolchain.onnxio import load_model

    recipe = "jet-mlp"
    src_path, df_path = tmp / f"{recipe}.onnx", tmp / f"{recipe}-dataflow.onnx"
    export_run(recipe, src_path, untrained=True, samples=100)
    src = load_model(src_path)
    model = lower_model(load_model(src_path), folding=FOLDED[recipe], source=src_path.name)
    model.save(str(df_path))
    x, xi = grid_inputs(recipe, src, model, samples)
    np.save(tmp / "x.npy", x)
    check = emulate(df_path, inputs=tmp / "x.npy", frames=1)
    assert check["mismatches"] == 0 and check["samples"] == samples, check
    iname, oname = model.graph.input[0].name, model.graph.output[0].name

    def ours():
        return execute_dataflow(model, {iname: xi})[oname]

    predict, compile_s = hls4ml_predictor(model, tmp / "hls4ml_prj")
    y_emu = ours().reshape(samples, -1)
    y_hls = predict(xi)
    bad = int((y_hls != y_emu).any(axis=1).sum())
    assert bad == 0, f"hls4ml C-sim differs from the emulator on {bad} of {samples} samples"
    sess = float_twin_session(recipe, tmp / "float_twin.onnx")

    t_emu = timed(ours)
    t_hls = timed(lambda: predict(xi), min_seconds=0.0)
    t_qonnx = timed(lambda: run_qonnx(src, x), min_seconds=0.0)
    t_ort = timed(lambda: sess.run(None, {"x": x}))
    rates = [("emulator: execute_dataflow (bit-exact values)", t_emu, f"0 mismatches vs QONNX on {samples}"),
             ("hls4ml C-sim: ModelGraph.predict", t_hls, f"g++ {compile_s:.1f} s, excluded; 0 mismatches"),
             ("qonnx: execute_onnx, batched (source QONNX)", t_qonnx, "run_qonnx, chunks of 512"),
             ("onnxruntime: float32 twin, standard ONNX", t_ort, "different (float) function")]
    rows = [(name, f"{samples / t:,.0f}", f"{t_hls / t:.3g}x", f"{t / t_emu:.3g}x", note) for name, t, note in rates]
    table(f"values: {recipe}, {samples:,} samples, folding {FOLDED[recipe]}",
          ("path", "samples/s", "vs hls4ml C-sim", "emulator is faster by", "note"), rows)
    verdict = "met" if t_hls / t_emu >= 20 else "NOT met"
    print(f"acceptance (emulator >= 20x hls4ml C-sim predict): {verdict} ({t_hls / t_emu:,.1f}x)")


# ---- timing engine --------------------------------------------------------------------------------

def kernel_rate(graph, frames: int) -> tuple[int, float, object]:
    """(events, kernel seconds, TimingResult) of one run; the JIT is warmed on one frame first."""
    K.run_kernel(*compile_graph(graph, SimConfig(frames=1)).kernel_args())
    c = compile_graph(graph, SimConfig(frames=frames))
    t0 = time.perf_counter()
    status = K.run_kernel(*c.kernel_args())
    seconds = time.perf_counter() - t0
    events = int(c.st[:, K.FJ].sum() + c.st[:, K.WED].sum())
    return events, seconds, _result(graph, c, status != 0)


def fresh_process_seconds(path: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "hil"), "emulate", str(path), "--frames", "1", "--size-fifos",
                           "--json"], capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"hil emulate {path} failed: {proc.stderr.strip()}")
    return seconds


def bench_real_timing(cnv_fps: float, frames: int, tmp: Path) -> list[tuple]:
    from toolchain.emulate import emulate
    from toolchain.export import export_run
    from toolchain.lower import lower_model
    from toolchain.onnxio import load_model

    src = tmp / "cnv-w1a1.onnx"
    export_run("cnv-w1a1", src, untrained=True, samples=16)
    rows = []
    for label, fold in (("PE=SIMD=1", {}), (f"target {cnv_fps:g} fps", {"target_fps": cnv_fps})):
        model = lower_model(load_model(src), source=src.name, **fold)
        path = tmp / f"cnv-{len(rows)}.onnx"
        model.save(str(path))
        t0 = time.perf_counter()
        graph = build_timing_graph(model)
        t_build = time.perf_counter() - t0
        for n in (1, frames):
            events, seconds, result = kernel_rate(graph, n)
            rows.append((f"cnv-w1a1 {label}", len(graph.nodes), n, f"{events:,}", f"{seconds:.3f}",
                         f"{events / seconds:,.3g}", f"{result.total_cycles:,}",
                         f"{result.total_cycles / seconds:,.3g}", "", ""))
        emulate(path, frames=1, size=True)  # warm (schedules, JIT)
        t0 = time.perf_counter()
        sized = emulate(path, frames=1, size=True)
        t_size = time.perf_counter() - t0
        last = rows[-1]
        rows[-1] = last[:-2] + (f"{t_size:.2f} (build {t_build:.2f})", f"{fresh_process_seconds(path):.2f}")
        assert sized["fifo_sizing"]["full_throughput"], sized["fifo_sizing"]
    return rows


def _op(spec: NodeSpec):
    return getCustomOp(make_hw_node(spec.op_type, ["x"] + [f"p{i}" for i in range(len(spec.inits))], ["y"], "tmp",
                                    **spec.attrs))


def with_dwcs(specs: list[NodeSpec]) -> list[NodeSpec]:
    """Insert a DWC wherever a producer's output width differs from its consumer's input width."""
    out = [specs[0]]
    for spec in specs[1:]:
        prod, cons = _op(out[-1]), _op(spec)
        if prod.outstream_width() != cons.instream_width():
            out.append(NodeSpec("DWC", dict(shape=list(prod.normal_output_shape()), inWidth=prod.outstream_width(),
                                            outWidth=cons.instream_width(), dataType=prod.output_datatype().name)))
        out.append(spec)
    return out


def mvau_spec(mw, mh, pe, simd, vec, idt="UINT2", odt="UINT2", act=True):
    w = RNG.integers(-1, 2, size=(mw, mh)).astype(np.float32)
    attrs = dict(MW=mw, MH=mh, PE=pe, SIMD=simd, inputDataType=idt, weightDataType="INT2", accDataType="INT32",
                 numInputVectors=vec)
    if not act:
        return NodeSpec("MVAU", {**attrs, "outputDataType": "INT32", "noActivation": 1}, [w])
    thr = np.sort(RNG.integers(-mw // 4, mw // 4, size=(mh, 3)), axis=1).astype(np.float32)
    return NodeSpec("MVAU", {**attrs, "outputDataType": odt}, [w, thr])


def cnv_like(fold: int):
    """E's synthetic CNV (BNN-PYNQ topology: 6 conv 3x3, 2 max-pools, 3 FC, LabelSelect)."""
    specs, ch, dim = [], 3, 32
    for cout, pool in ((64, False), (64, True), (128, False), (128, True), (256, False), (256, False)):
        simd = 3 if ch == 3 else fold
        odim = dim - 2
        idt = "INT8" if ch == 3 else "UINT2"
        specs.append(NodeSpec("SWG", dict(ConvKernelDim=[3, 3], IFMChannels=ch, IFMDim=[dim, dim], OFMDim=[odim, odim],
                                          SIMD=simd, Stride=[1, 1], inputDataType=idt, outputDataType=idt)))
        specs.append(mvau_spec(9 * ch, cout, fold, simd, [1, odim, odim], idt=idt))
        ch, dim = cout, odim
        if pool:
            specs.append(NodeSpec("StreamingMaxPool", dict(ImgDim=[dim, dim], PoolDim=[2, 2], NumChannels=ch,
                                                           dataType="UINT2")))
            dim //= 2
    specs += [mvau_spec(256, 512, fold, fold, [1]), mvau_spec(512, 512, fold, fold, [1]),
              mvau_spec(512, 10, 1, fold, [1], act=False),
              NodeSpec("LabelSelect", dict(Labels=10, PE=1, K=1, inputDataType="INT32"))]
    return linear_model(with_dwcs(specs), name="cnv_like")


def bench_synthetic_timing(fold: int, frames: int) -> list[tuple]:
    graph = build_timing_graph(cnv_like(fold))
    events, seconds, result = kernel_rate(graph, frames)
    t0 = time.perf_counter()
    sizing = size_fifos(graph, SimConfig(frames=2))
    t_size = time.perf_counter() - t0
    assert sizing.full_throughput
    return [(f"synthetic CNV-like, fold {fold}", len(graph.nodes), frames, f"{events:,}", f"{seconds:.3f}",
             f"{events / seconds:,.3g}", f"{result.total_cycles:,}", f"{result.total_cycles / seconds:,.3g}",
             f"{t_size:.2f} (size_fifos, 2 frames)", "")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10_000, help="jet-mlp inputs for the values table")
    ap.add_argument("--cnv-fps", type=float, default=3_000.0, help="SetFolding target for the folded cnv-w1a1")
    ap.add_argument("--frames", type=int, default=2, help="frames of the multi-frame timing runs")
    ap.add_argument("--fold", type=int, default=1, help="PE = SIMD of the synthetic CNV-like graph")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bench_values(args.samples, tmp)
        rows = bench_real_timing(args.cnv_fps, args.frames, tmp) + bench_synthetic_timing(args.fold, args.frames)
    table("timing engine (numba max-plus kernel)",
          ("graph", "nodes", "frames", "events", "kernel s", "token·node updates/s", "simulated cycles",
           "cycles/s", "1 frame + FIFO sizing, s (in process)", "hil emulate --size-fifos, s (fresh process)"), rows)


if __name__ == "__main__":
    main()
