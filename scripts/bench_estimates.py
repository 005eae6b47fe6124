"""Resource estimates against every calibration point of docs/hls4ml.md §4, and FINN's
folding-tutorial numbers (docs/finn.md §5.2) reproduced by the finn cost model, with FINN's own
estimate (finn-plus) beside ours per layer, also for every FINN layer of CNV-w1a1. Prints tables.

    .venv/bin/python scripts/bench_estimates.py [--seeds 5] [--fit] [--yosys]

The jet-tagger weights behind the hls4ml points are not published. They are modelled as follows
(assumptions, stated once here): the tutorial builds Dense 16-64-32-32-5 with
kernel_initializer='lecun_uniform' and l1(1e-4); trained weights are drawn from N(0, 1/fan_in) (the
init's standard deviation, kept through training), quantized to fixed<16,6> by truncation (AP_TRN:
k = floor(w·2^10)), biases nonzero. Every estimate is the mean over `--seeds` draws, with the range.
The tiny CI Dense(1->2) uses its test's RandomUniform(1, 10) kernel.

--fit re-derives the fitted constants of hw/cost/primitives.py (SHIFT_ADD_MAX_DIGITS on DSP,
LUT_PER_ADDER_BIT on LUT, HLS4ML_CUT_LEVELS on FF) on the V1 per-layer points only.
--yosys also prints scripts/bench_synth.py's table: the calibrated model's rtl and hls profiles and
FINN's formulas against Yosys on MVAU and Thresholding layers, fit set and held-out set (needs yosys).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.golden for the FINN tutorial model

from hw.cost import finn as fc  # noqa: E402
from hw.cost import primitives as P  # noqa: E402
from hw.cost.hls4ml_dense import DenseConfig, IOType, hls4ml_dense  # noqa: E402

JET = [("fc1", 16, 64), ("fc2", 64, 32), ("fc3", 32, 32), ("output", 32, 5)]
T = "hls4ml-tutorial@c6b63d3"
# (layer, metric) -> target; docs/hls4ml.md §4.1, Vitis HLS 2024.1, xcu250, 5 ns, fixed<16,6>, RF 1
V1 = {("fc1", "DSP"): 461, ("fc2", "DSP"): 583, ("fc3", "DSP"): 347, ("output", "DSP"): 106,
      ("fc1", "LUT"): 26175, ("fc2", "LUT"): 44224, ("fc3", "LUT"): 21554, ("output", "LUT"): 4182,
      ("fc1", "FF"): 993, ("fc2", "FF"): 2891, ("fc3", "FF"): 1354, ("output", "FF"): 306}
V1_TOTAL = {"DSP": 1502, "LUT": 101839, "FF": 9363}
V1_NOT_MODELED = [("relu1", "LUT", 2432), ("relu2", "LUT", 1216), ("relu3", "LUT", 1216),
                  ("softmax", "LUT", 790), ("softmax", "FF", 392), ("softmax", "DSP", 5), ("softmax", "BRAM_18K", 8)]
V2_DSP = {"fc1": 461, "fc2": 583, "fc3": 347, "output": 80}  # RF 2, part2_advanced_config.ipynb
V2_TOTAL = {"DSP": 1476, "LUT": 102510, "FF": 9302}
CI = "hls4ml test/pytest/baselines"


def jet_weights(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.clip(np.floor(rng.normal(0, math.sqrt(1 / n_in), (n_in, n_out)) * 2**10), -2**15, 2**15 - 1)
            .astype(np.int64) for _, n_in, n_out in JET]


def ci_weights(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.floor(rng.uniform(1, 10, (1, 2)) * 2**10).astype(np.int64)


def dense_cfg(rf: int = 1, io: IOType = IOType.PARALLEL) -> DenseConfig:
    return DenseConfig(in_bits=16, weight_bits=16, acc_bits=16, reuse_factor=rf, io_type=io, dsp_block="DSP48E2")


def jet_estimates(seeds: int, rf: int) -> dict[tuple[str, str], np.ndarray]:
    """(layer, metric) -> estimates over the seeds."""
    out: dict[tuple[str, str], list[float]] = {}
    for seed in range(seeds):
        for (name, _, _), k in zip(JET, jet_weights(seed)):
            res = hls4ml_dense(k, dense_cfg(rf))
            for metric in ("DSP", "LUT", "FF"):
                out.setdefault((name, metric), []).append(getattr(res, metric))
    return {key: np.array(v) for key, v in out.items()}


def finn_equivalent(n_in: int, n_out: int, rf: int, metric: str):
    """FINN v0.10 HLS MVAU model of the same layer: SIMD = n_in, PE = n_out / RF, 16-bit operands,
    resType auto (LUT multipliers), no activation. FINN has no FF model."""
    if metric == "FF" or n_out % rf:
        return None
    pe = n_out // rf
    if metric == "DSP":
        return fc.mvau_dsp_hls(pe, n_in, 16, 16, "auto")
    return fc.mvau_lut_hls(pe=pe, simd=n_in, wbits=16, abits=16, mw=n_in, mh=n_out, input_signed=True,
                           acc_dtype_bits=32, mem_mode="internal_embedded", ram_style="auto", res_type="auto",
                           no_activation=1, ram_style_thresholds="auto", out_bits=16)


def finn_own(node, part: str, metric: str):
    """FINN's own estimate (finn-plus get_exp_cycles / node_res_estimation) of the FINN node, via
    tests/oracle/finn_flow.py; None when finn-plus is not installed (the column then reads '-')."""
    from tests.oracle.finn_flow import FinnUnavailable, estimate_node, require_finn

    try:
        require_finn()
    except FinnUnavailable:
        return None
    return getattr(estimate_node(node, part), metric)


def finn_own_equivalent(n_in: int, n_out: int, rf: int, metric: str):
    """finn_equivalent computed by FINN itself: an MVAU_hls node with the same attributes."""
    if metric == "FF" or n_out % rf:
        return None
    from onnx import helper

    node = helper.make_node("MVAU_hls", ["x", "w"], ["y"], name="MVAU_hls_0", domain="finn.custom_op.fpgadataflow.hls",
                            backend="fpgadataflow", MW=n_in, MH=n_out, PE=n_out // rf, SIMD=n_in,
                            inputDataType="INT16", weightDataType="INT16", outputDataType="INT32",
                            accDataType="INT32", noActivation=1, mem_mode="internal_embedded", resType="auto")
    return finn_own(node, "xcu250-figd2104-2L-e", metric)


# ---- table ---------------------------------------------------------------------------------------
ROWS: list[tuple] = []


def row(source, point, target, est=None, finn=None, note="", own=None):
    """`finn`: our finn cost model; `own`: FINN's own estimate of the same node (finn-plus)."""
    ROWS.append((source, point, target, est, finn, note, own))


