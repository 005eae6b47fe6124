"""The cost models against Yosys: MVAU and Thresholding layer configurations, each built by the RTL
backend and synthesized alone (`hil synth`, Yosys synth_xilinx, xc7), beside the calibrated model's
`rtl` profile (hw/cost/rtl.py: our templates under Yosys' rules), its `hls` profile (FINN's HLS
kernels under Vivado) and the `finn` estimates of the same layer. Prints one row per configuration
and the error table.

    .venv/bin/python scripts/bench_synth.py [--quick] [--fit] [--designs [DESIGN ...] [--target-fps F]]

The configurations are split in two (split()): even rows are the fit set, odd rows the held-out
set. The `rtl` profile's LUT coefficients (hw/cost/rtl.py LUT_COEF) were fitted on the fit set only
(`--fit` refits them, non-negative least squares, and prints them); its FF, DSP and BRAM are counts
of the templates' structure, not fitted. The error table reports, per resource, the mean and max
absolute relative error of each model on both sets, and of a per-op linear correction of the `hls`
profile (resource_yosys ~ a * resource_calibrated + b, least squares on the fit set only) on the
held-out set. Each configuration's weights come from its own seed (its name), so any subset builds
the same layers. Yosys results are cached (~/.cache/hil/yosys), so reruns are fast.

--designs: whole dataflow models instead (`hil lower` outputs, or zoo recipes exported untrained and
lowered at PE=SIMD=1 and at --target-fps; without names the four acceptance designs of issue 12):
each built with the RTL backend and synthesized by `hil synth`, node by node beside the rtl profile's
estimate (`hil estimate --cost calibrated --impl rtl`), with the totals (the top's edge FIFOs that are
no node apart).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hw.cost import rtl as rtl_cost  # noqa: E402
from hw.cost.calibrated import Context, calibrated_resources  # noqa: E402
from hw.cost.resources import CostModel, Resources  # noqa: E402
from hw.ops.graph import NodeSpec, linear_model  # noqa: E402
from toolchain.backends.rtl import write_rtl  # noqa: E402
from toolchain.backends.synth import Cells  # noqa: E402
from toolchain.defaults import resolve_device  # noqa: E402

KEYS = ("LUT", "FF", "DSP", "BRAM_18K")


def mvau(rng, mw, mh, pe, simd, idt, wdt, steps):
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


def thresholding(rng, c, pe, idt, steps):
    t = np.sort(rng.integers(0, 2 ** int(idt[4:]), size=(c, steps)), axis=1).astype(np.float64)
    return NodeSpec("Thresholding", {"NumChannels": c, "PE": pe, "numSteps": steps, "inputDataType": idt,
                                     "weightDataType": idt, "outputDataType": f"UINT{int(np.log2(steps + 1))}"}, [t])


# (name, builder, args): pairs of similar layers, so that the fit set (even rows) and the held-out set
# (odd rows) cover the same kinds (DSP and fabric multipliers, XNOR, no activation, thresholds alone)
# with different shapes, foldings and widths
CONFIGS = [
    ("mvau 64x32 p1s1 u4xi4 t15", mvau, (64, 32, 1, 1, "UINT4", "INT4", 15)),
    ("mvau 64x32 p2s4 u4xi4 t15", mvau, (64, 32, 2, 4, "UINT4", "INT4", 15)),
    ("mvau 32x16 p4s8 u2xi2 t3", mvau, (32, 16, 4, 8, "UINT2", "INT2", 3)),
    ("mvau 32x16 p2s2 u2xi2 t3", mvau, (32, 16, 2, 2, "UINT2", "INT2", 3)),
    ("mvau 64x64 p4s4 bin xnor", mvau, (64, 64, 4, 4, "BIPOLAR", "BIPOLAR", 1)),
    ("mvau 64x64 p8s8 bin xnor", mvau, (64, 64, 8, 8, "BIPOLAR", "BIPOLAR", 1)),
    ("mvau 16x10 p1s4 u8xi8 noact", mvau, (16, 10, 1, 4, "UINT8", "INT8", 0)),
    ("mvau 32x10 p2s2 u4xi4 noact", mvau, (32, 10, 2, 2, "UINT4", "INT4", 0)),
    ("thr 32 p1 u8 t15", thresholding, (32, 1, "UINT8", 15)),
    ("thr 32 p4 u8 t15", thresholding, (32, 4, "UINT8", 15)),
    ("thr 64 p2 u4 t3", thresholding, (64, 2, "UINT4", 3)),
    ("thr 64 p8 u4 t3", thresholding, (64, 8, "UINT4", 3)),
    ("mvau 32x32 p2s2 u4xi4 t7", mvau, (32, 32, 2, 2, "UINT4", "INT4", 7)),
    ("mvau 48x16 p4s4 u4xi4 t7", mvau, (48, 16, 4, 4, "UINT4", "INT4", 7)),
    ("mvau 32x32 p4s2 u3xi2 t3", mvau, (32, 32, 4, 2, "UINT3", "INT2", 3)),
    ("mvau 64x16 p2s8 u2xi3 t3", mvau, (64, 16, 2, 8, "UINT2", "INT3", 3)),
    ("mvau 128x32 p4s8 bin xnor", mvau, (128, 32, 4, 8, "BIPOLAR", "BIPOLAR", 1)),
    ("mvau 32x64 p8s4 bin xnor", mvau, (32, 64, 8, 4, "BIPOLAR", "BIPOLAR", 1)),
    ("mvau 64x10 p2s4 u4xi2 noact", mvau, (64, 10, 2, 4, "UINT4", "INT2", 0)),
    ("mvau 16x20 p4s2 u2xi4 noact", mvau, (16, 20, 4, 2, "UINT2", "INT4", 0)),
    ("thr 16 p2 u6 t7", thresholding, (16, 2, "UINT6", 7)),
    ("thr 48 p4 u6 t7", thresholding, (48, 4, "UINT6", 7)),
    ("thr 32 p8 u8 t3", thresholding, (32, 8, "UINT8", 3)),
    ("thr 128 p4 u4 t15", thresholding, (128, 4, "UINT4", 15)),
    ("mvau 32x16 p4s4 u4xi4 t3", mvau, (32, 16, 4, 4, "UINT4", "INT4", 3)),
    ("mvau 64x8 p2s8 u4xi4 t3", mvau, (64, 8, 2, 8, "UINT4", "INT4", 3)),
    ("mvau 32x8 p2s8 u8xi4 noact", mvau, (32, 8, 2, 8, "UINT8", "INT4", 0)),
    ("mvau 64x12 p4s4 u4xi8 noact", mvau, (64, 12, 4, 4, "UINT4", "INT8", 0)),
    # comparators too narrow for a carry chain (cmp2lcu: 2 groups or fewer; hw/cost/rtl.py compare_luts)
    ("thr 32 p4 u4 t3", thresholding, (32, 4, "UINT4", 3)),
    ("thr 24 p2 u5 t7", thresholding, (24, 2, "UINT5", 7)),
    # XNOR lanes whose weight ROM is 32 or 64 words: the ROM column and its XNOR with x fill a LUT6 or
    # spill into a LUT7 (hw/cost/rtl.py mvau, the 64-word rule)
    ("mvau 32x32 p4s4 bin xnor", mvau, (32, 32, 4, 4, "BIPOLAR", "BIPOLAR", 1)),
    ("mvau 64x16 p2s8 bin xnor", mvau, (64, 16, 2, 8, "BIPOLAR", "BIPOLAR", 1)),
    ("mvau 32x32 p4s8 bin xnor", mvau, (32, 32, 4, 8, "BIPOLAR", "BIPOLAR", 1)),
    ("mvau 64x16 p4s8 bin xnor", mvau, (64, 16, 4, 8, "BIPOLAR", "BIPOLAR", 1)),
]
QUICK = 4  # --quick: the first rows only


def spec(name: str) -> NodeSpec:
    """The layer of configuration `name`, its random values seeded by the name."""
    _, build, args = next(c for c in CONFIGS if c[0] == name)
    return build(np.random.default_rng(zlib.crc32(name.encode())), *args)


def split(names: list[str]) -> tuple[list[str], list[str]]:
    """(fit set, held-out set): even and odd rows of CONFIGS."""
    order = [c[0] for c in CONFIGS]
    fit = [n for n in names if order.index(n) % 2 == 0]
    return fit, [n for n in names if order.index(n) % 2 == 1]


def measure(name: str, device, tmp: Path) -> dict:
    """Yosys' cells of the configuration's node, and every model's estimate of it."""
    from qonnx.custom_op.registry import getCustomOp

    model = linear_model([spec(name)], name=name.replace(" ", "_"))
    node = model.graph.node[0]
    write_rtl(model, tmp / "prj")
    cells = synthesize_node(tmp / "prj", node.name, device.part)
    op = getCustomOp(node)
    return {"yosys": cells.resources(), "cells": cells, "op": node.op_type,
            "rtl": calibrated_resources(model, node, device, impl="rtl"),
            "structure": op.rtl_structure(Context(model, node, device.dsp_block, device.default_clock_ns)),
            "calibrated": calibrated_resources(model, node, device),
            "finn": op.resources(CostModel.FINN, device)}


