"""Differential: `hil estimate --cost finn` (our ops' cycles() and resources(FINN, part)) equals
finn-plus 1.6.1's own get_exp_cycles and node_res_estimation(part), exactly, on ≥ 200 generated
(model, folding, part) configurations: MVAU (xnor, binary weights, quantized; internal_embedded /
internal_decoupled / external; every ram_style, ram_style_thresholds and resType), Thresholding, LabelSelect,
DWC, FIFO, MLPs and CNN matrix stacks, the RTL SWG (every kernel style, depthwise, ram_style) and
max-pools (the two layers FINN's own InferPool / InferConvInpGen / SpecializeLayers make of an ONNX
MaxPool, layer by layer) (tests/oracle/configs.py, seed 19).

The hls-style SWG and StreamingMaxPool (FINN v0.10's kernels; finn-plus has neither) are listed by
scripts/finn_differential.py, not compared here.
"""

from __future__ import annotations

from collections import Counter

import pytest
from onnx import helper

from tests.oracle.configs import all_configs
from tests.oracle.differential import METRICS, compare, valid
from tests.oracle.finn_flow import FINN_NODE

CONFIGS = [c for c in all_configs() if valid(c)]


def test_enough_configurations_of_every_kind():
    assert len(CONFIGS) >= 200
    nodes = [n for c in CONFIGS for n in c.model().graph.node]
    kinds = Counter(n.op_type for n in nodes)
    assert set(kinds) == set(FINN_NODE) | {"StreamingMaxPool"} and min(kinds.values()) >= 15, kinds
    swg = [{a.name: helper.get_attribute_value(a) for a in n.attribute} for n in nodes if n.op_type == "SWG"]
    assert {tuple(a["ConvKernelDim"]) for a in swg} >= {(1, 1), (3, 3), (5, 5)}
    assert {a["depthwise"] for a in swg} == {0, 1}
    assert {a["ram_style"] for a in swg} == {b"auto", b"block", b"distributed", b"ultra"}
    assert {a["preferred_impl_style"] for a in swg} == {b"rtl"} and any(a["Stride"][0] > 1 for a in swg)
    mvau = [{a.name: a for a in n.attribute} for n in nodes if n.op_type == "MVAU"]

    def values(attr):
        return {(a[attr].s.decode() if a[attr].s else a[attr].i) for a in mvau if attr in a}

    assert values("mem_mode") == {"internal_embedded", "internal_decoupled", "external"}
    assert values("ram_style") == {"auto", "block", "distributed", "ultra"}
    assert values("resType") == {"auto", "lut", "dsp"}
    assert values("binaryXnorMode") == {0, 1} and values("noActivation") == {0, 1}
    assert {c.part for c in CONFIGS} == {"xc7z020clg400-1", "xczu7ev-ffvc1156-2-e", "xcu250-figd2104-2L-e"}
    assert sum(c.name.startswith(("mlp", "cnn")) for c in CONFIGS) >= 40
    styles = Counter(a.s.decode() for n in nodes if n.op_type == "Thresholding" for a in n.attribute
                     if a.name == "preferred_impl_style")
    assert min(styles["hls"], styles["rtl"]) >= 15, styles  # both of FINN's thresholding kernels


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_ours_equals_finns(config):
    for r in compare(config):
        assert r.finn is not None, f"{r.node}: FINN refused the node: {r.finn_error}"
        assert r.ours == r.finn, f"{config.name}/{r.node} on {r.part}: ours {r.ours} != FINN {r.finn}"


NETWORKS = [c for c in CONFIGS if c.name.startswith(("mlp", "cnn"))]


@pytest.mark.parametrize("config", NETWORKS, ids=[c.name for c in NETWORKS])
def test_hil_estimate_report_equals_finns(config):
    """The report `hil estimate --cost finn --part P` prints (toolchain.estimate.estimate), per layer
    and in total, against FINN's per-node estimates summed as FINN's res_estimation report does."""
    from toolchain.estimate import estimate

    report = estimate(config.model(), part=config.part, cost="finn")
    finn = {r.node: r.finn for r in compare(config)}
    assert [row["name"] for row in report["layers"]] == list(finn)
    for row in report["layers"]:
        assert {m: row[m] for m in METRICS} == finn[row["name"]], row["name"]
    for m in ("LUT", "BRAM_18K", "URAM", "DSP"):
        assert report["total"][m] == sum(f[m] for f in finn.values()), m
