"""The FINN handoff verified by FINN: the model.onnx, folding_config.json,
specialize_layers_config.json and build.py custom steps that `hil build --backend finn` writes go
through finn-plus 1.6.1's own flow up to the estimates (tests/oracle/finn_flow.py:run_flow, FINN's ApplyConfig included), and FINN's
per-layer numbers equal `hil estimate --cost finn` on the handed-off dataflow, for cybsec-mlp,
tfc-w1a1 and cnv-w1a1 (untrained exports) at FINN's canonical foldings.

Compared: every MVAU, Thresholding and LabelSelect -- cycles, LUT, BRAM_18K, URAM, DSP. Not
comparable: finn-plus has no HLS ConvolutionInputGenerator nor StreamingMaxPool; it builds each SWG as
ConvolutionInputGenerator_rtl and each max-pool as ConvolutionInputGenerator_rtl + Pool_hls, which is
asserted here as the structure FINN chose.
"""

from __future__ import annotations

import json

import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from tests.golden.test_finn_canonical_foldings import FOLDINGS
from tests.oracle.differential import ours
from tests.oracle.finn_flow import FINN_NODE, handoff_steps, run_flow
from toolchain.pipeline import build
from toolchain.export import export_run

PART = "xc7z020clg400-1"
CYBSEC = {"Defaults": {}, "MVAU_hls_0": {"PE": 16, "SIMD": 40}, "MVAU_hls_1": {"PE": 1, "SIMD": 64},
          "MVAU_hls_2": {"PE": 1, "SIMD": 64}, "MVAU_hls_3": {"PE": 1, "SIMD": 1}}  # FINN's 3_folding.ipynb
CANONICAL = {"cybsec-mlp": CYBSEC, **FOLDINGS}
COMPARED = ("MVAU", "Thresholding", "LabelSelect")


@pytest.fixture(scope="module", params=sorted(CANONICAL))
def handoff(request, tmp_path_factory):
    name = request.param
    tmp = tmp_path_factory.mktemp(name)
    (tmp / "fold.json").write_text(json.dumps(CANONICAL[name]))
    # what `hil export NAME --untrained` and `hil build model.onnx --backend finn --folding ...` run,
    # in process (the CLI commands call exactly these)
    export_run(name, tmp / "model.onnx", untrained=True, samples=20)
    h = tmp / "h"
    build(tmp / "model.onnx", "finn", h, folding=tmp / "fold.json", part=PART, clock_ns=None, csim=0,
          hls_backend="Vitis", seed=0)
    # build.py's own custom steps first (TopK for the LabelSelect, the forced QONNX -> FINN conversion),
    # then FINN's default steps with the two config files, as build.py configures them
    flow = run_flow(ModelWrapper(str(h / "model.onnx")), PART,
                    folding=json.loads((h / "folding_config.json").read_text()),
                    specialize=json.loads((h / "specialize_layers_config.json").read_text()),
                    first_steps=handoff_steps((h / "build.py").read_text()))
    return name, ModelWrapper(str(h / "dataflow.onnx")), flow


@pytest.mark.slow
def test_finn_converts_the_whole_handoff(handoff):
    name, _, flow = handoff
    # CNV's NCHW input keeps FINN's input Transpose outside the dataflow, as in FINN's own CNV build
    assert flow.unconverted == (["Transpose"] if name == "cnv-w1a1" else [])


@pytest.mark.slow
def test_finn_layers_equal_ours(handoff):
    _, df, flow = handoff
    mine = [n for n in df.graph.node if n.op_type in COMPARED]
    theirs = [layer for layer in flow.layers if layer.op_type in {FINN_NODE[k][0] for k in COMPARED}]
    assert [FINN_NODE[n.op_type][0] for n in mine] == [t.op_type for t in theirs]
    for node, layer in zip(mine, theirs):
        expected = ours(getCustomOp(node), PART)
        got = {m: getattr(layer, m) for m in expected}
        assert got == expected, f"{node.name} vs FINN {layer.name}: FINN {got}, ours {expected}"


@pytest.mark.slow
def test_finn_builds_swg_and_maxpool_its_own_way(handoff):
    _, df, flow = handoff
    kinds = [n.op_type for n in df.graph.node]
    finn_kinds = [layer.op_type for layer in flow.layers]
    assert finn_kinds.count("ConvolutionInputGenerator_rtl") == kinds.count("SWG") + kinds.count("StreamingMaxPool")
    assert finn_kinds.count("Pool_hls") == kinds.count("StreamingMaxPool")
    assert "ConvolutionInputGenerator_hls" not in finn_kinds
