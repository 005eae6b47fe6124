"""hls4ml backend benchmark: `hil build` time without C-sim (a subprocess, as a user runs it), and the C-sim
(g++ build seconds, mismatching samples against the emulator) for the zoo models the equivalence test uses,
at the same two foldings (tests/equiv/test_hls4ml_csim.py).

    .venv/bin/python scripts/bench_hls4ml.py [--samples 1000] [--recipes digits-mlp,jet-mlp,tfc-w1a1,digits-cnn]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.equiv.test_hls4ml_csim import FOLDED, RECIPES, parallel_folding  # noqa: E402  same configurations


def hil(*args: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "hil"), *args, "--json"], capture_output=True, text=True,
                          cwd=ROOT)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"hil {' '.join(args)} failed: {proc.stderr.strip()}")
    return seconds, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--recipes", default=",".join(RECIPES))
    args = parser.parse_args()

    from toolchain.backends.hls4ml import build_hls4ml
    from toolchain.export import export_run
    from toolchain.lower import lower_model
    from toolchain.onnxio import load_model

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for recipe in args.recipes.split(","):
            src = tmp / f"{recipe}.onnx"
            export_run(recipe, src, untrained=True, samples=50)
            for name in ("parallel", "folded"):
                base = load_model(src)
                fold = parallel_folding(lower_model(base)) if name == "parallel" else FOLDED[recipe]
                model = lower_model(load_model(src), folding=fold, source=src.name)
                df = tmp / f"{recipe}-{name}.onnx"
                model.save(str(df))
                build_s, _ = hil("build", str(df), "--backend", "hls4ml", "-o", str(tmp / f"prj-{recipe}-{name}"))
                result = build_hls4ml(model, tmp / f"csim-{recipe}-{name}", csim=args.samples)
                rfs = ",".join(str(layer["reuse_factor"]) for layer in result["layers"] if "reuse_factor" in layer)
                c = result["csim"]
                rows.append((recipe, name, rfs, f"{build_s:.2f}", f"{c['compile_seconds']:.2f}",
                             f"{c['mismatches']}/{c['samples']}"))
    header = ("recipe", "folding", "reuse factors", "hil build s (no csim)", "g++ s", "mismatches")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))


if __name__ == "__main__":
    main()
