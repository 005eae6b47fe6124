"""The FINN handoff verified by FINN: the model.onnx, folding_config.json,
specialize_layers_config.json and build.py custom steps that `hil build --backend finn` writes go
through finn-plus 1.6.1's own flow up to the estimates (tests/oracle/finn_flow.py:run_flow, FINN's ApplyConfig included), and FINN's
per-layer numbers equal `hil estimate --cost finn` on the handed-off dataflow, for cybsec-mlp,
tfc-w1a1 and cnv-w1a1 (untrained exports) at FINN's canonical foldings.

Compared: every layer FINN builds -- cycles, LUT, BRAM_18K, URAM, DSP -- in graph order and by FINN's
node name (the handoff's folding_config.json keys). finn-plus has no HLS ConvolutionInputGenerator nor
StreamingMaxPool: the handoff's SWGs are rtl-style (FINN's ConvolutionInputGenerator_rtl) and each
max-pool is the two layers FINN builds for it (ConvolutionInputGenerator_rtl + Pool_hls,
StreamingMaxPool.finn_layers), so FINN must apply every folding entry and leave no node unconfigured.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qonnx.custom_op.registry import getCustomOp

from tests.golden.test_finn_canonical_foldings import FOLDINGS
from tests.oracle.conftest import PART
from tests.oracle.differential import ours
from toolchain.export import export_run

CYBSEC = {"Defaults": {}, "MVAU_hls_0": {"PE": 16, "SIMD": 40}, "MVAU_hls_1": {"PE": 1, "SIMD": 64},
          "MVAU_hls_2": {"PE": 1, "SIMD": 64}, "MVAU_hls_3": {"PE": 1, "SIMD": 1}}  # FINN's 3_folding.ipynb
CANONICAL = {"cybsec-mlp": CYBSEC, **FOLDINGS}


@pytest.fixture(scope="module", params=sorted(CANONICAL))
def handoff(request, finn_handoff):
    # what `hil export NAME --untrained` and `hil build model.onnx --backend finn --folding ...` run, in
    # process, then build.py's own custom steps (TopK for the LabelSelect, the forced QONNX -> FINN
    # conversion) and FINN's default steps with the two config files, as build.py configures them (conftest.py)
    name = request.param
    h = finn_handoff(name, lambda path: export_run(name, path, untrained=True, samples=20), CANONICAL[name])
    return name, h.dataflow, h.flow, h.dir


@pytest.mark.slow
def test_finn_converts_the_whole_handoff(handoff):
    name, _, flow, _ = handoff
    # CNV's NCHW input keeps FINN's input Transpose outside the dataflow, as in FINN's own CNV build
    assert flow.unconverted == (["Transpose"] if name == "cnv-w1a1" else [])


def our_layers(df, names: dict) -> list[tuple[str, dict]]:
    """(FINN name, our estimate) of every FINN layer of the handed-off dataflow in graph order, the names
    from hil_build.json's finn_layers: an op's own numbers, or each of its finn_layers (an rtl-style
    max-pool is two FINN layers)."""
    out = []
    for node in df.graph.node:
        if node.op_type in ("FIFO", "DWC"):
            continue  # FINN inserts its own at step_set_fifo_depths, after the estimates compared here
        op = getCustomOp(node)
        parts = getattr(op, "finn_layers", lambda: None)()
        numbers = [ours(op, PART)] if not parts else [
            {"cycles": p.cycles, "LUT": p.resources[0], "BRAM_18K": p.resources[1], "URAM": p.resources[2], "DSP": 0}
            for p in parts]
        assert len(numbers) == len(names[node.name]), node.name
        out += list(zip(names[node.name], numbers))
    return out


def assert_finn_layers_equal_ours(df, flow, h: Path) -> list[tuple[str, dict]]:
    """FINN's layers of the handoff in h are ours (our_layers), in order, each with our estimate's
    numbers; returns ours."""
    mine = our_layers(df, json.loads((h / "hil_build.json").read_text())["finn_layers"])
    assert [layer.name for layer in flow.layers] == [name for name, _ in mine]
    for (name, expected), layer in zip(mine, flow.layers):
        got = {m: getattr(layer, m) for m in expected}
        assert got == expected, f"{name}: FINN {got}, ours {expected}"
    return mine


def assert_folding_applied(flow, folding: dict) -> dict:
    """Every folding_config.json key names a FINN layer and every layer has its entry, with its PE,
    SIMD and ram_style as FINN applied them; returns FINN's nodes by name."""
    finn_nodes = {n.name: n for n in flow.model.graph.node}
    assert set(folding) - {"Defaults"} == {layer.name for layer in flow.layers}
    for name, entry in folding.items():
        for attr in set(entry) & {"PE", "SIMD", "ram_style"}:
            assert getCustomOp(finn_nodes[name]).get_nodeattr(attr) == entry[attr], (name, attr)
    return finn_nodes


@pytest.mark.slow
def test_finn_layers_equal_ours(handoff):
    _, df, flow, h = handoff
    assert_finn_layers_equal_ours(df, flow, h)


@pytest.mark.slow
def test_finn_applies_every_folding_entry(handoff):
    """Every folding_config.json key names a FINN node and every FINN node has its entry, with the
    values applied (ApplyConfig warns and goes on otherwise)."""
    _, _, flow, h = handoff
    folding = json.loads((h / "folding_config.json").read_text())
    finn_nodes = {n.name: n for n in flow.model.graph.node if n.name in {layer.name for layer in flow.layers}}
    assert set(folding) - {"Defaults"} == set(finn_nodes)
    for name, entry in folding.items():
        if name == "Defaults":
            continue
        inst = getCustomOp(finn_nodes[name])
        for attr in ("PE", "SIMD"):
            if attr in entry:
                assert inst.get_nodeattr(attr) == entry[attr], (name, attr)
