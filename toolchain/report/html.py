"""`hil report RUN_DIR`: one self-contained HTML page of a run.

It reads what the stages left in the folder (metrics.json from `hil train`; export.json, lower.json,
estimate.json, emulate.json + emulate_timeline.json, build.json from the verbs' --run-dir or `hil
demo`) and draws: the per-layer cycles (FINN estimate beside the emulated busy and stall cycles), a
pipeline timeline (Gantt of the first frames) and FIFO occupancy over time, as `hil emulate` recorded
them, and the resource utilization of the part. It runs no stage again: what is missing is listed as
missing. Plots are inline SVG, so the page is one file.
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any, Optional

from toolchain.errors import UserError
from toolchain.fileio import write_text

REPORT = "report.html"
STAGE_FILES = ("metrics", "export", "lower", "estimate", "emulate", "build")
TIMELINE = "emulate_timeline"  # written by `hil emulate --run-dir` beside emulate.json
RUN = "run"  # written by `hil run --run-dir` (or a sweep trial's target confirmation): optional
# what produces each file, for the "missing" note
PRODUCERS = {"metrics": "hil train", "export": "hil export --run-dir", "lower": "hil lower --run-dir",
             "estimate": "hil estimate --run-dir", "emulate": "hil emulate --run-dir",
             "build": "hil build --run-dir", TIMELINE: "hil emulate --run-dir"}


def _read(run_dir: Path, stem: str) -> Optional[dict]:
    path = run_dir / f"{stem}.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise UserError(f"{path} is not valid JSON") from None


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def cycles_chart(estimate: Optional[dict], emulate: Optional[dict]) -> Optional[str]:
    """Per layer: FINN's expected cycles per frame and the emulated busy / stall cycles per frame."""
    if not estimate and not emulate:
        return None
    plt = _plt()
    names = [l["name"] for l in estimate["layers"]] if estimate else list(emulate["per_layer"])
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(names) + 2), 3.6))
    x = range(len(names))
    if estimate:
        ax.bar([i - 0.2 for i in x], [l["cycles"] for l in estimate["layers"]], width=0.4, label="estimate (FINN)")
    if emulate:
        frames = emulate["frames"]
        per = [emulate["per_layer"].get(n, {}) for n in names]
        busy = [p.get("busy", 0) / frames for p in per]
        stall = [(p.get("stall_in", 0) + p.get("stall_out", 0)) / frames for p in per]
        ax.bar([i + 0.2 for i in x], busy, width=0.4, label="emulated busy")
        ax.bar([i + 0.2 for i in x], stall, width=0.4, bottom=busy, label="emulated stall")
    ax.set_xticks(list(x), names, rotation=45, ha="right")
    ax.set_ylabel("cycles per frame")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return _svg(fig)


def timeline_chart(timeline: dict) -> str:
    """Gantt: for each node and frame, the span from its first to its last firing."""
    plt = _plt()
    nodes = list(timeline["nodes"].items())
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(nodes) + 1.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, (_, spans) in enumerate(nodes):
        for f, (a, b) in enumerate(spans):
            if a >= 0:
                ax.barh(row, b - a + 1, left=a, color=colors[f % len(colors)], alpha=0.8)
    ax.set_yticks(range(len(nodes)), [name for name, _ in nodes])
    ax.invert_yaxis()
    ax.set_xlabel(f"cycle (frames 0..{timeline['frames'] - 1}, one colour per frame)")
    return _svg(fig)


def fifo_chart(timeline: dict) -> Optional[str]:
    if not timeline["fifos"]:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for fifo in timeline["fifos"].values():
        if fifo["cycle"]:
            ax.step(fifo["cycle"], fifo["words"], where="post",
                    label=f"{fifo['src']} → {fifo['dst']} (max {fifo['hwm']})")
    ax.set_xlabel("cycle")
    ax.set_ylabel("words in FIFO")
    ax.legend(fontsize=7, ncol=2)
    return _svg(fig)


