"""`hil estimate`: analytic cycles, resources (FINN's formulas as finn-plus 1.6.1 computes them, or the calibrated model) and
energy per frame (hw/cost/energy.py) of a dataflow graph.

    estimate(model, part="xc7z020clg400-1", clock_ns=None, cost="finn") -> dict

`model` is a dataflow graph (`hil lower`); lowering a QONNX model or refolding first is the
pipeline's job (toolchain.pipeline.estimate_file), so this stage imports no other stage. The dict is
the `hil estimate --json` object, with "fits". Network figures follow FINN: max_cycles and
critical_path_cycles from dataflow_performance (finn/analysis/fpgadataflow/dataflow_performance.py,
docs/finn.md §2.2), throughput = f_clk / max_cycles, latency = critical_path_cycles · T_clk.
"""

from __future__ import annotations

from typing import Any, Optional

from hw.cost.resources import KEYS, CostModel, Resources
from toolchain.contract import is_dataflow
from toolchain.defaults import resolve_device
from toolchain.errors import UserError
from toolchain.schemas import versioned

RESULT = "estimate.json"
# resources a cost model has no formula for: null in the JSON, "n/a" in the report (FINN's
# res_estimation has no FF estimate, hw/cost/finn.py)
NOT_ESTIMATED: dict[CostModel, tuple[str, ...]] = {CostModel.FINN: ("FF",), CostModel.CALIBRATED: (),
                                                   CostModel.SYNTH: ()}
UNITS = {
    "clock_ns": "ns", "layers.cycles": "clock cycles per frame (FINN get_exp_cycles)",
    "layers.share_of_interval": "fraction of network.max_cycles (1 = the bottleneck)",
    "layers.LUT": "LUTs", "layers.FF": "flip-flops (null: not estimated by this cost model)",
    "layers.DSP": "DSP slices", "layers.BRAM_18K": "18 Kib block RAMs", "layers.URAM": "UltraRAM blocks",
    "layers.energy_pj": "pJ per frame, ASIC-45nm-relative (Horowitz ISSCC 2014)",
    "network.max_cycles": "clock cycles per frame (the interval)",
    "network.critical_path_cycles": "clock cycles (first input to last output of one frame)",
    "network.estimated_throughput_fps": "frames per second", "network.estimated_latency_ns": "ns",
    "total": "as layers.*", "part_capacity": "resources of the part, as layers.*",
    "rtl_only": "as layers.* (--cost synth: edge FIFOs of the RTL top that are no node; in total)",
    "utilization": "fraction of part_capacity (0..1; null: not estimated)",
    "utilization_percent": "percent of part_capacity (null: not estimated)",
    "total_energy_pj": "pJ per frame", "bottleneck.cycles": "clock cycles per frame",
    "bottleneck.relief.cycles": "clock cycles per frame of the bottleneck layer after the change",
    "bottleneck.relief.interval_cycles": "clock cycles per frame of the network after the change",
    "bottleneck.relief.extra": "resources added (as layers.*; negative: saved)",
}


def dataflow_performance(names: list[str], cycles: dict[str, int], preds: dict[str, list[str]]) -> dict:
    """FINN dataflow_performance.py: latency at a node's output = its cycles + the max over its
    predecessors (graph order); critical path = the max of those; max_cycles = the max of cycles."""
    latency: dict[str, int] = {}
    for name in names:
        latency[name] = cycles[name] + max((latency[p] for p in preds[name] if p in latency), default=0)
    return {"max_cycles": max(cycles.values(), default=0), "critical_path_cycles": max(latency.values(), default=0)}


def _predecessors(model) -> dict[str, list[str]]:
    producer = {t: n.name for n in model.graph.node for t in n.output}
    return {n.name: [producer[t] for t in n.input if t in producer] for n in model.graph.node}


def _layer(model, node, op, cost: CostModel, device, clock_ns: float,
           synth=None, impl: str = "hls") -> tuple[dict[str, Any], Resources]:
    from hw.cost.energy import node_energy_pj

    problems = op.verify_node()
    if problems:
        raise UserError(f"{node.name}: {problems[0]}")
    types = op.get_nodeattr_types()
    # synth: Yosys' cells of this node's RTL instance (hw/cost/synth.py), read back, not modelled
    res = synth.nodes[node.name] if synth is not None else _resources(model, node, cost, device, clock_ns, impl)
    try:
        energy = node_energy_pj(model, node)
    except ValueError:  # weights not in the model (external): no weight-aware energy
        energy = None
    row = {"name": node.name, "op": node.op_type,
           "PE": op.get_nodeattr("PE") if "PE" in types else None,
           "SIMD": op.get_nodeattr("SIMD") if "SIMD" in types else None,
           "cycles": int(op.cycles())}
    row.update(_resource_dict(res, cost))
    row["energy_pj"] = energy
    return row, res


