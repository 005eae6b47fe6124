"""`hil demo`: the main job on the embedded default (digits-mlp), end to end, with a short summary.

train (Brevitas QAT + float32 baseline) → export (QONNX, torch ≡ QONNX) → lower (folded to a target
throughput on a Pynq-Z2, dataflow ≡ QONNX) → estimate (FINN-exact and calibrated) → emulate (the
test set through the bit-exact, cycle-accurate emulator, FIFOs sized) → report (HTML). Every stage
leaves its JSON in the run folder, which is what `hil report` reads.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console
from rich.table import Table

from toolchain.defaults import DEFAULT_CLOCK_NS
from toolchain.fileio import atomic_path, write_json

DEMO_RECIPE = "digits-mlp"
DEMO_PART = "Pynq-Z2"
DEMO_CLOCK_NS = DEFAULT_CLOCK_NS  # the Pynq-Z2's 100 MHz
DEMO_TARGET_FPS = 200_000


def _test_inputs(out: Path) -> Path:
    from toolchain.data import load_dataset
    from toolchain.zoo import load_recipe

    path = out / "inputs.npy"
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, load_dataset(load_recipe(DEMO_RECIPE)).x_test)
    return path


def _stages(out: Path) -> list[tuple[str, Callable[[], dict], Callable[[dict], str]]]:
    from toolchain.emulate import emulate
    from toolchain.estimate import estimate
    from toolchain.export import export_run
    from toolchain.lower import lower_file
    from toolchain.onnxio import load_model
    from toolchain.train import train_recipe

    def calibrated(df: dict) -> str:
        cal = estimate(load_model(out / "dataflow.onnx"), part=DEMO_PART, clock_ns=DEMO_CLOCK_NS, cost="calibrated")
        t = cal["total"]
        return f"; calibrated {t['LUT']:,.0f} LUT, {t['FF']:,.0f} FF, {t['DSP']:.0f} DSP, {t['BRAM_18K']:.0f} BRAM18"

    return [
        ("train", lambda: train_recipe(DEMO_RECIPE, out, weight_bits=4, act_bits=4),
         lambda m: f"accuracy {m['accuracy']:.2%} (float32 {m['float_accuracy']:.2%}), {m['bops']:.3g} BOPs"),
        ("export", lambda: export_run(str(out), out / "model.onnx"),
         lambda r: f"torch ≡ QONNX: {r['mismatches']} mismatches on {r['samples']} samples"),
        ("lower", lambda: lower_file(out / "model.onnx", out / "dataflow.onnx", recipe=DEMO_RECIPE,
                                     target_fps=DEMO_TARGET_FPS, clock_ns=DEMO_CLOCK_NS, part=DEMO_PART),
         lambda r: f"{sum(r['nodes'].values())} nodes {r['nodes']}; dataflow ≡ QONNX: {r['mismatches']} mismatches "
                   f"on {r['samples']} samples"),
        ("estimate", lambda: estimate(load_model(out / "dataflow.onnx"), part=DEMO_PART, clock_ns=DEMO_CLOCK_NS),
         lambda e: f"FINN: {e['network']['estimated_throughput_fps']:,.0f} fps, {e['total']['LUT']:,.0f} LUT, "
                   f"{e['total']['BRAM_18K']:.0f} BRAM18 on {e['part']}" + calibrated(e)),
        ("emulate", lambda: emulate(out / "dataflow.onnx", inputs=_test_inputs(out), size=True, run_dir=out),
         lambda r: f"{r['mismatches']} mismatches on {r['samples']} test samples; latency {r['latency_cycles']} "
                   f"cycles, interval {r['interval_cycles']:.0f} cycles ({r['throughput_fps']:,.0f} fps), "
                   f"FIFOs sized {r['fifo_depths']}"),
    ]


def run_demo(out: Path) -> dict:
    from toolchain.report.html import write_report

    console = Console(stderr=True)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, results = [], {}
    for name, run, describe in _stages(out):
        t0 = time.perf_counter()
        with console.status(f"{name}..."):
            result = run()
        if name not in ("train", "emulate"):  # train writes metrics.json, emulate its JSON and timeline itself
            write_json(out / f"{name}.json", result)
        results[name] = result
        rows.append((name, describe(result), time.perf_counter() - t0))
    report = write_report(out)

    table = Table(title=f"hil demo: {DEMO_RECIPE}, 4-bit, {DEMO_PART} @ {DEMO_CLOCK_NS} ns")
    for col in ("stage", "result", "s"):
        table.add_column(col, overflow="fold")
    for name, text, secs in rows:
        table.add_row(name, text, f"{secs:.1f}")
    console.print(table)
    console.print(f"files in {out}/: checkpoint.pt, metrics.json, model.onnx, dataflow.onnx, "
                  f"estimate.json, emulate.json, emulate_timeline.json; report: {report}")
    from toolchain.schemas import versioned

    return versioned({"recipe": DEMO_RECIPE, "out": str(out), "report": str(report),
            "accuracy": results["train"]["accuracy"], "float_accuracy": results["train"]["float_accuracy"],
            "mismatches": {k: results[k]["mismatches"] for k in ("export", "lower", "emulate")},
            "throughput_fps": results["emulate"]["throughput_fps"]},
                     {"accuracy": "fraction of test samples", "throughput_fps": "frames per second (emulated)"})
