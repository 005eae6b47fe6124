"""Emulator speed on the real model zoo, one run on one machine. Prints three tables.

    python scripts/bench_emulator.py [--networks digits-mlp,jet-mlp,...] [--samples N] [--no-csim]
                                     [--csim-networks jet-mlp] [--no-timing]
                                     [--cnv-fps 3000] [--frames 2] [--fold 1]

Values (digits-mlp, jet-mlp, tfc-w1a1, digits-cnn: 10,000 samples each, lowered with the folding
tests/equiv/test_hls4ml_csim.py builds with hls4ml; cnv-w1a1: 1,000 samples at SetFolding 3,000 fps; every
recipe an untrained export; inputs: the recipe's own (verification_inputs: its data set, random inputs
where none ships, e.g. jet-mlp without the user's CSV), put on the input grid by the lowering's mapping):
* emulator: hw.emulator.engine.compile_values, compiled once per design like an onnxruntime session: the
  faster of the compiled values plan (hw/emulator/plan.py, numpy, single-threaded BLAS) and the generated
  integer-exact ONNX graph (hw/emulator/onnx_graph.py) under onnxruntime with its default threads, chosen
  by the engine on its first call (both measured on a probe); asserted 0 mismatches against QONNX on
  every sample (toolchain.equality.compare_design, the one definition of equal). The plan and the ONNX
  graph are also timed alone ("plan", "onnx graph"; the graph asserted equal to the plan). Every timed
  call starts from float64 inputs (the emulator's integer stream values, the twin's floats) and
  includes its conversion to float32;
* hls4ml C-sim: the same dataflow through toolchain.backends (plan -> hls4ml ModelGraph, io_stream), g++
  once (compile seconds reported apart, not in the rate), then ModelGraph.predict; asserted equal to the
  emulator on every sample; "n/a" with the reason where the hls4ml plan refuses the network;
* qonnx: toolchain.export.run_qonnx (execute_onnx, batched) on the source QONNX, one run;
* onnxruntime: the recipe's float32 twin (toolchain.compress.model.build_model(recipe, quantized=False),
  torch.onnx.export to standard ONNX, dynamic batch), one InferenceSession.run over all inputs, onnxruntime's
  default threads; a different (float) function, shown for scale only.
Timed: seconds per call over all samples of a network, one warm-up call, then calls for >= 1 s.
The first table is jet-mlp alone, with the rows of the earlier bench. Acceptance (issue 17): the emulator
within 3x of onnxruntime float on every network, >= 100x hls4ml C-sim on jet-mlp. Then `hil emulate
--inputs` of the jet-mlp samples as a fresh process (start-up, values, the QONNX comparison, one timing
frame). The load average is printed: the machine may be shared.

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
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

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
    if len(x) < n:  # a small data set (digits: 1,797 images) is cycled to n samples
        x = x[np.arange(n) % len(x)]
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


NETWORKS = {"digits-mlp": 10_000, "jet-mlp": 10_000, "tfc-w1a1": 10_000, "digits-cnn": 10_000, "cnv-w1a1": 1_000}
CNV_FPS = 3_000.0  # cnv-w1a1 has no FOLDED entry: SetFolding for this target (10 ns clock)


@dataclass
class Net:
    recipe: str
    src: object
    model: object
    x: np.ndarray  # source-layout float inputs on the grid
    xi: np.ndarray  # the dataflow's integer inputs
    df_path: Path
    folding: str


def prepare(recipe: str, samples: int, tmp: Path) -> Net:
    from tests.equiv.test_hls4ml_csim import FOLDED
    from toolchain.export import export_run
    from toolchain.lower import lower_model
    from toolchain.onnxio import load_model

    src_path, df_path = tmp / f"{recipe}.onnx", tmp / f"{recipe}-dataflow.onnx"
    export_run(recipe, src_path, untrained=True, samples=16)
    src = load_model(src_path)
    fold = {"folding": FOLDED[recipe]} if recipe in FOLDED else {"target_fps": CNV_FPS}
    model = lower_model(load_model(src_path), source=src_path.name, **fold)
    model.save(str(df_path))
    x, xi = grid_inputs(recipe, src, model, samples)
    return Net(recipe, src, model, x, xi, df_path, str(fold.get("folding", f"SetFolding {CNV_FPS:g} fps")))


def measure(net: Net, tmp: Path, csim: bool) -> dict:
    """Seconds per batch of each path (None where a path could not run, with the reason), after
    asserting 0 mismatches: emulator vs QONNX (toolchain.equality) and hls4ml C-sim vs emulator."""
    from hw.emulator.engine import compile_values
    from hw.emulator.values import single_threaded_blas
    from toolchain.contract import read_io
    from toolchain.equality import compare_design
    from toolchain.export import run_qonnx

    n = len(net.x)
    iname, oname = net.model.graph.input[0].name, net.model.graph.output[0].name
    engine = compile_values(net.model)  # once per design, like an onnxruntime session

    def run(fn):
        def call():
            with single_threaded_blas():  # numpy's BLAS; onnxruntime keeps its own threads
                return fn({iname: net.xi})[oname]
        return call

    out = {"samples": n}
    t0 = time.perf_counter()
    y_q = run_qonnx(net.src, net.x)
    out["qonnx"] = time.perf_counter() - t0  # one run: qonnx is the slow reference
    y_emu = run(engine)()  # the first call measures both engines and keeps the faster
    io = read_io(net.model)
    bad = compare_design(io, y_emu, y_q).mismatches
    assert bad == 0, f"{net.recipe}: the emulator differs from QONNX on {bad} of {n} samples"
    out["engine"], out["engine_why"] = engine.choice, engine.why
    out["emulator"] = timed(run(engine))
    out["plan"] = timed(run(engine.plan))
    out["onnx"] = None
    if engine.onnx is not None:
        y_onnx = run(engine.onnx)()
        assert np.array_equal(y_onnx, y_emu), f"{net.recipe}: the onnxruntime graph differs from the plan"
        out["onnx"] = timed(run(engine.onnx))
    sess = float_twin_session(net.recipe, tmp / f"{net.recipe}-twin.onnx")
    x64 = net.x.astype(np.float64)  # both sides start from float64 and convert in the timed call
    out["ort"] = timed(lambda: sess.run(None, {"x": x64.astype(np.float32)}))
    out["hls4ml"], out["hls4ml_note"] = None, "not run (--no-csim / --csim-networks)"
    if csim:
        try:
            predict, compile_s = hls4ml_predictor(net.model, tmp / f"{net.recipe}-hls4ml_prj")
        except (Exception, SystemExit) as err:  # noqa: BLE001 - reported in the table, the bench goes on
            out["hls4ml_note"] = f"n/a: {str(err).splitlines()[0][:60]}"
            return out
        t0 = time.perf_counter()
        y_hls = predict(net.xi)
        out["hls4ml"] = time.perf_counter() - t0
        bad = int((y_hls != y_emu.reshape(n, -1)).any(axis=1).sum())
        assert bad == 0, f"{net.recipe}: hls4ml C-sim differs from the emulator on {bad} of {n} samples"
        out["hls4ml_note"] = f"g++ {compile_s:.0f} s excluded"
    return out


def jet_table(net: Net, m: dict) -> None:
    """Today's first table: jet-mlp alone, the earlier bench's rows."""
    n, t_emu, t_hls = m["samples"], m["emulator"], m["hls4ml"]
    rates = [(f"emulator: {m['engine']} (bit-exact values)", t_emu, f"0 mismatches vs QONNX on {n}"),
             ("hls4ml C-sim: ModelGraph.predict", t_hls, m["hls4ml_note"] + "; 0 mismatches"),
             ("qonnx: execute_onnx, batched (source QONNX)", m["qonnx"], "run_qonnx, chunks of 512"),
             ("onnxruntime: float32 twin, standard ONNX", m["ort"], "different (float) function")]
    rows = [(name, f"{n / t:,.0f}" if t else "-", f"{t_hls / t:.3g}x" if t and t_hls else "-",
             f"{t / t_emu:.3g}x" if t else "-", note) for name, t, note in rates]
    table(f"values: jet-mlp, {n:,} samples, folding {net.folding}",
          ("path", "samples/s", "vs hls4ml C-sim", "emulator is faster by", "note"), rows)
    if t_hls:
        print(f"acceptance (emulator >= 100x hls4ml C-sim on jet-mlp): {'met' if t_hls / t_emu >= 100 else 'NOT met'} "
              f"({t_hls / t_emu:,.1f}x)")


NETWORK_HEADER = ("network", "samples", "emulator", "engine kept", "plan", "onnx graph", "onnxruntime float twin",
                  "qonnx", "hls4ml C-sim", "emulator time / ort", "qonnx / emulator", "hls4ml / emulator",
                  "hls4ml note", "load avg")


def network_row(recipe: str, m: dict) -> tuple:
    keys = ("emulator", "plan", "onnx", "ort", "qonnx", "hls4ml")
    rate = {k: (f"{m['samples'] / m[k]:,.0f}" if m[k] else "-") for k in keys}
    return (recipe, f"{m['samples']:,}", rate["emulator"], m["engine"], rate["plan"], rate["onnx"], rate["ort"],
            rate["qonnx"], rate["hls4ml"], f"{m['emulator'] / m['ort']:.2f}", f"{m['qonnx'] / m['emulator']:,.1f}",
            f"{m['hls4ml'] / m['emulator']:,.1f}" if m["hls4ml"] else "-", m["hls4ml_note"],
            f"{os.getloadavg()[0]:.1f}")


def bench_values(networks: list[str], samples: Optional[int], csim: set[str], tmp: Path) -> dict:
    """The jet-mlp table (today's rows) first, then every network side by side, one row printed as each
    is measured (the whole table again at the end); returns the measurements."""
    results = {}
    order = sorted(networks, key=lambda r: r != "jet-mlp")  # jet-mlp first: its table leads
    for recipe in order:
        net = prepare(recipe, samples or NETWORKS[recipe], tmp)
        results[recipe] = (net, measure(net, tmp, recipe in csim))
        if recipe == "jet-mlp":
            jet_table(*results[recipe])
        print("  " + " | ".join(map(str, network_row(recipe, results[recipe][1]))), flush=True)
        print(f"    engine: {results[recipe][1]['engine']}, {results[recipe][1]['engine_why']}", flush=True)
    rows = [network_row(r, results[r][1]) for r in networks if r in results]
    table("values, samples/s (0 mismatches vs QONNX asserted; hls4ml C-sim equal to the emulator asserted)",
          NETWORK_HEADER, rows)
    within = [r for r, (_, m) in results.items() if m["emulator"] <= 3 * m["ort"]]
    print(f"acceptance (emulator within 3x of onnxruntime float): {len(within)} of {len(results)} networks "
          f"({', '.join(within) or 'none'})")
    return results


def _env() -> dict:
    """This checkout first on the path of a fresh process, then the caller's PYTHONPATH (kept)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


def fresh_emulate_values_seconds(net: Net, tmp: Path) -> float:
    """`hil emulate --inputs x.npy --frames 1` as a fresh process: start-up, the values of every sample,
    the QONNX comparison and one frame of timing."""
    np.save(tmp / "fresh_x.npy", net.x)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "toolchain.cli", "emulate", str(net.df_path), "--inputs",
                           str(tmp / "fresh_x.npy"), "--frames", "1", "--json"], capture_output=True, text=True,
                          cwd=ROOT, env=_env())
    seconds = time.perf_counter() - t0
    if proc.returncode or json.loads(proc.stdout)["mismatches"] != 0:
        raise SystemExit(f"hil emulate --inputs failed: {proc.stderr.strip() or proc.stdout[:200]}")
    return seconds


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
    proc = subprocess.run([sys.executable, "-m", "toolchain.cli", "emulate", str(path), "--frames", "1", "--size-fifos",
                           "--json"], capture_output=True, text=True, cwd=ROOT, env=_env())
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
    ap.add_argument("--samples", type=int, default=None, help="inputs per network (default 10,000; 1,000 for CNV)")
    ap.add_argument("--networks", default=",".join(NETWORKS), help="comma-separated recipes of the values tables")
    ap.add_argument("--no-csim", action="store_true", help="skip hls4ml C-sim (g++ takes minutes per network)")
    ap.add_argument("--csim-networks", default=None,
                    help="comma-separated networks to C-simulate (default: all of --networks)")
    ap.add_argument("--no-timing", action="store_true", help="values tables only")
    ap.add_argument("--cnv-fps", type=float, default=3_000.0, help="SetFolding target for the folded cnv-w1a1")
    ap.add_argument("--frames", type=int, default=2, help="frames of the multi-frame timing runs")
    ap.add_argument("--fold", type=int, default=1, help="PE = SIMD of the synthetic CNV-like graph")
    args = ap.parse_args()
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        networks = args.networks.split(",")
        csim = set() if args.no_csim else set(args.csim_networks.split(",") if args.csim_networks else networks)
        results = bench_values(networks, args.samples, csim, tmp)
        if "jet-mlp" in results:
            net = results["jet-mlp"][0]
            import ml_dtypes  # onnx imports it; its version sets much of the start-up (pyproject.toml)

            print(f"hil emulate --inputs ({len(net.x):,} jet-mlp samples, --frames 1) as a fresh process: "
                  f"{fresh_emulate_values_seconds(net, tmp):.2f} s (target < 2 s; ml_dtypes {ml_dtypes.__version__}, "
                  f"load average {os.getloadavg()[0]:.1f})")
        if not args.no_timing:
            rows = bench_real_timing(args.cnv_fps, args.frames, tmp) + bench_synthetic_timing(args.fold, args.frames)
            table("timing engine (numba max-plus kernel)",
                  ("graph", "nodes", "frames", "events", "kernel s", "token·node updates/s", "simulated cycles",
                   "cycles/s", "1 frame + FIFO sizing, s (in process)", "hil emulate --size-fifos, s (fresh process)"),
                  rows)
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