def _resources(model, node, cost: CostModel, device, clock_ns: float, impl: str = "hls") -> Resources:
    """The node's resources under `cost` (the calibrated model is weight-aware: it reads `model`; its
    `impl` profile: hls = FINN's HLS kernels, rtl = our RTL templates under Yosys, hw/cost/rtl.py)."""
    from hw.cost.calibrated import calibrated_resources
    from qonnx.custom_op.registry import getCustomOp

    if cost is CostModel.CALIBRATED:
        try:
            return calibrated_resources(model, node, device, clock_ns, impl)
        except ValueError as err:
            raise UserError(str(err)) from None
    return getCustomOp(node).resources(cost, device)


def _resource_dict(res: Resources, cost: CostModel) -> dict[str, Any]:
    """Resource -> count, None where the cost model does not estimate it (FF under FINN's formulas)."""
    return {k: None if k in NOT_ESTIMATED[cost] else _num(getattr(res, k)) for k in KEYS}


def _num(x: float):
    return int(x) if float(x).is_integer() else float(x)


def estimate(model, part: Optional[str] = None, clock_ns: Optional[float] = None,
             cost: CostModel | str = CostModel.FINN, synth_report: Optional[dict] = None,
             impl: str = "hls") -> dict[str, Any]:
    """Per-layer and network estimate of a dataflow model. `synth_report`: the RTL project's synth.json
    (`hil synth`), which the synth cost model reads back. `impl`: the calibrated model's profile."""
    from qonnx.custom_op.registry import getCustomOp

    from hw.cost.energy import ENERGY_UNITS

    device = resolve_device(part)
    clock_ns = float(device.default_clock_ns if clock_ns is None else clock_ns)
    if clock_ns <= 0:
        raise UserError(f"--clock-ns must be positive, got {clock_ns}")
    try:
        cost = CostModel(cost)
    except ValueError:
        raise UserError(f"unknown cost model '{cost}'; choose one of: {', '.join(c.value for c in CostModel)}") from None
    if impl not in ("hls", "rtl"):
        raise UserError(f"unknown implementation profile '{impl}'; choose one of: hls, rtl")
    if impl != "hls" and cost is not CostModel.CALIBRATED:
        raise UserError(f"--impl {impl} is a profile of the calibrated model: use it with --cost calibrated")
    if not is_dataflow(model):
        raise UserError("estimate needs a dataflow graph (every node a hw.ops node): lower the QONNX model first "
                        "(`hil lower`, or `hil estimate` on the QONNX file)")
    synth = None
    if cost is CostModel.SYNTH:
        from hw.cost.synth import synth_resources

        if synth_report is None:
            raise UserError("--cost synth reads a synthesis report: run `hil build DESIGN --backend rtl -o DIR` and "
                            "`hil synth DIR`, then pass --rtl DIR")
        try:
            synth = synth_resources(synth_report, model)
        except ValueError as err:
            raise UserError(str(err)) from None
    layers, total = [], Resources() if synth is None else synth.rtl_only
    for node in model.graph.node:
        try:
            row, res = _layer(model, node, getCustomOp(node), cost, device, clock_ns, synth, impl)
        except NotImplementedError as err:
            raise UserError(str(err)) from None
        layers.append(row)
        total = total + res
    perf = dataflow_performance([r["name"] for r in layers], {r["name"]: r["cycles"] for r in layers},
                                _predecessors(model))
    mc, cp = perf["max_cycles"], perf["critical_path_cycles"]
    for row in layers:
        row["share_of_interval"] = row["cycles"] / mc if mc else None
    network = {"max_cycles": mc, "critical_path_cycles": cp,
               "estimated_throughput_fps": (1e9 / clock_ns) / mc if mc else None,
               "estimated_latency_ns": cp * clock_ns}
    energies = [r["energy_pj"] for r in layers]
    util = device.utilization(total)
    result = {"part": device.part, "clock_ns": clock_ns, "cost_model": cost.value, "layers": layers,
              "network": network, "total": _resource_dict(total, cost),
              "part_capacity": {k: getattr(device, k) for k in KEYS},
              "utilization": {k: None if k in NOT_ESTIMATED[cost] else u for k, u in util.items()},
              "utilization_percent": {k: None if k in NOT_ESTIMATED[cost] else 100 * u for k, u in util.items()},
              "not_estimated": list(NOT_ESTIMATED[cost]), "fits": device.fits(total),
              "bottleneck": bottleneck(model, layers, cost, device, clock_ns, impl),
              "total_energy_pj": None if None in energies else float(sum(energies)), "energy_units": ENERGY_UNITS}
    if cost is CostModel.CALIBRATED:  # the calibrated model's implementation profile (hls / rtl)
        result["impl"] = impl
    if synth is not None:  # edge FIFOs of the RTL top that are no node of the model (counted in total)
        result["rtl_only"] = _resource_dict(synth.rtl_only, cost)
    return versioned(result, UNITS)


