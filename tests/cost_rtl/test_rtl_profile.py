"""The calibrated model's `rtl` profile (hw/cost/rtl.py) against Yosys on held-out layers.

scripts/bench_synth.py splits its layer configurations into a fit set (even rows: the profile's LUT
coefficients were fitted on those) and a held-out set (odd rows). Here: the split is a partition,
the layers checked are held-out ones, and on them FF, DSP and BRAM equal Yosys' counts and LUT is
within 20 %. Debian's yosys must be installed: these tests fail, not skip, without it. The non-slow
test synthesizes two small held-out layers (cached by content hash, ~10-25 s each cold); the slow one
every held-out layer."""

import importlib.util
import sys

import numpy as np
import pytest

from tests.conftest import ROOT
from toolchain.defaults import resolve_device

# small held-out layers: fabric multipliers with thresholds (FF queue, registered threshold ROM), DSP
# multipliers without activation (LUTRAM queue), a Thresholding of comparators too narrow for a carry
# chain (its threshold register read at the next address)
CHECKED = ("mvau 32x16 p2s2 u2xi2 t3", "mvau 32x10 p2s2 u4xi4 noact", "thr 64 p8 u4 t3")
BOUND = 0.20


def bench():
    spec = importlib.util.spec_from_file_location("bench_synth", ROOT / "scripts" / "bench_synth.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_synth", module)
    spec.loader.exec_module(module)
    return module


def test_fit_and_held_out_sets_are_a_partition():
    b = bench()
    names = [c[0] for c in b.CONFIGS]
    fit, held = b.split(names)
    assert len(set(names)) == len(names)
    assert set(fit).isdisjoint(held) and sorted(fit + held) == sorted(names)
    for kind in ("mvau", "thr", "xnor", "noact"):  # every kind of layer is fitted and validated
        assert any(kind in n for n in fit) and any(kind in n for n in held), kind
    assert set(CHECKED) <= set(held)  # the bound below is checked on held-out layers only
    # the layers are the same whoever builds them (their values are seeded by their names)
    w1, w2 = b.spec(CHECKED[0]).inits[0], b.spec(CHECKED[0]).inits[0]
    assert np.array_equal(w1, w2)


def lut_errors(b, names, tmp_path) -> dict[str, float]:
    """Per layer: FF, DSP and BRAM equal Yosys' (asserted); the LUT relative error (returned)."""
    device = resolve_device(None)
    errors = {}
    for name in names:
        r = b.measure(name, device, tmp_path / name.replace(" ", "_"))
        y, m = r["yosys"], r["rtl"]
        assert (m.FF, m.DSP, m.BRAM_18K) == (y.FF, y.DSP, y.BRAM_18K), (name, m, y)
        errors[name] = abs(m.LUT - y.LUT) / y.LUT
    return errors


def test_rtl_profile_on_small_held_out_layers(tmp_path):
    errors = lut_errors(bench(), CHECKED, tmp_path)
    assert max(errors.values()) <= BOUND, errors


@pytest.mark.slow
def test_rtl_profile_on_every_held_out_layer(tmp_path):
    """Every held-out layer: structure exact, LUT within 20 % (the issue's bound; measured: mean 5 %,
    max 18 %, scripts/bench_synth.py prints them)."""
    b = bench()
    errors = lut_errors(b, b.split([c[0] for c in b.CONFIGS])[1], tmp_path)
    assert max(errors.values()) <= BOUND, errors


def test_estimate_with_the_rtl_profile_equals_yosys_per_node(tmp_path):
    """`hil estimate --cost calibrated --impl rtl` on a small design (an edge FIFO node before a
    held-out MVAU) against `hil synth` of its RTL project, node by node."""
    import jsonschema

    from hw.ops.graph import NodeSpec, linear_model
    from toolchain.backends.rtl import write_rtl
    from toolchain.backends.synth import synthesize
    from toolchain.estimate import estimate
    from toolchain.schemas import schema

    # the FIFO carries the MVAU's input words: SIMD 2 elements of UINT2
    model = linear_model([NodeSpec("FIFO", {"depth": 4, "shape": [1, 16, 2], "dataType": "UINT2"}),
                          bench().spec(CHECKED[0])], name="est")
    write_rtl(model, tmp_path / "prj")
    measured = {i.name: i.cells.resources() for i in synthesize(tmp_path / "prj").instances if i.node}
    hls = estimate(model, cost="calibrated")
    rtl = estimate(model, cost="calibrated", impl="rtl")
    jsonschema.validate(rtl, schema("estimate"))
    assert (hls["impl"], rtl["impl"]) == ("hls", "rtl")
    assert {r["name"] for r in rtl["layers"]} == set(measured)
    for row in rtl["layers"]:
        y = measured[row["name"]]
        assert (row["FF"], row["DSP"], row["BRAM_18K"]) == (y.FF, y.DSP, y.BRAM_18K), (row, y)
        assert abs(row["LUT"] - y.LUT) <= BOUND * y.LUT, (row, y)


@pytest.mark.slow
@pytest.mark.parametrize("target_fps", [None, 100000.0])
def test_digits_mlp_rtl_profile_per_node(target_fps, tmp_path):
    """A whole acceptance design (digits-mlp at PE=SIMD=1 and at a --target-fps folding with DWCs):
    per node FF, DSP and BRAM equal `hil synth`'s, LUT in total within 20 %."""
    from toolchain.backends.rtl import write_rtl
    from toolchain.backends.synth import synthesize
    from toolchain.estimate import estimate
    from toolchain.export import export_run
    from toolchain.lower import lower_model
    from toolchain.onnxio import load_model

    assert export_run("digits-mlp", tmp_path / "m.onnx", untrained=True, samples=100)["mismatches"] == 0
    model = lower_model(load_model(tmp_path / "m.onnx"), **({"target_fps": target_fps} if target_fps else {}))
    write_rtl(model, tmp_path / "prj")
    measured = {i.name: i.cells.resources() for i in synthesize(tmp_path / "prj").instances if i.node}
    rows = estimate(model, cost="calibrated", impl="rtl")["layers"]
    for row in rows:
        y = measured[row["name"]]
        assert (row["FF"], row["DSP"], row["BRAM_18K"]) == (y.FF, y.DSP, y.BRAM_18K), (row, y)
    lut = sum(measured[r["name"]].LUT for r in rows)
    assert abs(sum(r["LUT"] for r in rows) - lut) <= BOUND * lut
