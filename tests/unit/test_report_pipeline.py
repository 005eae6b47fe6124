"""Issue 18 acceptance, in CI's suite: after `hil train`, `export`, `lower`, `estimate`, `emulate` in
the README's order (no `demo`, no `--run-dir`), `hil report` shows the full page; every verb's --json
validates against its schema (toolchain/schemas); the page, opened in headless Chromium, shows the
layer table and every layer.

The run is a tiny recipe (digits, 64-16-10, 2 epochs) driven through the real `hil` CLI in-process
(typer's runner: the same commands, without a Python start per verb), once per module.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from toolchain.cli import app

TINY = """name: tiny-digits
description: digits-mlp cut down for the report test (64-16-10, 2 epochs)
dataset: {name: digits}
architecture:
  input_shape: [64]
  layers:
    - {type: dense, units: 16}
    - {type: dense, units: 10}
quant: {weight_bits: 4, act_bits: 4}
training: {epochs: 2, batch_size: 64, lr: 0.01, seed: 0}
"""
TARGET_FPS = 400_000


def hil(*args) -> dict:
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else {}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The README's order on a fresh run folder; returns (run folder, {verb: printed --json})."""
    base = tmp_path_factory.mktemp("readme-order")
    recipe, run, x = base / "tiny.yaml", base / "runs" / "t", base / "x.npy"
    recipe.write_text(TINY)
    out = {"train": hil("train", recipe, "--out", run, "--no-float-baseline", "--json")}
    out["export"] = hil("export", run, "-o", run / "model.onnx", "--samples", "200", "--json")
    out["lower"] = hil("lower", run / "model.onnx", "--target-fps", TARGET_FPS, "--part", "Pynq-Z2",
                       "-o", run / "dataflow.onnx", "--samples", "200", "--json")
    out["estimate"] = hil("estimate", run / "dataflow.onnx", "--cost", "finn", "--json")
    from toolchain.data import load_dataset
    from toolchain.zoo import load_recipe

    np.save(x, load_dataset(load_recipe("digits-mlp")).x_test[:64])
    out["emulate"] = hil("emulate", run / "dataflow.onnx", "--inputs", x, "--size-fifos", "--json")
    out["report"] = hil("report", run, "--json")
    return run, out


def test_verbs_leave_their_json_in_the_train_run_folder(run):
    folder, out = run
    for verb in ("export", "lower", "estimate", "emulate"):
        assert json.loads((folder / f"{verb}.json").read_text()) == out[verb], verb
    assert (folder / "emulate_timeline.json").exists()
    assert out["report"]["report"] == str(folder / "report.html")


def test_a_file_outside_a_run_folder_leaves_no_json(run, tmp_path):
    folder, _ = run
    shutil.copy(folder / "dataflow.onnx", tmp_path / "dataflow.onnx")
    hil("estimate", tmp_path / "dataflow.onnx", "--json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataflow.onnx"]


def test_run_marker_is_what_hil_train_writes():
    from toolchain.report.rundir import RUN_MARKER
    from toolchain.train import METRICS

    assert RUN_MARKER == METRICS


def _cells(page: str, layer: str) -> list[str]:
    row = re.search(rf'<tr data-layer="{re.escape(layer)}">(.*?)</tr>', page).group(1)
    return re.findall(r"<td>(.*?)</td>", row)


