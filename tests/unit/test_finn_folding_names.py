"""FINN-format folding configs read by FINN's own naming rule (toolchain/passes/finn_names.py).

The graph: tests/oracle/test_finn_handoff_small.py's tiny CNN, lowered to SWG_0, MVAU_0, MaxPool_0,
SWG_1, MVAU_1, MVAU_2. finn-plus 1.6.1 builds the max-pool as a ConvolutionInputGenerator_rtl + Pool_hls
pair, so FINN's names are ConvolutionInputGenerator_rtl_0, MVAU_hls_0, ConvolutionInputGenerator_rtl_1 +
Pool_hls_0, ConvolutionInputGenerator_rtl_2, MVAU_hls_1, MVAU_hls_2 (the FINN oracle checks that names
list against finn-plus itself: test_finn_handoff_small.py::test_the_handoff_names_what_finn_builds).
"""

from __future__ import annotations

import json

import pytest
from qonnx.custom_op.registry import getCustomOp

from tests.conftest import run_cli
from tests.oracle.test_finn_handoff_small import tiny_cnn
from toolchain.errors import UserError
from toolchain.lower import fold_dataflow, to_dataflow
from toolchain.passes.finn_names import finn_names, finn_styled, resolve


@pytest.fixture(scope="module")
def unfolded():
    return to_dataflow(tiny_cnn())


def attr(model, node: str, name: str):
    return getCustomOp(model.get_node_from_name(node)).get_nodeattr(name)


def test_finn_names_count_the_pool_window_among_the_windows(unfolded):
    names = {ours: [post for _, post in layers] for ours, layers in finn_names(finn_styled(unfolded)).items()}
    assert names == {"SWG_0": ["ConvolutionInputGenerator_rtl_0"], "MVAU_0": ["MVAU_hls_0"],
                     "MaxPool_0": ["ConvolutionInputGenerator_rtl_1", "Pool_hls_0"],
                     "SWG_1": ["ConvolutionInputGenerator_rtl_2"], "MVAU_1": ["MVAU_hls_1"], "MVAU_2": ["MVAU_hls_2"]}
    targets = resolve(["ConvolutionInputGenerator_rtl_2", "Pool_hls_0", "MVAU_hls_2", "MatrixVectorActivation_1"],
                      unfolded)
    assert (targets["ConvolutionInputGenerator_rtl_2"].node, targets["Pool_hls_0"].node) == ("SWG_1", "MaxPool_0")
    assert (targets["Pool_hls_0"].layer, targets["Pool_hls_0"].count) == (1, 2)
    assert targets["MVAU_hls_2"].node == "MVAU_2"
    assert targets["MatrixVectorActivation_1"].node == "MVAU_1"  # FINN v0.10: one FINN node per op of ours


def test_finn_plus_own_variant_choice_names_the_mvaus(unfolded):
    """finn-plus 1.6.1 specializes tiny_cnn's last MVAU (no thresholds, 4-bit narrow-range weights and
    inputs) to MVAU_rtl on the Pynq-Z2's xc7z020 (seen in its auto_folding_config.json; tests/oracle checks
    the rule against SpecializeLayers): its names MVAU_hls_0, MVAU_hls_1, MVAU_rtl_0 are our MVAU_0..2."""
    targets = resolve(["MVAU_hls_0", "MVAU_hls_1", "MVAU_rtl_0"], unfolded, part="Pynq-Z2")
    assert [targets[k].node for k in ("MVAU_hls_0", "MVAU_hls_1", "MVAU_rtl_0")] == ["MVAU_0", "MVAU_1", "MVAU_2"]


def test_a_finn_config_folds_the_nodes_its_names_mean(unfolded):
    cfg = {"Defaults": {}, "ConvolutionInputGenerator_rtl_2": {"SIMD": 2, "ram_style": "block"},
           "ConvolutionInputGenerator_rtl_1": {"SIMD": 4, "ram_style": "distributed", "parallel_window": 0,
                                               "inFIFODepths": [32]},
           "Pool_hls_0": {"PE": 4}, "MVAU_hls_2": {"PE": 1, "SIMD": 2}}
    model = fold_dataflow(unfolded, folding=cfg)
    assert (attr(model, "SWG_1", "SIMD"), attr(model, "SWG_1", "ram_style")) == (2, "block")
    assert attr(model, "MVAU_2", "SIMD") == 2
    # the names are RTL windows (finn-plus has no other): the ops the names address become rtl-style
    assert attr(model, "SWG_1", "preferred_impl_style") == "rtl"
    assert attr(model, "MaxPool_0", "preferred_impl_style") == "rtl"
    assert attr(model, "SWG_0", "preferred_impl_style") == "hls"  # not named: left as it was
    assert attr(model, "MaxPool_0", "inFIFODepths") == [32]  # the pair's input port is the node's


@pytest.mark.parametrize("cfg,message", [
    # a name FINN does not give any layer of this graph
    ({"ConvolutionInputGenerator_rtl_3": {"SIMD": 1}},
     r"unknown node\(s\) ConvolutionInputGenerator_rtl_3; the graph has: SWG_0, .*\(FINN names: .*Pool_hls_0"),
    # both styles for one op type: matched to the names FINN gives when it chooses (MVAU_2 alone is RTL)
    ({"MVAU_hls_0": {"PE": 1}, "MVAU_rtl_1": {"PE": 1}}, r"unknown node\(s\) MVAU_rtl_1"),
    # an illegal folding, by the op's own legal_folding
    ({"MVAU_hls_0": {"PE": 3}}, r"MVAU_0: PE=3 is not a legal folding; legal values: \[1, 2, 4\]"),
    # an attribute of another kind of node
    ({"MVAU_hls_1": {"ConvKernelDim": [3, 3]}}, r"MVAU_1: MVAU has no attribute 'ConvKernelDim'"),
    # the max-pool's FINN layers are built at one folding only
    ({"Pool_hls_0": {"PE": 2}}, r"Pool_hls_0 \(MaxPool_0, FINN layer 1\): PE=2 is not what hil builds \(PE=4\)"),
    ({"Pool_hls_0": {"ram_style": "block"}}, r"Pool_hls_0 \(MaxPool_0, FINN layer 1\): attribute ram_style"),
    # two names of one node
    ({"MVAU_1": {"PE": 2}, "MVAU_hls_1": {"PE": 4}}, r"'MVAU_hls_1' and 'MVAU_1' both name node MVAU_1|"
                                                      r"'MVAU_1' and 'MVAU_hls_1' both name node MVAU_1"),
])
def test_refusals_name_the_entry(unfolded, cfg, message):
    with pytest.raises(UserError, match=message):
        fold_dataflow(unfolded, folding=cfg)


def test_cli_refuses_in_one_line_and_writes_nothing(tmp_path):
    tiny_cnn().save(str(tmp_path / "model.onnx"))
    (tmp_path / "f.json").write_text(json.dumps({"Pool_hls_1": {"PE": 4}}))
    r = run_cli("lower", str(tmp_path / "model.onnx"), "--folding", str(tmp_path / "f.json"),
                "-o", str(tmp_path / "df.onnx"), "--samples", "5")
    assert r.returncode == 2
    assert r.stderr.startswith("error: folding config names unknown node(s) Pool_hls_1;")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "df.onnx").exists()