def bottleneck(model, layers: list[dict[str, Any]], cost: CostModel, device, clock_ns: float,
               impl: str = "hls") -> Optional[dict]:
    """The slowest layer and what would relieve it: for each of its folding attributes, the next legal
    value up (the op's own legal_folding()), with the layer's cycles (its cycles()), the network's
    interval and the resources it adds (its cost model) after the change. Not counted: the DWCs and
    FIFOs that new stream widths would re-derive around it (`hil lower --folding` rebuilds those)."""
    import copy

    from qonnx.custom_op.registry import getCustomOp

    if not layers or max(r["cycles"] for r in layers) == 0:
        return None
    slow = max(layers, key=lambda r: r["cycles"])
    others = max((r["cycles"] for r in layers if r is not slow), default=0)
    node = next(n for n in model.graph.node if n.name == slow["name"])
    op = getCustomOp(node)
    # synth: a refolded layer's resources need a new synthesis, so its extra cost is not known here
    measured = cost is CostModel.SYNTH
    base = None if measured else _resources(model, node, cost, device, clock_ns, impl)
    relief = []
    for attr, values in op.legal_folding().items():
        now = op.get_nodeattr(attr)
        higher = [v for v in values if v > now]
        if not higher:
            continue
        trial = copy.deepcopy(node)
        changed = getCustomOp(trial)
        changed.set_nodeattr(attr, higher[0])
        if changed.verify_node():
            continue
        res = None if measured else _resources(model, trial, cost, device, clock_ns, impl)
        cycles = int(changed.cycles())
        relief.append({"attribute": attr, "from": now, "to": higher[0], "cycles": cycles,
                       "interval_cycles": max(cycles, others),
                       "extra": {k: None if measured or k in NOT_ESTIMATED[cost] else _num(getattr(res, k) - getattr(base, k))
                                 for k in KEYS}})
    return {"layer": slow["name"], "op": slow["op"], "cycles": slow["cycles"], "next_slowest_cycles": others,
            "relief": relief}


def summary_line(result: dict[str, Any]) -> str:
    """One line of utilization: 'LUT 12.3% of 53200, FF n/a, DSP 0.0% of 220, BRAM_18K 101.2% of 280'
    (n/a: not estimated by the cost model; a resource the part lacks and the design does not use is left out)."""
    cap, used = result["part_capacity"], result["total"]
    return ", ".join(f"{k} n/a" if u is None else f"{k} {u:.1f}% of {cap[k]}"
                     for k, u in result["utilization_percent"].items() if cap[k] or used[k])


def summary(result: dict[str, Any]) -> str:
    """Human-readable table of an estimate."""
    head = f"{'layer':<18}{'cycles':>10}{'LUT':>10}{'FF':>10}{'DSP':>7}{'BRAM_18K':>10}{'URAM':>6}{'energy_pJ':>12}"
    lines = [head]

    def pj(e):
        return "-" if e is None else f"{e:.4g}"

    def n(v, w: int) -> str:  # "n/a": the cost model does not estimate this resource
        return f"{'n/a' if v is None else f'{v:.0f}':>{w}}"

    for r in result["layers"]:
        lines.append(f"{r['name']:<18}{r['cycles']:>10}{n(r['LUT'], 10)}{n(r['FF'], 10)}{n(r['DSP'], 7)}"
                     f"{n(r['BRAM_18K'], 10)}{n(r['URAM'], 6)}{pj(r.get('energy_pj')):>12}")
    t = result["total"]
    lines.append(f"{'total':<18}{'':>10}{n(t['LUT'], 10)}{n(t['FF'], 10)}{n(t['DSP'], 7)}{n(t['BRAM_18K'], 10)}"
                 f"{n(t['URAM'], 6)}{pj(result.get('total_energy_pj')):>12}")
    n = result["network"]
    fps = n["estimated_throughput_fps"]
    lines.append(f"{result['part']} @ {result['clock_ns']} ns: max_cycles {n['max_cycles']}, critical path "
                 f"{n['critical_path_cycles']} cycles, {fps:.6g} fps, latency {n['estimated_latency_ns']:.6g} ns"
                 if fps else f"{result['part']}: no node with cycles")
    profile = f" {result['impl']}" if "impl" in result else ""  # the calibrated model's hls / rtl profile
    lines.append(f"utilization ({result['cost_model']}{profile}): {summary_line(result)}")
    if "energy_units" in result:
        lines.append(f"energy: {result['energy_units']}")
    return "\n".join(lines)
