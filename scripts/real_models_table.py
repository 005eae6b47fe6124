"""Acceptance table of issue 9: plain Brevitas exports with the default quantizers (tests/equiv/
brevitas_defaults.py) and the QONNX zoo's TFC_1W1A lowered and compared with their source on >= 1,000
raw inputs (toolchain/equality.py: equal, verified float32 ties, mismatches, label agreement).

    .venv/bin/python scripts/real_models_table.py [--samples 1000] [--models cybsec,tfc,cnn,cnv,zoo-tfc]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.equiv and toolchain from this checkout, as the other scripts do


def _inputs(name: str, n: int) -> np.ndarray:
    from tests.equiv.brevitas_defaults import SHAPES

    rng = np.random.default_rng(1)
    if name == "zoo-tfc":
        return rng.random((n, 1, 28, 28)).astype(np.float32)  # MNIST-like pixels in [0, 1)
    return rng.standard_normal((n, *SHAPES[name][1:])).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--models", default="cybsec,tfc,cnn,cnv,zoo-tfc")
    args = ap.parse_args()  # before the heavy imports: --help answers at once

    from tests.equiv.brevitas_defaults import export
    from toolchain.lower import lower_file

    print(f"{'model':10} {'samples':>7} {'equal':>7} {'ties':>5} {'mism.':>5} {'equal %':>8} {'labels %':>8} "
          f"{'max |diff|':>10} {'tolerance':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            src = ROOT / "tests/data/TFC_1W1A.onnx" if name == "zoo-tfc" else export(name, Path(tmp) / f"{name}.onnx")
            r = lower_file(src, Path(tmp) / f"{name}_df.onnx", inputs=_inputs(name, args.samples))
            equal = r["samples"] - r["mismatches"] - r["ties"]
            print(f"{name:10} {r['samples']:7d} {equal:7d} {r['ties']:5d} {r['mismatches']:5d} "
                  f"{100 * equal / r['samples']:8.2f} {100 * r['label_agreement']:8.2f} {r['max_abs_diff']:10.3g} "
                  f"{r['tolerance']:10.3g}", flush=True)


if __name__ == "__main__":
    main()
