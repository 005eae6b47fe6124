"""The kws-conv1d FINN handoff verified by finn-plus 1.6.1, in the non-slow suite (issue 15: "FINN handoff
whose folding round-trips"). finn-plus has no ConvolutionInputGenerator1D: its InferConvInpGen makes a
1-D Im2Col a ConvolutionInputGenerator with is1D=1, specialized to ConvolutionInputGenerator_rtl. The
handoff must name our SWG1D windows that way (ConvolutionInputGenerator_rtl_N, numbered with FINN's other
sliding windows), or FINN's ApplyConfig only logs the entry and the window keeps FINN's default folding
(SIMD = IFMChannels). Here the untrained kws-conv1d export, handed off at a folding with the windows'
SIMD below IFMChannels and non-default ram styles, goes through FINN's own flow (tests/oracle/finn_flow.py,
ApplyConfig included): every folding_config.json entry names a FINN node and is applied to it, and every
FINN layer's estimate -- the windows' by rtl/convolutioninputgenerator_rtl.py:get_exp_cycles' 1D case --
equals ours on the handed-off dataflow.
"""

from __future__ import annotations

import json

import pytest
from qonnx.custom_op.registry import getCustomOp

from tests.oracle.test_finn_handoff import assert_finn_layers_equal_ours, assert_folding_applied
from toolchain.export import export_run

# IFMChannels 8 and 16: both windows folded below their channel count, each a different ram style
FOLDING = {"SWG1D_0": {"SIMD": 4, "ram_style": "block"}, "MVAU_0": {"PE": 4, "SIMD": 8},
           "SWG1D_1": {"SIMD": 8, "ram_style": "distributed"}, "MVAU_1": {"PE": 2, "SIMD": 16},
           "MVAU_2": {"PE": 2, "SIMD": 24}}
WINDOWS = {"SWG1D_0": "ConvolutionInputGenerator_rtl_0", "SWG1D_1": "ConvolutionInputGenerator_rtl_1"}


@pytest.fixture(scope="module")
def handoff(finn_handoff):
    # `hil export kws-conv1d --untrained` and `hil build model.onnx --backend finn --folding fold.json`, in
    # process, then FINN's flow on the handoff (conftest.py)
    h = finn_handoff("kws-conv1d", lambda path: export_run("kws-conv1d", path, untrained=True, samples=20), FOLDING)
    return h.dataflow, h.flow, h.dir


def test_finn_applies_the_windows_folding(handoff):
    """Each SWG1D is FINN's 1-D RTL window under the handoff's name, with the handoff's SIMD and ram_style
    (FINN's own default would be SIMD = IFMChannels, what a misnamed entry leaves)."""
    df, flow, h = handoff
    finn_layers = json.loads((h / "hil_build.json").read_text())["finn_layers"]
    assert {name: finn_layers[name] for name in WINDOWS} == {ours: [finn] for ours, finn in WINDOWS.items()}
    folding = json.loads((h / "folding_config.json").read_text())
    finn_nodes = assert_folding_applied(flow, folding)  # every entry, as FINN applied it
    ours = {n.name: getCustomOp(n) for n in df.graph.node}
    for name, finn in WINDOWS.items():
        inst = getCustomOp(finn_nodes[finn])
        assert finn_nodes[finn].op_type == "ConvolutionInputGenerator_rtl" and inst.get_nodeattr("is1D") == 1
        assert inst.get_nodeattr("SIMD") < inst.get_nodeattr("IFMChannels")
        assert inst.get_nodeattr("IFMChannels") == ours[name].get_nodeattr("IFMChannels")
        for attr in ("IFMDim", "OFMDim", "ConvKernelDim"):  # the same 1 x W geometry
            assert list(inst.get_nodeattr(attr)) == list(ours[name].get_nodeattr(attr)), (finn, attr)
        for attr, value in FOLDING[name].items():
            assert folding[finn][attr] == value and inst.get_nodeattr(attr) == value, (finn, attr)


def test_every_finn_layer_equals_ours(handoff):
    df, flow, h = handoff
    assert flow.unconverted == ["Transpose", "Mul"]  # the NCHW input transpose and the output scale
    cycles = dict(assert_finn_layers_equal_ours(df, flow, h))
    # get_exp_cycles, 1D case: OFMDim_w · k_w · IFMChannels / SIMD + 2 (28 · 5 · 8/4, 24 · 5 · 16/8)
    assert [cycles[w]["cycles"] for w in WINDOWS.values()] == [28 * 5 * 2 + 2, 24 * 5 * 2 + 2]