def _fmt_est(est) -> str:
    if est is None:
        return "-"
    est = np.atleast_1d(np.asarray(est, dtype=float))
    if est.size == 1 or est.min() == est.max():
        return f"{est.mean():,.0f}"
    return f"{est.mean():,.0f} [{est.min():,.0f}-{est.max():,.0f}]"


def _err(target, est) -> str:
    if est is None or target in (None, 0):
        return "-"
    return f"{100 * (np.mean(est) - target) / target:+.0f}%"


def print_table(title: str) -> None:
    print(f"\n{title}")
    print("FINN own = finn-plus's own estimate of the same FINN node (tests/oracle/finn_flow.py; '-' without finn-plus)")
    head = (f"{'source':<22}{'point':<28}{'target':>9}  {'calibrated (mean [range])':<27}{'err':>6}  {'finn':>9}{'err':>7}"
            f"  {'FINN own':>9}  note")
    print(head)
    print("-" * len(head))
    for source, point, target, est, finn, note, own in ROWS:
        tgt = "-" if target is None else f"{target:,.0f}"
        fin = "-" if finn is None else f"{finn:,.0f}"
        own_s = "-" if own is None else f"{own:,.0f}"
        print(f"{source:<22}{point:<28}{tgt:>9}  {_fmt_est(est):<27}{_err(target, est):>6}  {fin:>9}"
              f"{_err(target, finn):>7}  {own_s:>9}  {note}")
    ROWS.clear()


