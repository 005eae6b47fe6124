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

RESULT = "estimate.json"


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
           synth=None) -> tuple[dict[str, Any], Resources]:
    from hw.cost.calibrated import calibrated_resources
    from hw.cost.energy import node_energy_pj

    problems = op.verify_node()
    if problems:
        raise UserError(f"{node.name}: {problems[0]}")
    types = op.get_nodeattr_types()
    if cost is CostModel.SYNTH:  # Yosys' cells of this node's RTL instance (hw/cost/synth.py)
        res = synth.nodes[node.name]
    elif cost is CostModel.CALIBRATED:  # weight-aware: needs the model's initializers
        try:
            res = calibrated_resources(model, node, device, clock_ns)
        except ValueError as err:
            raise UserError(str(err)) from None
    else:
        res = op.resources(cost, device)
    try:
        energy = node_energy_pj(model, node)
    except ValueError:  # weights not in the model (external): no weight-aware energy
        energy = None
    row = {"name": node.name, "op": node.op_type,
           "PE": op.get_nodeattr("PE") if "PE" in types else None,
           "SIMD": op.get_nodeattr("SIMD") if "SIMD" in types else None,
           "cycles": int(op.cycles())}
    row.update({k: _num(getattr(res, k)) for k in KEYS})
    row["energy_pj"] = energy
    return row, res


def _num(x: float):
    return int(x) if float(x).is_integer() else float(x)


def estimate(model, part: Optional[str] = None, clock_ns: Optional[float] = None,
             cost: CostModel | str = CostModel.FINN, synth_report: Optional[dict] = None) -> dict[str, Any]:
    """Per-layer and network estimate of a dataflow model. `synth_report`: the RTL project's synth.json
    (`hil synth`), which the synth cost model reads back."""
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
            row, res = _layer(model, node, getCustomOp(node), cost, device, clock_ns, synth)
        except NotImplementedError as err:
            raise UserError(str(err)) from None
        layers.append(row)
        total = total + res
    perf = dataflow_performance([r["name"] for r in layers], {r["name"]: r["cycles"] for r in layers},
                                _predecessors(model))
    mc, cp = perf["max_cycles"], perf["critical_path_cycles"]
    network = {"max_cycles": mc, "critical_path_cycles": cp,
               "estimated_throughput_fps": (1e9 / clock_ns) / mc if mc else None,
               "estimated_latency_ns": cp * clock_ns}
    energies = [r["energy_pj"] for r in layers]
    return {"part": device.part, "clock_ns": clock_ns, "cost_model": cost.value, "layers": layers,
            "network": network, "total": {k: _num(getattr(total, k)) for k in KEYS},
            "utilization": device.utilization(total), "fits": device.fits(total),
            "total_energy_pj": None if None in energies else float(sum(energies)), "energy_units": ENERGY_UNITS,
            **({"rtl_only": {k: _num(getattr(synth.rtl_only, k)) for k in KEYS}} if synth is not None else {})}


def summary_line(result: dict[str, Any]) -> str:
    """One line of utilization: 'LUT 12.3% FF 0.0% DSP 0.0% BRAM_18K 101.2% URAM 0.0%'."""
    return " ".join(f"{k} {100 * u:.1f}%" for k, u in result["utilization"].items())


def summary(result: dict[str, Any]) -> str:
    """Human-readable table of an estimate."""
    head = f"{'layer':<18}{'cycles':>10}{'LUT':>10}{'FF':>10}{'DSP':>7}{'BRAM_18K':>10}{'URAM':>6}{'energy_pJ':>12}"
    lines = [head]

    def pj(e):
        return "-" if e is None else f"{e:.4g}"

    for r in result["layers"]:
        lines.append(f"{r['name']:<18}{r['cycles']:>10}{r['LUT']:>10.0f}{r['FF']:>10.0f}{r['DSP']:>7.0f}"
                     f"{r['BRAM_18K']:>10.0f}{r['URAM']:>6.0f}{pj(r.get('energy_pj')):>12}")
    t, n = result["total"], result["network"]
    lines.append(f"{'total':<18}{'':>10}{t['LUT']:>10.0f}{t['FF']:>10.0f}{t['DSP']:>7.0f}{t['BRAM_18K']:>10.0f}"
                 f"{t['URAM']:>6.0f}{pj(result.get('total_energy_pj')):>12}")
    fps = n["estimated_throughput_fps"]
    lines.append(f"{result['part']} @ {result['clock_ns']} ns: max_cycles {n['max_cycles']}, critical path "
                 f"{n['critical_path_cycles']} cycles, {fps:.6g} fps, latency {n['estimated_latency_ns']:.6g} ns"
                 if fps else f"{result['part']}: no node with cycles")
    lines.append(f"utilization ({result['cost_model']}): {summary_line(result)}")
    if "energy_units" in result:
        lines.append(f"energy: {result['energy_units']}")
    return "\n".join(lines)
