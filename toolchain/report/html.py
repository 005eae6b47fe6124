"""`hil report RUN_DIR`: one self-contained HTML page of a run, for a hardware engineer.

It reads what the stages left in the folder (metrics.json from `hil train`; export.json, lower.json,
estimate.json, emulate.json + emulate_timeline.json, build.json, which each verb writes into a `hil
train` run folder its files live in, or into `--run-dir`: toolchain/report/rundir.py) and shows, in
this order: whether the design meets its target and fits its part, in words; the bottleneck and what
would relieve it (the estimate's `bottleneck`, computed from the op's own legal_folding, cycles and
cost model); the per-layer table (op, PE/SIMD or hls4ml reuse factor, cycles per frame, share of the
interval, LUT/FF/BRAM/DSP with % of the part, energy, emulated busy/stall per frame); the FIFO
depths; the charts (toolchain/report/charts.py); the run's summary; what is missing. It runs no
stage again. "n/a" marks a figure the cost model does not estimate (FF under --cost finn).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Optional

from toolchain.errors import UserError
from toolchain.fileio import write_text
from toolchain.report import charts
from toolchain.schemas import SCHEMA_VERSION, versioned

REPORT = "report.html"
STAGE_FILES = ("metrics", "export", "lower", "estimate", "emulate", "build")
TIMELINE = "emulate_timeline"  # written by `hil emulate` beside emulate.json
RUN = "run"  # written by `hil run --run-dir` (or a sweep trial's target confirmation): optional
PARETO, SWEEP = "pareto", "summary"  # a `hil sweep` run folder: `hil pareto RUN`, and the sweep's counts
# what produces each file, for the "missing" note
PRODUCERS = {"metrics": "hil train", "export": "hil export --run-dir", "lower": "hil lower --run-dir",
             "estimate": "hil estimate --run-dir", "emulate": "hil emulate --run-dir",
             "build": "hil build --run-dir", TIMELINE: "hil emulate --run-dir", RUN: "hil run --run-dir",
             PARETO: "hil pareto RUN", SWEEP: "hil sweep"}
RESOURCES = ("LUT", "FF", "BRAM_18K", "DSP", "URAM")
NA = charts.NA


def _read(run_dir: Path, stem: str) -> Optional[dict]:
    path = run_dir / f"{stem}.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError:
        raise UserError(f"{path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a JSON object")
    version = data.get("schema_version")
    if stem not in ("metrics", TIMELINE) and version != SCHEMA_VERSION:
        raise UserError(f"{path} has schema_version {version}, this hil reads {SCHEMA_VERSION}: run "
                        f"`{PRODUCERS[stem].split(' --')[0]}` again")
    return data


def report_result(out: Path) -> dict[str, Any]:
    """The `hil report --json` object."""
    return versioned({"report": str(out)}, {})


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _n(value: Optional[float], digits: int = 0) -> str:
    """A number for a cell; "n/a" where the model gives none."""
    if value is None:
        return NA
    return f"{value:,.{digits}f}"


def _table(rows: list[tuple[str, Any]], id_: str = "") -> str:
    cells = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    ident = f' id="{id_}"' if id_ else ""
    return f"<table{ident}>{cells}</table>"


def _grid(head: list[str], rows: list[list[str]], id_: str, row_ids: Optional[list[str]] = None,
          foot: Optional[list[list[str]]] = None) -> str:
    """A table with a header row; row_ids become data-layer attributes (the browser test finds rows by them)."""
    th = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = []
    for i, row in enumerate(rows):
        attr = f' data-layer="{_esc(row_ids[i])}"' if row_ids else ""
        body.append(f"<tr{attr}>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>")
    tail = "".join("<tr class=total>" + "".join(f"<th>{_esc(c)}</th>" for c in row) + "</tr>" for row in foot or [])
    return f'<table id="{id_}"><thead><tr>{th}</tr></thead><tbody>{"".join(body)}</tbody><tfoot>{tail}</tfoot></table>'


def _chart(name: str, svg: str) -> str:
    return f'<div class="chart" id="chart-{name}">{svg}</div>'


# ---- what the engineer reads first ---------------------------------------------------------------
def _fps(cycles: Optional[float], clock_ns: float) -> Optional[float]:
    return 1e9 / (cycles * clock_ns) if cycles else None


def verdict(data: dict[str, Optional[dict]]) -> list[str]:
    """The target met or missed, the part fitted or not, deadlock: sentences."""
    est, em, low = data["estimate"], data["emulate"], data["lower"]
    out = []
    target = (low or {}).get("target_fps")
    if em and em["deadlock"]:
        d = em["deadlock"]
        out.append(f"The emulated design DEADLOCKS: {d.get('node')} waits ({d.get('wait')}) on FIFO {d.get('fifo')} "
                   "(the cycle of waits is in emulate.json).")
    achieved, how = None, ""
    if em and em.get("throughput_fps"):
        sized = " with sized FIFOs" if em.get("fifo_sizing") else " with the FIFO depths of the model (not sized)"
        achieved, how = em["throughput_fps"], (f"the emulated design runs at {em['throughput_fps']:,.0f} fps (interval "
                                               f"{em['interval_cycles']:,.0f} cycles at {em['clock_ns']} ns{sized})")
    elif est and est["network"]["estimated_throughput_fps"]:
        net = est["network"]
        achieved, how = net["estimated_throughput_fps"], (
            f"the estimate gives {net['estimated_throughput_fps']:,.0f} fps (bottleneck {net['max_cycles']:,} cycles "
            f"at {est['clock_ns']} ns; not emulated)")
    if target and achieved:
        ratio = achieved / target
        word = "MET" if ratio >= 1 else "MISSED"
        rel = f"{100 * (ratio - 1):+.1f} %"
        out.append(f"Throughput target {target:,.0f} fps (hil lower --target-fps): {word}: {how}, {rel} against the target.")
    elif achieved:
        out.append(f"No throughput target was set (hil lower --target-fps); {how}.")
    if est:
        cap, pct = est["part_capacity"], est["utilization_percent"]
        used = ", ".join(f"{k} {NA}" if pct[k] is None else f"{k} {pct[k]:.1f} % of {cap[k]:,}"
                         for k in RESOURCES if cap.get(k) or est["total"].get(k))
        if est["fits"]:
            out.append(f"The design fits the {est['part']} under the {est['cost_model']} cost model: {used}.")
        else:
            over = [k for k in RESOURCES if pct.get(k) is not None and pct[k] > 100]
            out.append(f"The design does NOT fit the {est['part']} under the {est['cost_model']} cost model: "
                       f"{', '.join(over)} over 100 % ({used}).")
        if est["not_estimated"]:
            out.append(f"The {est['cost_model']} cost model does not estimate {', '.join(est['not_estimated'])}: "
                       f"shown as {NA} (hil estimate --cost calibrated estimates every resource).")
    return out


def bottleneck_text(est: Optional[dict], em: Optional[dict]) -> list[str]:
    """The slowest layer and, per folding attribute, what raising it gives and costs (estimate.json)."""
    if not est or not est.get("bottleneck"):
        return []
    b, clock = est["bottleneck"], est["clock_ns"]
    share = b["cycles"] / est["network"]["max_cycles"]
    out = [f"Bottleneck: {b['layer']} ({b['op']}), {b['cycles']:,} cycles per frame ({100 * share:.0f} % of the "
           f"estimated interval); the next slowest layer needs {b['next_slowest_cycles']:,}."]
    if not b["relief"]:
        out.append(f"{b['layer']} has no folding attribute left to raise (fully parallel, or an op without "
                   "folding): a faster design needs a narrower layer or a faster clock.")
    for r in b["relief"]:
        speed = b["cycles"] / r["interval_cycles"] if r["interval_cycles"] else float("inf")
        cost = ", ".join(f"{'+' if (v or 0) >= 0 else ''}{_n(v)} {k}" if v is not None else f"{k} {NA}"
                         for k, v in r["extra"].items() if v or v is None)
        fps = _fps(r["interval_cycles"], clock)
        out.append(f"Raise {r['attribute']} of {b['layer']} from {r['from']} to {r['to']}: {r['cycles']:,} cycles, "
                   f"network interval {r['interval_cycles']:,} cycles ({_n(fps)} fps, {speed:.2f}× the throughput), "
                   f"costing {cost or 'no extra resources'} ({est['cost_model']} model; the DWCs and FIFOs "
                   f"around it are re-derived by `hil lower --folding`).")
    if em and em.get("interval_cycles") and em["interval_cycles"] > est["network"]["max_cycles"]:
        out.append(f"The emulated interval ({em['interval_cycles']:,.0f} cycles) is above the estimate's "
                   f"({est['network']['max_cycles']:,}): stalls, not compute, limit it; "
                   "`hil emulate --size-fifos` sizes the FIFOs.")
    return out


# ---- the per-layer table -------------------------------------------------------------------------
def _reuse(build: Optional[dict]) -> dict[str, int]:
    """IR node -> hls4ml reuse factor, from an hls4ml build.json."""
    if not build or build.get("backend") != "hls4ml":
        return {}
    return {node: layer["reuse_factor"] for layer in build.get("layers", []) if "reuse_factor" in layer
            for node in layer["ir_nodes"]}


def layer_table(data: dict[str, Optional[dict]]) -> tuple[list[str], str]:
    """(layer names, the HTML table): one row per dataflow node."""
    est, em = data["estimate"], data["emulate"]
    per = (em or {}).get("per_layer", {})
    names = [r["name"] for r in est["layers"]] if est else list(per)
    rows_by = {r["name"]: r for r in est["layers"]} if est else {}
    reuse = _reuse(data["build"])
    shown = [k for k in RESOURCES if est and (est["part_capacity"].get(k) or est["total"].get(k))]
    head = ["layer", "op", "folding", "cycles / frame", "share of interval"]
    if est:
        cap = est["part_capacity"]
        head += [f"{k} (% of {cap[k]:,})" for k in shown] + ["energy pJ / frame"]
    if em:
        head += ["emulated busy / frame", "stall in / frame", "stall out / frame"]
    rows = []
    for name in names:
        r, e = rows_by.get(name, {}), per.get(name, {})
        fold = " · ".join(f"{k} {r[k]}" for k in ("PE", "SIMD") if r.get(k) is not None)
        if name in reuse:
            fold += (" · " if fold else "") + f"RF {reuse[name]} (hls4ml)"
        row = [name, r.get("op", ""), fold or "—"]
        if est:
            share = r.get("share_of_interval")
            row += [_n(r["cycles"]), NA if share is None else f"{100 * share:.1f} %"]
            for k in shown:
                v = r[k]
                row.append(NA if v is None else f"{_n(v, 0 if float(v).is_integer() else 1)} "
                                                f"({100 * v / cap[k]:.1f} %)" if cap[k] else _n(v))
            row.append(_n(r.get("energy_pj"), 1))
        else:
            row += [NA, NA]
        if em:
            # FIFOs and DWC-less nodes the timing graph folds into edges have no row of their own: "—"
            row += ([_n(e[k], 1) for k in ("busy_per_frame", "stall_in_per_frame", "stall_out_per_frame")]
                    if e else ["—"] * 3)
        rows.append(row)
    foot = []
    if est:
        t, pct = est["total"], est["utilization_percent"]
        total = ["total", "", "", _n(est["network"]["max_cycles"]) + " (interval)", ""]
        total += [NA if t[k] is None else f"{_n(t[k], 0 if float(t[k]).is_integer() else 1)} ({pct[k]:.1f} %)"
                  for k in shown]
        total.append(_n(est.get("total_energy_pj"), 1))
        total += [""] * (3 if em else 0)
        foot.append(total)
    return names, _grid(head, rows, "layers", names, foot)


def fifo_table(em: dict) -> Optional[str]:
    fifos = em.get("fifos") or {}
    if not fifos:
        return None
    depths = em.get("fifo_depths") or {}
    sized = "sized depth (hil emulate --size-fifos)" if em.get("fifo_sizing") else "depth used"
    head = ["FIFO", "from", "to", "depth in the model (words)", "high-water mark (words)", sized]
    rows = [[name, f["src"], f["dst"], _n(f["capacity"]), _n(f["hwm"]), _n(depths.get(name))]
            for name, f in fifos.items()]
    return _grid(head, rows, "fifos")


def _summary_rows(data: dict[str, Optional[dict]]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    if m := data["metrics"]:
        metric = m.get("metric", "accuracy")  # "mse" for a reconstruction recipe (conv-autoencoder)
        rows += [("recipe", m.get("recipe")),
                 (metric, f"{m[metric]:.4g}" if m.get(metric) is not None else "—"),
                 (f"float32 {metric}", f"{m[f'float_{metric}']:.4g}" if m.get(f"float_{metric}") is not None else "—"),
                 ("BOPs", f"{m.get('bops', 0):.4g}"),
                 ("weight sparsity", f"{m.get('sparsity', 0):.3f}")]
    for stage in ("export", "lower", "emulate", "build"):
        if (d := data[stage]) and d.get("mismatches") is not None:
            rows.append((f"{stage}: mismatches", f"{d['mismatches']} of {d.get('samples')} samples"))
    if e := data["estimate"]:
        net = e["network"]
        rows += [("part / clock", f"{e['part']} @ {e['clock_ns']} ns"),
                 ("cost model", e["cost_model"]),
                 ("estimated throughput", f"{_n(net['estimated_throughput_fps'])} fps"),
                 ("estimated latency (critical path)", f"{net['estimated_latency_ns']:,.0f} ns")]
    if em := data["emulate"]:
        rows += [("emulated latency", f"{em['latency_cycles']} cycles"),
                 ("emulated interval", f"{_n(em['interval_cycles'])} cycles per frame"),
                 ("emulated throughput", f"{em['throughput_fps'] or 0:,.0f} fps"),
                 ("frames timed", em["frames"]),
                 ("deadlock", "yes" if em["deadlock"] else "no")]
    return rows


def _target_rows(data: dict[str, Optional[dict]], run: Optional[dict]) -> list[tuple[str, Any]]:
    """Which target produced which numbers: the cost model, the emulator, and `hil run`'s target."""
    rows: list[tuple[str, Any]] = []
    if e := data["estimate"]:
        rows.append(("estimate", f"cost model {e.get('cost_model')} (analytic, no target)"))
    if data["emulate"]:
        rows.append(("emulate", "emulator (hw.emulator: bit-exact values, cycle-level timing)"))
    if data["build"] and (data["build"].get("csim") or {}).get("samples"):
        rows.append(("build", "hls4ml C-sim (g++), compared with the emulator"))
    if run:
        t, agent = run["timing"], (run.get("describe") or {}).get("agent")
        rows.append((f"run on {run['target']}", (f"agent: {agent}; " if agent else "")
                     + f"{run['mismatches']} mismatches against the local emulator on {run['samples']} samples"))
        rows.append(("target throughput", f"{t.get('samples_per_second') or 0:,.0f} samples/s ({t.get('kind')})"
                     + (f", interval {t['interval_cycles']:g} cycles" if t.get("interval_cycles") else "")))
    return rows


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222;padding:0 1em}}
table{{border-collapse:collapse;margin:0.5em 0}}th,td{{border:1px solid #ccc;padding:3px 8px;text-align:left}}
#layers td,#fifos td{{text-align:right}}#layers td:nth-child(-n+3),#fifos td:nth-child(-n+3){{text-align:left}}
tr.total th{{background:#f3f3f3}}h2{{margin-top:1.6em;border-bottom:1px solid #ddd}}
.verdict li{{margin:0.3em 0}}svg{{max-width:100%;height:auto}}</style></head><body>
<h1>{title}</h1>{body}</body></html>"""


def _config(point: dict) -> str:
    bits = f"w{point['weight_bits']}a{point['act_bits']}" + "".join(
        f" L{i}:" + "".join(f"{k[0]}{v}" for k, v in b.items()) for i, b in point.get("layers", {}).items())
    return (f"{bits}, prune {point.get('prune') or 'none'}, {point['target_fps']:g} fps, {point['part']}, "
            f"{point['clock_ns']:g} ns")


def pareto_section(pareto: dict, summary: Optional[dict]) -> list[str]:
    """A sweep's run folder: its counts, the non-dominated trials with their configuration and the
    command that rebuilds each one's HLS project, and accuracy against LUT, latency, energy and BOPs."""
    parts = ["<h2>Pareto front (hil pareto)</h2>"]
    if summary:
        parts.append(_table([("trials", summary["trials"]), ("complete", summary["complete"]),
                             ("pruned before training (trainings saved)", summary["pruned"]),
                             ("pruned on the epoch curve", summary.get("pruned_early", 0)),
                             ("training epochs saved", f"{summary.get('epochs_saved', 0)} of "
                                                       f"{summary.get('epochs_budget', '—')}"),
                             ("infeasible", summary["infeasible"]), ("failed", summary["failed"])], "sweep"))
    if b := pareto.get("baseline"):
        parts.append(f"<p>float baseline: accuracy {b['float_accuracy']:.4f}, {b['float_bops']:,.0f} BOPs; "
                     f"8-bit dense design: {_n(b['w8a8_dense'].get('lut'))} LUT</p>")
    front = sorted(pareto["front"], key=lambda r: -r["measures"]["accuracy"])
    rows = [[str(r["number"]), f"{r['measures']['accuracy']:.4f}", _n(r["measures"].get("lut")),
             _n(r["measures"].get("latency")), _n(r["measures"].get("energy")), _n(r["measures"].get("bops")),
             _config(r["point"]), r["rebuild"]] for r in front]
    parts.append(_grid(["#", "accuracy", "LUT", "latency (ns)", "energy (pJ)", "BOPs", "configuration",
                        "rebuild its HLS project"], rows, "pareto", [f"trial-{r['number']}" for r in front]))
    trials = pareto.get("trials") or front
    parts.append(_chart("pareto", charts.pareto_chart(trials, {r["number"] for r in front}, pareto.get("baseline"))))
    return parts


def write_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder not found: {run_dir}")
    charts.require()
    data = {stem: _read(run_dir, stem) for stem in STAGE_FILES}
    run = _read(run_dir, RUN)
    pareto = _read(run_dir, PARETO)
    if not any(data.values()) and run is None and pareto is None:
        raise UserError(f"{run_dir} holds none of {', '.join(s + '.json' for s in STAGE_FILES)}, nor a sweep's "
                        f"{PARETO}.json (hil pareto RUN): nothing to report")
    timeline = _read(run_dir, TIMELINE) if data["emulate"] else None
    est, em = data["estimate"], data["emulate"]
    parts = []
    if said := verdict(data) + bottleneck_text(est, em):
        parts += ["<h2>Verdict</h2><ul class=verdict>", *(f"<li>{_esc(s)}</li>" for s in said), "</ul>"]
    if est or em:
        names, table = layer_table(data)
        parts += ["<h2>Layers</h2>", table]
        per = (em or {}).get("per_layer", {})
        parts += ["<h2>Cycles per layer</h2>", _chart("cycles", charts.cycles_chart(
            names, [r["cycles"] for r in est["layers"]] if est else None,
            [per.get(n, {}).get("busy_per_frame", 0.0) for n in names] if em else None,
            [per.get(n, {}).get("stall_in_per_frame", 0.0) + per.get(n, {}).get("stall_out_per_frame", 0.0)
             for n in names] if em else None))]
    if est:
        shown = {k: est["utilization_percent"][k] for k in RESOURCES if est["part_capacity"][k] or est["total"][k]}
        parts += [f"<h2>Resource utilization ({_esc(est['cost_model'])} model)</h2>",
                  _chart("utilization", charts.utilization_chart(shown, est["part_capacity"], est["part"]))]
    if em and (fifos := fifo_table(em)):
        parts += ["<h2>FIFO depths</h2>", fifos]
    if timeline:
        parts += [f"<h2>Pipeline timeline (first {timeline['frames']} frames)</h2>",
                  _chart("timeline", charts.timeline_chart(timeline))]
        if svg := charts.fifo_chart(timeline):
            parts += ["<h2>FIFO occupancy</h2>", _chart("fifo", svg)]
    if pareto is not None:
        parts += pareto_section(pareto, _read(run_dir, SWEEP))
    if any(data.values()):
        parts += ["<h2>Summary</h2>", _table(_summary_rows(data), "summary")]
    if rows := _target_rows(data, run):
        parts += ["<h2>Targets: what produced these numbers</h2>", _table(rows)]
    missing = [stem for stem in STAGE_FILES if data[stem] is None] + ([TIMELINE] if timeline is None else [])
    if missing and pareto is None:  # a sweep's folder holds trials, not one design's stage files
        rows = [(f"{stem}.json", f"not found (written by {PRODUCERS[stem]})") for stem in missing]
        parts += ["<h2>Not in this run folder</h2>", _table(rows),
                  "<p>Each verb writes its JSON here by itself when its files are inside a `hil train` run "
                  "folder; elsewhere, pass --run-dir.</p>"]
    name = run_dir.resolve().name
    recipe = (data["metrics"] or {}).get("recipe")
    title = f"hil report: {name}" + (f" ({recipe})" if recipe and recipe != name else "")
    out = run_dir / REPORT
    write_text(out, PAGE.format(title=_esc(title), body="\n".join(parts)))
    return out