# ---- sections ------------------------------------------------------------------------------------
def hls4ml_points(seeds: int) -> None:
    v1, v2 = jet_estimates(seeds, 1), jet_estimates(seeds, 2)
    src1, src2 = "V1 part1 c26,28", "V2 part2 c25,27"
    for metric in ("DSP", "LUT", "FF"):
        for name, n_in, n_out in JET:
            row(src1, f"{name} {metric}", V1[(name, metric)], v1[(name, metric)], finn_equivalent(n_in, n_out, 1, metric),
                own=finn_own_equivalent(n_in, n_out, 1, metric))
    for metric in ("DSP", "LUT", "FF"):
        total = sum(V1[(n, metric)] for n, _, _ in JET)
        est = sum(v1[(n, metric)] for n, _, _ in JET)
        row(src1, f"sum of Dense {metric}", total, est, note="derived: sum of the per-layer targets")
    for name, metric, target in V1_NOT_MODELED:
        row(src1, f"{name} {metric}", target, note="not modeled: no such op in the dataflow IR")
    for metric in ("DSP", "LUT", "FF"):
        row(src1, f"design total {metric}", V1_TOTAL[metric], note="includes relu/softmax/IO: compare the Dense sum")
    for name, n_in, n_out in JET:
        row(src2, f"{name} DSP (RF 2)", V2_DSP[name], v2[(name, "DSP")], finn_equivalent(n_in, n_out, 2, "DSP"),
            own=finn_own_equivalent(n_in, n_out, 2, "DSP"))
    for metric in ("DSP", "LUT", "FF"):
        # non-Dense layers do not depend on the reuse factor: V2 Dense sum = V2 total - (V1 total - V1 Dense sum)
        rest = V1_TOTAL[metric] - sum(V1[(n, metric)] for n, _, _ in JET)
        target = sum(V2_DSP.values()) if metric == "DSP" else V2_TOTAL[metric] - rest
        est = sum(v2[(n, metric)] for n, _, _ in JET)
        row(src2, f"sum of Dense {metric} (RF 2)", target, est,
            note="" if metric == "DSP" else "derived: V2 total - V1 non-Dense")
    for io, tool in ((IOType.PARALLEL, "Vitis 2024.1"), (IOType.STREAM, "Vitis 2024.1"), (IOType.PARALLEL, "Vivado 2020.1")):
        est = np.array([hls4ml_dense(ci_weights(s), dense_cfg(io=io)).DSP for s in range(seeds)])
        row(f"CI {tool.split()[0]} {io.value}", "Dense(1->2) DSP", 2, est, finn_equivalent(1, 2, 1, "DSP"), CI)
    for io, lut, ff in ((IOType.PARALLEL, 354, 145), (IOType.STREAM, 279, 110)):
        est = [hls4ml_dense(ci_weights(s), dense_cfg(io=io)) for s in range(seeds)]
        note = "target = whole design incl. ELU table + IO; Dense only estimated"
        row(f"CI Vitis {io.value}", "Dense(1->2)+ELU LUT", lut, None, note=f"{note} ({_fmt_est([r.LUT for r in est])})")
        row(f"CI Vitis {io.value}", "Dense(1->2)+ELU FF", ff, None, note=f"{note} ({_fmt_est([r.FF for r in est])})")
    print_table(f"hls4ml calibration points (docs/hls4ml.md §4; V1/V2 = {T}, Vitis HLS 2024.1, xcu250, 5 ns, "
                f"fixed<16,6>; CI = {CI}, Vitis = 2024.1).\nerr = (estimate - target) / target; finn = FINN v0.10 HLS "
                "MVAU formulas for the same layer at SIMD = n_in, PE = n_out / RF")


def finn_tutorial_points() -> None:
    from qonnx.custom_op.registry import getCustomOp

    from hw.cost.calibrated import calibrated_resources
    from hw.cost.resources import CostModel
    from hw.devices import get_device
    from tests.golden.dataflow_models import cybsec_mlp

    src = "FINN 3_folding"
    unfolded = {"MVAU_0": (38400, 5, 319), "MVAU_1": (4096, 1, 320), "MVAU_2": (4096, 1, 320), "MVAU_3": (64, 1, 320)}
    device = get_device("Pynq-Z1")
    cases = [(cybsec_mlp(), unfolded, "PE=SIMD=1"),
             (cybsec_mlp(folding={0: (2, 5)}, dwc_after_0=(4, 2)), {"MVAU_0": (3840, 8, 418), "DWC_0": (0, 0, 3)},
              "PE=2,SIMD=5")]
    for model, points, fold in cases:
        for node in model.graph.node:
            if node.name not in points:
                continue
            op = getCustomOp(node)
            finn, cal = op.resources(CostModel.FINN), calibrated_resources(model, node, device)
            cycles, bram, lut = points[node.name]
            from tests.oracle.finn_flow import finn_node_from_hw

            theirs = finn_node_from_hw(op)
            row(src, f"{node.name} cycles, {fold}", cycles, None, op.cycles(), own=finn_own(theirs, device.part, "cycles"))
            row(src, f"{node.name} BRAM_18K", bram, None, finn.BRAM_18K, f"calibrated {cal.BRAM_18K:.0f}",
                own=finn_own(theirs, device.part, "BRAM_18K"))
            row(src, f"{node.name} LUT", lut, None, finn.LUT, f"calibrated {cal.LUT:.0f} (FF {cal.FF:.0f})",
                own=finn_own(theirs, device.part, "LUT"))
    print_table("FINN folding tutorial (docs/finn.md §5.2, notebooks/advanced/3_folding.ipynb@74918647c): the finn "
                "cost model must be exact; calibrated figures for comparison")


