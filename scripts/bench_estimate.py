"""Benchmark: wall time of `hil estimate` (process start-up included) on hand-built dataflow graphs.

Target (issue 4): < 3 s for a lowered cnv-w1a1. Prints one row per model.

    .venv/bin/python scripts/bench_estimate.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.golden.dataflow_models import cnv_w1a1, cybsec_mlp  # noqa: E402

HIL = str(Path(sys.executable).with_name("hil"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        models = {"cybsec-mlp (4 MVAU)": cybsec_mlp(), "cnv-w1a1 (18 nodes, finn-examples folding)": cnv_w1a1()}
        print(f"{'model':<44}{'nodes':>6}{'size MB':>9}{'median s':>10}{'max s':>8}  target < 3 s")
        for name, model in models.items():
            path = Path(tmp) / "m.onnx"
            model.save(str(path))
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                proc = subprocess.run([HIL, "estimate", str(path), "--json"], capture_output=True, text=True)
                times.append(time.perf_counter() - t0)
                if proc.returncode not in (0, 2):
                    raise SystemExit(proc.stderr)
            ok = "ok" if max(times) < 3 else "TOO SLOW"
            print(f"{name:<44}{len(model.graph.node):>6}{path.stat().st_size / 1e6:>9.1f}"
                  f"{statistics.median(times):>10.2f}{max(times):>8.2f}  {ok}")


if __name__ == "__main__":
    main()