def test_full_page_after_the_readme_order(run):
    folder, out = run
    page = (folder / "report.html").read_text()
    est, em = out["estimate"], out["emulate"]
    assert "<title>hil report: t (tiny-digits)</title>" in page  # the run folder's resolved name
    for stem in ("export", "lower", "estimate", "emulate", "emulate_timeline"):
        assert f"{stem}.json</th><td>not found" not in page, stem
    # one row per dataflow node, in graph order, with its op, folding, cycles and share of the interval
    names = re.findall(r'<tr data-layer="([^"]+)">', page)
    assert names == [r["name"] for r in est["layers"]]
    for r in est["layers"]:
        cells = _cells(page, r["name"])
        assert cells[1] == r["op"] and cells[3] == f"{r['cycles']:,}", cells
        assert cells[4] == f"{100 * r['cycles'] / est['network']['max_cycles']:.1f} %"
        if r["PE"] is not None:
            assert cells[2].startswith(f"PE {r['PE']} · SIMD {r['SIMD']}")
        assert cells[6] == "n/a"  # FF: FINN's formulas estimate none
        lut = r["LUT"]
        assert cells[5] == f"{lut:,} ({100 * lut / 53200:.1f} %)"  # LUT with % of the Pynq-Z2's 53,200
    assert "LUT (% of 53,200)" in page and "FF (% of 106,400)" in page
    busy = {n: v["busy_per_frame"] for n, v in em["per_layer"].items()}
    for name, b in busy.items():
        assert _cells(page, name)[-3] == f"{b:,.1f}"  # emulated busy cycles per frame, not a total
    # the target in words, against the emulated throughput with sized FIFOs
    word = "MET" if em["throughput_fps"] >= TARGET_FPS else "MISSED"
    assert f"Throughput target {TARGET_FPS:,} fps (hil lower --target-fps): {word}" in page
    assert f"The design fits the xc7z020clg400-1 under the finn cost model" in page
    # the bottleneck named, with what raising its folding gives and costs
    b = est["bottleneck"]
    assert b["layer"] == max(est["layers"], key=lambda r: r["cycles"])["name"]
    assert f"Bottleneck: {b['layer']} ({b['op']}), {b['cycles']:,} cycles per frame" in page
    for r in b["relief"]:
        assert f"Raise {r['attribute']} of {b['layer']} from {r['from']} to {r['to']}: {r['cycles']:,} cycles" in page
    fifo_rows = re.search(r'<table id="fifos">.*?</table>', page, re.S).group(0)
    for name, depth in em["fifo_depths"].items():
        assert f"<td>{name}</td>" in fifo_rows.replace("&gt;", ">") and f"<td>{depth:,}</td>" in fifo_rows
    for chart in ("cycles", "utilization", "timeline", "fifo"):
        assert f'id="chart-{chart}"' in page, chart


def test_report_of_the_current_folder_is_titled_by_its_real_name(run, monkeypatch):
    """`hil report .` names the page after the folder, not "." (issue 18: the title was "hil report:")."""
    folder, _ = run
    monkeypatch.chdir(folder)
    hil("report", ".")
    assert "<h1>hil report: t (tiny-digits)</h1>" in (folder / "report.html").read_text()


def test_bottleneck_relief_follows_the_mvau_folding(run):
    """Raising PE or SIMD of an MVAU by the next divisor divides its cycles (MH/PE)·(MW/SIMD)·vec by
    to/from; the network interval becomes the larger of that and the next slowest layer."""
    _, out = run
    b = out["estimate"]["bottleneck"]
    assert b["op"] == "MVAU" and b["relief"], b
    for r in b["relief"]:
        assert r["attribute"] in ("PE", "SIMD") and r["to"] > r["from"]
        assert r["cycles"] * r["to"] == b["cycles"] * r["from"], r
        assert r["interval_cycles"] == max(r["cycles"], b["next_slowest_cycles"])
        assert r["extra"]["FF"] is None and r["extra"]["LUT"] > 0, r  # more PEs/SIMD lanes cost LUTs


# ---- JSON schemas ------------------------------------------------------------------------------------
def _validate(verb: str, obj: dict) -> None:
    import jsonschema

    from toolchain.schemas import schema

    jsonschema.Draft202012Validator.check_schema(schema(verb))
    jsonschema.validate(obj, schema(verb), cls=jsonschema.Draft202012Validator)


def test_every_verbs_json_validates_against_its_schema(run, tmp_path):
    folder, out = run
    for verb in ("train", "export", "lower", "estimate", "emulate", "report"):
        _validate(verb, out[verb])
    assert json.loads((folder / "metrics.json").read_text()) == out["train"]  # the file is the --json object
    calibrated = hil("estimate", folder / "dataflow.onnx", "--cost", "calibrated", "--json")
    _validate("estimate", calibrated)
    assert calibrated["not_estimated"] == [] and calibrated["total"]["FF"] > 0
    timing_only = hil("emulate", folder / "dataflow.onnx", "--frames", "2", "--json")  # no inputs, no sizing
    _validate("emulate", timing_only)
    # with --inputs the JSON says which exact values engine ran and why; without, no values ran
    assert out["emulate"]["values_engine"]["choice"] in ("plan", "onnxruntime"), out["emulate"]
    assert out["emulate"]["values_engine"]["why"], out["emulate"]
    assert "values_engine" not in timing_only
    for backend in ("rtl", "hls4ml", "finn"):
        _validate("build", hil("build", folder / "dataflow.onnx", "--backend", backend, "-o", tmp_path / backend,
                               "--json"))