def utilization_chart(estimate: Optional[dict]) -> Optional[str]:
    if not estimate or "utilization" not in estimate:
        return None
    plt = _plt()
    util = estimate["utilization"]
    fig, ax = plt.subplots(figsize=(5, 2.6))
    keys = list(util)
    ax.barh(keys, [100 * util[k] for k in keys], color=["C3" if util[k] > 1 else "C0" for k in keys])
    ax.axvline(100, color="k", lw=0.8)
    ax.set_xlabel(f"% of {estimate.get('part', 'the part')}")
    return _svg(fig)


def _table(rows: list[tuple[str, Any]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _summary_rows(data: dict[str, Optional[dict]]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    if m := data["metrics"]:
        rows += [("recipe", m.get("recipe")), ("accuracy", f"{m['accuracy']:.4f}"),
                 ("float32 accuracy", f"{m['float_accuracy']:.4f}" if m.get("float_accuracy") is not None else "—"),
                 ("BOPs", f"{m.get('bops', 0):.4g}"),
                 ("weight sparsity", f"{m.get('sparsity', 0):.3f}")]
    for stage in ("export", "lower", "emulate", "build"):
        if (d := data[stage]) and d.get("mismatches") is not None:
            rows.append((f"{stage}: mismatches", f"{d['mismatches']} of {d.get('samples')} samples"))
    if e := data["estimate"]:
        net = e["network"]
        rows += [("part / clock", f"{e['part']} @ {e['clock_ns']} ns"),
                 ("estimated throughput", f"{net['estimated_throughput_fps']:,.0f} fps"),
                 ("estimated latency (critical path)", f"{net['estimated_latency_ns']:,.0f} ns")]
    if em := data["emulate"]:
        rows += [("emulated latency", f"{em['latency_cycles']} cycles"),
                 ("emulated interval", f"{em['interval_cycles']} cycles"),
                 ("emulated throughput", f"{em['throughput_fps'] or 0:,.0f} fps"),
                 ("deadlock", em["deadlock"])]
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
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:3px 8px;text-align:left}}
h2{{margin-top:1.6em;border-bottom:1px solid #ddd}}</style></head><body>
<h1>{title}</h1>{body}</body></html>"""


def write_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder not found: {run_dir}")
    data = {stem: _read(run_dir, stem) for stem in STAGE_FILES}
    run = _read(run_dir, RUN)
    if not any(data.values()) and run is None:
        raise UserError(f"{run_dir} holds none of {', '.join(s + '.json' for s in STAGE_FILES)}: nothing to report")
    timeline = _read(run_dir, TIMELINE) if data["emulate"] else None
    parts = ["<h2>Summary</h2>", _table(_summary_rows(data))]
    if rows := _target_rows(data, run):
        parts += ["<h2>Targets: what produced these numbers</h2>", _table(rows)]
    missing = [stem for stem in STAGE_FILES if data[stem] is None] + ([TIMELINE] if timeline is None else [])
    if missing:
        rows = [(f"{stem}.json", f"not found (written by {PRODUCERS[stem]})") for stem in missing]
        parts += ["<h2>Not in this run folder</h2>", _table(rows)]
    if svg := cycles_chart(data["estimate"], data["emulate"]):
        parts += ["<h2>Cycles per layer</h2>", svg]
    if timeline:
        parts += [f"<h2>Pipeline timeline (first {timeline['frames']} frames)</h2>", timeline_chart(timeline)]
        if svg := fifo_chart(timeline):
            parts += ["<h2>FIFO occupancy</h2>", svg]
    if svg := utilization_chart(data["estimate"]):
        parts += ["<h2>Resource utilization</h2>", svg]
    if e := data["estimate"]:
        note = " (FINN's formulas; FINN estimates no FF)" if e.get("cost_model") == "finn" else ""
        parts += [f"<h2>Resources, {html.escape(str(e.get('cost_model')))} model{note}</h2>",
                  _table([(k, f"{v:,.0f}") for k, v in e["total"].items()])]
    title = f"hil report: {(data['metrics'] or {}).get('recipe', run_dir.name)}"
    out = run_dir / REPORT
    write_text(out, PAGE.format(title=html.escape(title), body="\n".join(parts)))
    return out
