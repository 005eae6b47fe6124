"""The report's charts, as inline SVG (the page stays one file).

Every chart shows every layer: horizontal bars on a linear axis, one row per layer, with the value
written at the end of each bar, so a 256-cycle layer beside a 38,400-cycle one is a short bar with
"256" next to it rather than a bar hidden by a log axis. Legends sit outside the plot area. Text
stays text in the SVG (svg.fonttype "none"), so a browser (and tests/unit/test_report_browser.py)
can find each layer's label; each layer's bar group carries the id `bar-<chart>-<layer>`.
"""

from __future__ import annotations

import io
from typing import Optional

NA = "n/a"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text as <text>, not glyph paths
    return plt


def require() -> None:
    """Import matplotlib now, so that a missing 'plot' extra is reported before any file is read."""
    _plt()


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    _plt().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or float(value).is_integer() else f"{value:.2g}"


def cycles_chart(names: list[str], estimated: Optional[list[int]], busy: Optional[list[float]],
                 stall: Optional[list[float]]) -> str:
    """Per layer: the estimated cycles per frame and the emulated busy + stall cycles per frame."""
    plt = _plt()
    rows = len(names)
    fig, ax = plt.subplots(figsize=(9, 0.42 * rows * (2 if estimated and busy else 1) + 1.4))
    height = 0.4 if estimated and busy else 0.7
    top = max([*(estimated or [0]), *[b + s for b, s in zip(busy or [], stall or [])], 1])
    if estimated:
        off = -height / 2 if busy else 0.0
        bars = ax.barh([i + off for i in range(rows)], estimated, height=height, color="C0",
                       label="estimated cycles (hil estimate)")
        for name, bar, v in zip(names, bars, estimated):
            bar.set_gid(f"bar-cycles-{name}")
            ax.text(bar.get_width() + top * 0.01, bar.get_y() + bar.get_height() / 2, _label(v), va="center", fontsize=7)
    if busy:
        off = height / 2 if estimated else 0.0
        ys = [i + off for i in range(rows)]
        b1 = ax.barh(ys, busy, height=height, color="C2", label="emulated busy per frame")
        ax.barh(ys, stall, height=height, left=busy, color="C3", alpha=0.7, label="emulated stall per frame (in + out)")
        for name, bar, b, s in zip(names, b1, busy, stall):
            if not estimated:
                bar.set_gid(f"bar-cycles-{name}")
            ax.text(b + s + top * 0.01, bar.get_y() + bar.get_height() / 2, f"{_label(b)} + {_label(s)}",
                    va="center", fontsize=7)
    ax.set_yticks(range(rows), names)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.15)
    ax.set_xlabel("clock cycles per frame (linear)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
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
                ax.barh(row, b - a + 1, left=a, color=colors[f % len(colors)], alpha=0.8, label=f"frame {f}")
    ax.set_yticks(range(len(nodes)), [name for name, _ in nodes])
    ax.invert_yaxis()
    ax.set_xlabel("clock cycle")
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles))  # one legend entry per frame
    ax.legend(seen.values(), seen.keys(), loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return _svg(fig)


def fifo_chart(timeline: dict) -> Optional[str]:
    """Words in each FIFO over time (step function), legend outside, below the plot."""
    fifos = [f for f in timeline["fifos"].values() if f["cycle"]]
    if not fifos:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for fifo in fifos:
        ax.step(fifo["cycle"], fifo["words"], where="post", label=f"{fifo['src']} → {fifo['dst']} (max {fifo['hwm']})")
    ax.set_xlabel("clock cycle")
    ax.set_ylabel("words in FIFO")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=7, ncol=2, frameon=False)
    return _svg(fig)


def utilization_chart(percent: dict[str, Optional[float]], capacity: dict[str, int], part: str) -> str:
    """% of the part per resource; a resource the cost model does not estimate is drawn as "n/a"."""
    plt = _plt()
    keys = list(percent)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(keys) + 1.0))
    values = [0.0 if percent[k] is None else percent[k] for k in keys]
    bars = ax.barh([f"{k} (of {capacity[k]:,})" for k in keys], values,
                   color=["C3" if v > 100 else "C0" for v in values])
    right = max(100.0, *values) * 1.15
    for k, bar, v in zip(keys, bars, values):
        bar.set_gid(f"bar-util-{k}")
        text = NA + " (not estimated)" if percent[k] is None else f"{v:.1f} %"
        ax.text(min(v, right) + right * 0.01, bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=8)
    ax.axvline(100, color="k", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlim(0, right)
    ax.set_xlabel(f"% of {part}")
    return _svg(fig)


PARETO_AXES = (("lut", "LUT"), ("latency", "latency (ns)"), ("energy", "energy (pJ)"), ("bops", "BOPs"))


def pareto_figure(trials: list[dict], front: set[int], baseline: Optional[dict]):
    """`hil pareto` / the report's Pareto section: accuracy against LUT, latency, energy and BOPs, one panel
    each; every complete trial in grey, the sweep's non-dominated ones (over all its objectives) in red,
    the panel's own two-objective front as a step line, the float baseline's accuracy as a dashed line
    (its BOPs as a star), the 8-bit dense design's resources as a dotted line. Returns the figure."""
    from matplotlib.ticker import NullFormatter

    plt = _plt()
    fig, axes = plt.subplots(1, len(PARETO_AXES), figsize=(4 * len(PARETO_AXES), 3.6), constrained_layout=True)
    for ax, (key, label) in zip(axes, PARETO_AXES):
        pts = [(t["measures"][key], t["measures"]["accuracy"], t["number"] in front) for t in trials
               if t["measures"].get(key) is not None]
        ax.scatter([x for x, _, f in pts if not f], [y for _, y, f in pts if not f], c="0.6", s=18, label="trial")
        ax.scatter([x for x, _, f in pts if f], [y for _, y, f in pts if f], c="tab:red", s=30, zorder=3,
                   label="Pareto front (all objectives)")
        stairs, top = [], -1.0
        for x, y, _ in sorted(pts, key=lambda p: (p[0], -p[1])):  # cheapest first: each step more accurate
            if y > top:
                stairs.append((x, y))
                top = y
        ax.step([x for x, _ in stairs], [y for _, y in stairs], where="post", c="tab:red", lw=0.8, alpha=0.6,
                label=f"front of accuracy vs {label.split()[0]}")
        if baseline:
            ax.axhline(baseline["float_accuracy"], ls="--", c="tab:blue", lw=1, label="float baseline")
            if key == "bops":
                ax.scatter([baseline["float_bops"]], [baseline["float_accuracy"]], marker="*", s=120, c="tab:blue")
            elif baseline["w8a8_dense"].get(key) is not None:
                ax.axvline(baseline["w8a8_dense"][key], ls=":", c="tab:green", lw=1, label="8-bit dense")
        if pts:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # 2x10^3, 3x10^3, ... overlap
        ax.set_xlabel(label)
        ax.set_ylabel("accuracy")
    axes[0].legend(fontsize=7)
    return fig


def pareto_chart(trials: list[dict], front: set[int], baseline: Optional[dict]) -> str:
    return _svg(pareto_figure(trials, front, baseline))


def pareto_png(trials: list[dict], front: set[int], baseline: Optional[dict], path) -> None:
    """The same figure as a PNG file at `path` (the caller makes the write atomic)."""
    fig = pareto_figure(trials, front, baseline)
    fig.savefig(path, dpi=110, format="png")
    _plt().close(fig)
