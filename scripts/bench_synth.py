"""The cost models against Yosys: MVAU and Thresholding layer configurations, each built by the RTL
backend and synthesized alone (`hil synth`, Yosys synth_xilinx, xc7), beside the `calibrated` and
`finn` estimates of the same layer. Prints one row per configuration and the error table.

    .venv/bin/python scripts/bench_synth.py [--jobs 2] [--quick]

The configurations are split in two: even rows are the fit set, odd rows the held-out set. The
error table reports, per resource, the mean absolute relative error of each model on both sets, and
of a per-op linear correction of the calibrated model (resource_yosys ~ a * resource_calibrated + b,
least squares on the fit set only) on the held-out set: how far a refit of the calibrated model's
constants to Yosys would get. Yosys results are cached (~/.cache/hil/yosys), so reruns are fast.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hw.cost.calibrated import calibrated_resources  # noqa: E402
from hw.cost.resources import CostModel  # noqa: E402
from hw.ops.graph import NodeSpec, linear_model  # noqa: E402
from toolchain.backends.rtl import write_rtl  # noqa: E402
from toolchain.backends.synth import synthesize  # noqa: E402
from toolchain.defaults import resolve_device  # noqa: E402

KEYS = ("LUT", "FF", "DSP", "BRAM_18K")
rng = np.random.default_rng(11)


def mvau(mw, mh, pe, simd, idt, wdt, steps):
    """An MVAU with random weights of wdt and (steps > 0) sorted random thresholds."""
    bits = int(wdt[3:]) if wdt.startswith("INT") else 1
    w = (rng.choice([-1.0, 1.0], size=(mw, mh)) if wdt == "BIPOLAR"
         else rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=(mw, mh)).astype(np.float64))
    attrs = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "inputDataType": idt, "weightDataType": wdt,
             "mem_mode": "internal_embedded"}
    inits = [w]
    if wdt == "BIPOLAR" and idt == "BIPOLAR":
        attrs.update(binaryXnorMode=1, outputDataType="BIPOLAR", accDataType="UINT16")
        inits.append(np.sort(rng.integers(0, mw, size=(mh, 1)), axis=1).astype(np.float64))
    elif steps:
        attrs.update(outputDataType=f"UINT{int(np.log2(steps + 1))}", accDataType="INT24", numSteps=steps)
        inits.append(np.sort(rng.integers(-4 * mw, 4 * mw, size=(mh, steps)), axis=1).astype(np.float64))
    else:
        attrs.update(outputDataType="INT24", accDataType="INT24", noActivation=1)
    return NodeSpec("MVAU", attrs, inits)


def thresholding(c, pe, idt, steps):
    t = np.sort(rng.integers(0, 2 ** int(idt[4:]), size=(c, steps)), axis=1).astype(np.float64)
    return NodeSpec("Thresholding", {"NumChannels": c, "PE": pe, "numSteps": steps, "inputDataType": idt,
                                     "weightDataType": idt, "outputDataType": f"UINT{int(np.log2(steps + 1))}"}, [t])


def configs(quick: bool):
    rows = [
        ("mvau 64x32 p1s1 u4xi4 t15", mvau(64, 32, 1, 1, "UINT4", "INT4", 15)),
        ("mvau 64x32 p2s4 u4xi4 t15", mvau(64, 32, 2, 4, "UINT4", "INT4", 15)),
        ("mvau 32x16 p4s8 u2xi2 t3", mvau(32, 16, 4, 8, "UINT2", "INT2", 3)),
        ("mvau 32x16 p2s2 u2xi2 t3", mvau(32, 16, 2, 2, "UINT2", "INT2", 3)),
        ("mvau 64x64 p4s4 bin xnor", mvau(64, 64, 4, 4, "BIPOLAR", "BIPOLAR", 1)),
        ("mvau 64x64 p8s8 bin xnor", mvau(64, 64, 8, 8, "BIPOLAR", "BIPOLAR", 1)),
        ("mvau 16x10 p1s4 u8xi8 noact", mvau(16, 10, 1, 4, "UINT8", "INT8", 0)),
        ("mvau 32x10 p2s2 u4xi4 noact", mvau(32, 10, 2, 2, "UINT4", "INT4", 0)),
        ("thr 32 p1 u8 t15", thresholding(32, 1, "UINT8", 15)),
        ("thr 32 p4 u8 t15", thresholding(32, 4, "UINT8", 15)),
        ("thr 64 p2 u4 t3", thresholding(64, 2, "UINT4", 3)),
        ("thr 64 p8 u4 t3", thresholding(64, 8, "UINT4", 3)),
    ]
    return rows[:4] if quick else rows


def measure(name, spec, jobs, device, tmp):
    model = linear_model([spec], name=name.replace(" ", "_"))
    node = model.graph.node[0]
    write_rtl(model, tmp / "prj")
    inst = next(i for i in synthesize(tmp / "prj", device.part, jobs=jobs).instances if i.name == node.name)
    from qonnx.custom_op.registry import getCustomOp

    return {"yosys": inst.cells.resources(), "calibrated": calibrated_resources(model, node, device),
            "finn": getCustomOp(node).resources(CostModel.FINN, device), "op": spec.op_type}


def rel(est, ref):
    return abs(est - ref) / ref if ref else (0.0 if est == 0 else float("inf"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="four configurations only")
    args = ap.parse_args()
    device = resolve_device(None)
    rows = []
    for name, spec in configs(args.quick):
        with tempfile.TemporaryDirectory() as tmp:
            rows.append((name, measure(name, spec, args.jobs, device, Path(tmp))))
    print(f"{'configuration':<30}" + "".join(f"{k + ' y/c/f':>22}" for k in KEYS))
    for name, r in rows:
        print(f"{name:<30}" + "".join(f"{getattr(r['yosys'], k):>8g}/{getattr(r['calibrated'], k):>6g}/"
                                      f"{getattr(r['finn'], k):>6g}" for k in KEYS))
    fit, held = rows[0::2], rows[1::2]
    print("\nmean |relative error| vs Yosys (fit set / held-out set)")
    for model in ("calibrated", "finn"):
        print(f"{model:<12}" + "".join(
            f"{k:>9} {np.mean([rel(getattr(r[model], k), getattr(r['yosys'], k)) for _, r in fit]):6.0%}"
            f" / {np.mean([rel(getattr(r[model], k), getattr(r['yosys'], k)) for _, r in held]):6.0%}" for k in KEYS))
    print("\ncalibrated, linear per-op correction fitted on the fit set, error on the held-out set")
    for k in ("LUT", "FF"):
        errs = []
        for op in sorted({r["op"] for _, r in rows}):
            xs = np.array([[getattr(r["calibrated"], k), 1.0] for _, r in fit if r["op"] == op])
            ys = np.array([getattr(r["yosys"], k) for _, r in fit if r["op"] == op])
            a, b = np.linalg.lstsq(xs, ys, rcond=None)[0]
            errs += [rel(a * getattr(r["calibrated"], k) + b, getattr(r["yosys"], k)) for _, r in held if r["op"] == op]
        print(f"  {k}: mean {np.mean(errs):.0%}, max {np.max(errs):.0%} over {len(errs)} held-out configurations")


if __name__ == "__main__":
    main()