def synthesize_node(project: Path, name: str, part: str) -> Cells:
    """Yosys' cells of one node's instance of an RTL project, as `hil synth` synthesizes (and caches)
    it, without the project's edge FIFOs (toolchain/backends/synth.py, instance by instance)."""
    from toolchain.backends import synth as S

    yosys = S.require_yosys()
    project = project.resolve()
    manifest = S.read_manifest(project)
    family, version = S.family_of(part), S.yosys_version(yosys)
    sources = [s for s in manifest["sources"] if s != f"{manifest['top']}.sv"]
    inst = next(i for i in manifest["instances"] if i["name"] == name)
    text = S._wrapper(inst)
    mems = sorted(v for v in inst["params"].values() if isinstance(v, str) and v)
    key = S._key(project, sources + mems, text, family, version)
    return S.Cells.from_cell_types(S._run(yosys, project, sources, text, family, key, "hil_synth_wrap"))


def rel(est, ref):
    return abs(est - ref) / ref if ref else (0.0 if est == 0 else float("inf"))


def errors(rows: dict, names: list[str], model: str, key: str) -> list[float]:
    return [rel(getattr(rows[n][model], key), getattr(rows[n]["yosys"], key)) for n in names]


def nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Non-negative least squares (active set by elimination: drop the most negative, refit)."""
    active = list(range(a.shape[1]))
    while True:
        x = np.zeros(a.shape[1])
        if active:
            x[active] = np.linalg.lstsq(a[:, active], b, rcond=None)[0]
        negative = [i for i in active if x[i] < 0]
        if not negative:
            return x
        active.remove(min(negative, key=lambda i: x[i]))


def fit_lut(rows: dict, fit: list[str]) -> dict[str, float]:
    """LUT_COEF fitted on the fit set: yosys LUT - counted parts ~ sum_k coef_k * part_k (the counted
    parts, LUTRAM and the DSP ports' LUTs, enter the estimate with coefficient 1, so not the fit)."""
    keys = [k for k in rtl_cost.LUT_COEF if k not in rtl_cost.COUNTED]
    a = np.array([[rows[n]["structure"].parts.get(k, 0.0) for k in keys] for n in fit])
    b = np.array([rows[n]["yosys"].LUT - sum(rows[n]["structure"].parts.get(k, 0.0) for k in rtl_cost.COUNTED)
                  for n in fit])
    return {k: round(float(v), 3) for k, v in zip(keys, nnls(a, b))}


ACCEPTANCE = ("digits-mlp", "tfc-w1a1", "cybsec-mlp", "digits-cnn")  # issue 12's designs


def design_models(sources: list[str], target_fps: float, tmp: Path):
    """(label, dataflow model) per design: a `hil lower` output as it is; a zoo recipe exported untrained
    and lowered twice, at PE=SIMD=1 and at --target-fps."""
    from toolchain.export import export_run
    from toolchain.lower import lower_model
    from toolchain.onnxio import load_model

    for source in sources:
        if source.endswith(".onnx"):
            yield source, load_model(source)
            continue
        export_run(source, tmp / f"{source}.onnx", untrained=True, samples=100)
        for label, kw in (("PE=SIMD=1", {}), (f"{target_fps:g} fps", {"target_fps": target_fps})):
            yield f"{source} {label}", lower_model(load_model(tmp / f"{source}.onnx"), **kw)


def designs(sources: list[str], target_fps: float) -> None:
    """Per node: Yosys (hil synth) vs the rtl profile, for whole designs; each design's synthesis wall
    time (0 when every instance was in the Yosys cache)."""
    import time

    from toolchain.backends.rtl import write_rtl
    from toolchain.backends.synth import synthesize
    from toolchain.errors import UserError
    from toolchain.estimate import estimate

    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, model) in enumerate(design_models(sources, target_fps, Path(tmp))):
            write_rtl(model, Path(tmp) / f"prj{i}")
            t0 = time.perf_counter()
            report = synthesize(Path(tmp) / f"prj{i}")
            seconds = time.perf_counter() - t0
            measured = {i.name: i.cells.resources() for i in report.instances if i.node}
            nodes = sum(measured.values(), Resources())
            print(f"\n{label}: yosys / rtl profile ({len(measured)} nodes, hil synth {seconds:.0f} s)", flush=True)
            try:
                est = estimate(model, cost="calibrated", impl="rtl")
            except UserError as err:  # an op without an rtl profile: Yosys' numbers only
                print(f"  no rtl profile estimate: {err}")
                print(f"{'nodes':<16}" + "".join(f"{getattr(nodes, k):>9g}/{'':>6}" for k in KEYS))
                continue
            print(f"{'node':<16}" + "".join(f"{k:>16}" for k in KEYS))
            for row in est["layers"]:
                y = measured[row["name"]]
                print(f"{row['name']:<16}" + "".join(f"{getattr(y, k):>9g}/{row[k]:>6g}" for k in KEYS)
                      + f"  LUT {row['LUT'] / y.LUT - 1:+.0%}" * bool(y.LUT))
            print(f"{'nodes':<16}" + "".join(f"{getattr(nodes, k):>9g}/{est['total'][k]:>6g}" for k in KEYS)
                  + f"  LUT {est['total']['LUT'] / nodes.LUT - 1:+.0%}" * bool(nodes.LUT))
            edges = sum((i.cells.resources() for i in report.instances if not i.node), Resources())
            print(f"{'other edges':<16}" + "".join(f"{getattr(edges, k):>9g}/{'':>6}" for k in KEYS)
                  + "  (the top's FIFOs that are no node: not in the estimate)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"the first {QUICK} configurations only")
    ap.add_argument("--fit", action="store_true", help="refit the rtl profile's LUT coefficients on the fit set")
    ap.add_argument("--designs", nargs="*", metavar="DESIGN",
                    help="whole designs instead, node by node: dataflow .onnx files, or zoo recipes (exported "
                         f"untrained, at PE=SIMD=1 and at --target-fps); none: {' '.join(ACCEPTANCE)}")
    ap.add_argument("--target-fps", type=float, default=100000.0, help="the folded designs' target (default 1e5)")
    args = ap.parse_args()
    if args.designs is not None:
        designs(args.designs or list(ACCEPTANCE), args.target_fps)
        return
    device = resolve_device(None)
    names = [c[0] for c in CONFIGS][:QUICK if args.quick else None]
    rows = {}
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            rows[name] = measure(name, device, Path(tmp))
    fit, held = split(names)
    if args.fit:
        coef = fit_lut(rows, fit)
        print(f"LUT_COEF fitted on {len(fit)} configurations: {coef}")
        rtl_cost.LUT_COEF.update(coef)
        for n in names:
            rows[n]["rtl"] = rows[n]["structure"].resources()
    print(f"{'configuration':<30}" + "".join(f"{k + ' y/rtl/hls/finn':>30}" for k in KEYS))
    for name, r in rows.items():
        print(f"{name:<30}" + "".join(f"{getattr(r['yosys'], k):>9g}/{getattr(r['rtl'], k):>6g}/"
                                      f"{getattr(r['calibrated'], k):>6g}/{getattr(r['finn'], k):>6g}" for k in KEYS))
    print(f"\n|relative error| vs Yosys, mean (max): fit set ({len(fit)}) / held-out set ({len(held)})")
    for model, label in (("rtl", "calibrated rtl"), ("calibrated", "calibrated hls"), ("finn", "finn")):
        cells = []
        for k in KEYS:
            f, h = errors(rows, fit, model, k), errors(rows, held, model, k)
            cells.append(f"{k} {np.mean(f):5.0%} ({np.max(f):5.0%}) / {np.mean(h):5.0%} ({np.max(h):5.0%})")
        print(f"{label:<15}" + "   ".join(cells))
    print("\ncalibrated hls, linear per-op correction fitted on the fit set, error on the held-out set")
    for k in ("LUT", "FF"):
        errs = []
        for op in sorted({r["op"] for r in rows.values()}):
            xs = np.array([[getattr(rows[n]["calibrated"], k), 1.0] for n in fit if rows[n]["op"] == op])
            ys = np.array([getattr(rows[n]["yosys"], k) for n in fit if rows[n]["op"] == op])
            if len(xs) < 2:
                continue
            a, b = np.linalg.lstsq(xs, ys, rcond=None)[0]
            errs += [rel(a * getattr(rows[n]["calibrated"], k) + b, getattr(rows[n]["yosys"], k))
                     for n in held if rows[n]["op"] == op]
        if errs:
            print(f"  {k}: mean {np.mean(errs):.0%}, max {np.max(errs):.0%} over {len(errs)} held-out configurations")


if __name__ == "__main__":
    main()
