"""Emulator time vs Verilator build and simulation time per design (issue 12), and the co-simulation
verdict (mismatches, cycle-exact, FIFO high-water marks equal). Prints a table.

    .venv/bin/python scripts/bench_rtl.py [--samples 1000] [--recipes digits-mlp tfc-w1a1 cybsec-mlp]

Each recipe is exported untrained (toolchain.export.export_run), lowered at PE=SIMD=1 and at
--target-fps, and built with the rtl backend. Verilator builds use a fresh cache directory so that
the build time is measured (HIL_VERILATOR_CACHE); 'emulator s' is the timing engine (rtl profile)
plus execute_dataflow on the same samples.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toolchain.backends.rtl import build_rtl  # noqa: E402
from toolchain.export import export_run  # noqa: E402
from toolchain.lower import lower_model  # noqa: E402
from toolchain.onnxio import load_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--recipes", nargs="+", default=["digits-mlp", "tfc-w1a1", "cybsec-mlp"])
    ap.add_argument("--target-fps", type=float, default=100000.0)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["HIL_VERILATOR_CACHE"] = str(tmp / "cache")
        for recipe in args.recipes:
            src = tmp / f"{recipe}.onnx"
            export_run(recipe, src, untrained=True, samples=100)
            for label, kw in (("PE=SIMD=1", {}), (f"{args.target_fps:g} fps", {"target_fps": args.target_fps})):
                model = lower_model(load_model(src), **kw)
                t0 = time.perf_counter()
                c = build_rtl(model, tmp / f"{recipe}_{len(rows)}", cosim=args.samples)["cosim"]
                rows.append((recipe, label, c, time.perf_counter() - t0))
                print(f"  {recipe} {label}: done in {rows[-1][3]:.0f} s", file=sys.stderr)
    head = (f"{'design':<12} {'folding':<12} {'cycles':>10} {'emulator s':>10} {'build s':>8} {'sim s':>7} "
            f"{'mism.':>5} {'cyc-exact':>9} {'hwm eq':>6}")
    print(f"{args.samples} samples per design")
    print(head)
    print("-" * len(head))
    for recipe, label, c, _ in rows:
        print(f"{recipe:<12} {label:<12} {c['rtl_cycles']:>10} {c['emulator_seconds']:>10.2f} "
              f"{c['build_seconds']:>8.1f} {c['sim_seconds']:>7.2f} {c['mismatches']:>5} "
              f"{str(c['cycle_exact']):>9} {str(c['fifo_high_water_equal']):>6}")


if __name__ == "__main__":
    main()