def test_schemas_reject_what_issue_18_complained_of(run):
    """Not vacuous: FF reported as 0 under FINN's formulas, a total busy count instead of a per-frame
    one, or a missing schema_version, each fail validation."""
    import copy

    import jsonschema

    _, out = run
    est = copy.deepcopy(out["estimate"])
    est["total"]["FF"] = 0
    em = copy.deepcopy(out["emulate"])
    name = next(iter(em["per_layer"]))
    em["per_layer"][name]["busy"] = em["per_layer"][name].pop("busy_per_frame") * em["frames"]
    bare = {k: v for k, v in out["lower"].items() if k != "schema_version"}
    for verb, obj in (("estimate", est), ("emulate", em), ("lower", bare)):
        with pytest.raises(jsonschema.ValidationError):
            _validate(verb, obj)


# ---- the page in a browser ---------------------------------------------------------------------------
PROBE = """<script>
(() => {
  const box = el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const shown = el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
           && r.left >= 0 && r.right <= document.documentElement.clientWidth; };
  const out = {rows: {}, labels: {}, bars: {}, legends: {}};
  document.querySelectorAll('#layers tbody tr').forEach(tr => { out.rows[tr.dataset.layer] = shown(tr); });
  const chart = document.getElementById('chart-cycles');
  chart.querySelectorAll('text').forEach(t => { const k = t.textContent.trim(); if (k) out.labels[k] = shown(t); });
  chart.querySelectorAll('g[id^="bar-cycles-"]').forEach(g => {
    const r = g.getBoundingClientRect(); out.bars[g.id.slice(11)] = [r.width, r.height]; });
  document.querySelectorAll('.chart').forEach(c => {
    const legend = c.querySelector('[id^="legend_"]'), axes = c.querySelector('[id^="axes_"] [id^="patch_"]');
    if (legend && axes) { const [a, b] = [box(legend), box(axes)];
      out.legends[c.id] = a[2] <= b[0] || a[0] >= b[2] || a[3] <= b[1] || a[1] >= b[3]; } });
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,4000"]


def _chromium() -> str:
    path = shutil.which("chromium")
    assert path, "chromium is not installed: `make test` installs it (Makefile CHROMIUM_STAMP, Debian's chromium)"
    return path


def test_report_in_headless_chromium_shows_the_table_and_every_layer(run, tmp_path):
    folder, out = run
    page = tmp_path / "page.html"
    page.write_text((folder / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    dom = subprocess.run([_chromium(), *FLAGS, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    probe = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))
    layers = [r["name"] for r in out["estimate"]["layers"]]
    assert probe["rows"] == {n: True for n in layers}, probe["rows"]  # every table row laid out, in the window
    assert all(probe["labels"].get(n) for n in layers), probe["labels"]  # every layer named in the chart
    for r in out["estimate"]["layers"]:
        if r["cycles"]:  # linear axis: a non-zero layer is a bar at least a pixel wide
            width, height = probe["bars"][r["name"]]
            assert width >= 1 and height >= 1, (r["name"], width, height)
    assert probe["legends"] and all(probe["legends"].values()), probe["legends"]  # legends outside the plots

    from PIL import Image

    shot = tmp_path / "shot.png"
    subprocess.run([_chromium(), *FLAGS, f"--screenshot={shot}", (folder / "report.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    img = np.asarray(Image.open(shot).convert("L"))
    assert img.shape == (4000, 1280)
    ink = (img < 200).mean(axis=1)  # share of dark pixels per row
    assert (ink > 0.01).sum() > 1000, "the screenshot is (nearly) blank"