def finn_network_layers(part: str = "xc7z020clg400-1") -> None:
    """Per FINN layer of FINN's CNV-w1a1 (tests/golden/dataflow_models.py, FINN's canonical SIMD/PE) as the
    FINN handoff targets finn-plus (toolchain/backends/finn.py:finn_styled: RTL SWGs, each max-pool an SWG +
    Pool pair): our finn cost model beside FINN's own estimate of the same layer."""
    from qonnx.custom_op.registry import getCustomOp

    from tests.golden.dataflow_models import cnv_w1a1
    from tests.oracle.differential import METRICS, compare
    from tests.oracle.configs import Config
    from tests.oracle.finn_flow import FinnUnavailable, require_finn
    from toolchain.backends.finn import finn_styled

    try:
        require_finn()
    except FinnUnavailable as err:
        print(f"\nFINN's CNV-w1a1 per layer: skipped ({err})")
        return
    model = finn_styled(cnv_w1a1())
    config = Config("cnv-w1a1", part, [])
    config.model = lambda: model  # the golden graph itself, not a generated one
    print(f"\nFINN's CNV-w1a1 per FINN layer on {part}, finn-plus style: ours / FINN own (finn-plus 1.6.1)")
    head = f"{'layer':<50}" + "".join(f"{m:>18}" for m in METRICS)
    print(head + "\n" + "-" * len(head))
    for r in compare(config):
        kind = getCustomOp(next(n for n in model.graph.node if n.name == r.node.split("/")[0])).onnx_node.op_type
        cells = "".join(f"{f'{r.ours[m]:,.0f} / ' + ('-' if r.finn is None else f'{r.finn[m]:,.0f}'):>18}"
                        for m in METRICS)
        print(f"{r.node + ' (' + kind + ')':<50}{cells}{'' if r.equal else '  ' + (r.finn_error or 'DIFFERENT')}")


# ---- fit -----------------------------------------------------------------------------------------
def _score(seeds: int, metric: str) -> float:
    est = jet_estimates(seeds, 1)
    return float(np.mean([abs(math.log(max(np.mean(est[(n, metric)]), 1) / V1[(n, metric)])) for n, _, _ in JET]))


def fit(seeds: int) -> None:
    """One constant per metric, in order: digits on DSP, LUT/adder bit on LUT, cut level on FF."""
    grids = [("SHIFT_ADD_MAX_DIGITS", "DSP", [2, 3, 4, 5]),
             ("LUT_PER_ADDER_BIT", "LUT", [round(0.4 + 0.05 * i, 2) for i in range(13)]),
             ("HLS4ML_CUT_LEVELS", "FF", [3.0 + 0.25 * i for i in range(7)])]
    print("\nfit on V1 per-layer points (mean |log(estimate/target)| over the 4 Dense layers)")
    for const, metric, grid in grids:
        current = getattr(P, const)
        scores = []
        for value in grid:
            setattr(P, const, value)
            scores.append(_score(seeds, metric))
        best = grid[int(np.argmin(scores))]
        setattr(P, const, current)
        print(f"  {const:<22} on {metric:<4}: best {best} (score {min(scores):.3f}); in primitives.py: {current}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="synthetic weight draws per estimate")
    ap.add_argument("--fit", action="store_true", help="re-derive the fitted constants")
    ap.add_argument("--yosys", action="store_true", help="also the error table against Yosys (bench_synth.py)")
    args = ap.parse_args()
    hls4ml_points(args.seeds)
    finn_tutorial_points()
    finn_network_layers()
    if args.fit:
        fit(args.seeds)
    if args.yosys:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_synth

        sys.argv = [sys.argv[0]]
        bench_synth.main()


if __name__ == "__main__":
    main()
