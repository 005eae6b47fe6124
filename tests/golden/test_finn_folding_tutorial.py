"""Golden: FINN folding tutorial, notebooks/advanced/3_folding.ipynb @ 74918647c (2023-06-27, dev),
cybersecurity MLP, FINN cost model (docs/finn.md §5.2). Numbers are the notebook's outputs of
exp_cycles_per_layer and res_estimation."""

import pytest
from qonnx.custom_op.registry import getCustomOp

from hw.cost.resources import CostModel
from tests.golden.dataflow_models import cybsec_mlp
from toolchain.estimate import estimate


def ops(model):
    return {n.name: getCustomOp(n) for n in model.graph.node}


# layer: (exp_cycles, BRAM_18K, BRAM_efficiency, LUT) at PE = SIMD = 1
UNFOLDED = {
    "MVAU_0": (38400, 5, 0.83333, 319),
    "MVAU_1": (4096, 1, 0.44444, 320),
    "MVAU_2": (4096, 1, 0.44444, 320),
    "MVAU_3": (64, 1, 0.006944, 320),
}


@pytest.mark.parametrize("name", UNFOLDED)
def test_unfolded_layers(name):
    op = ops(cybsec_mlp())[name]
    cycles, bram, eff, lut = UNFOLDED[name]
    res = op.resources(CostModel.FINN)
    assert op.cycles() == cycles
    assert res.BRAM_18K == bram
    assert op.bram_efficiency() == pytest.approx(eff, abs=5e-6)
    assert res.LUT == lut
    assert (res.DSP, res.URAM, res.FF) == (0, 0, 0)


def test_mvau0_pe2_simd5_and_dwc():
    model = cybsec_mlp(folding={0: (2, 5)}, dwc_after_0=(4, 2))
    op = ops(model)
    mvau0 = op["MVAU_0"]
    assert (mvau0.instream_width(), mvau0.outstream_width()) == (5, 4)  # notebook: in 1 -> 5, out 2 -> 4 bits
    assert mvau0.folded_input_shape() == (1, 120, 5) and mvau0.folded_output_shape() == (1, 32, 2)
    res = mvau0.resources(CostModel.FINN)
    assert mvau0.cycles() == 3840
    assert res.BRAM_18K == 8
    assert mvau0.bram_efficiency() == pytest.approx(0.52083, abs=5e-6)
    assert res.LUT == 418
    dwc = op["DWC_0"].resources(CostModel.FINN)
    assert (dwc.LUT, dwc.BRAM_18K) == (3, 0)


def test_estimate_report_of_the_folded_mlp():
    model = cybsec_mlp(folding={0: (2, 5)}, dwc_after_0=(4, 2))
    est = estimate(model, part="Pynq-Z1", clock_ns=10.0)
    layers = {r["name"]: r for r in est["layers"]}
    assert [r["cycles"] for r in est["layers"]] == [3840, 0, 4096, 4096, 64]
    assert (layers["MVAU_0"]["LUT"], layers["MVAU_0"]["BRAM_18K"], layers["DWC_0"]["LUT"]) == (418, 8, 3)
    assert est["total"]["LUT"] == 418 + 3 + 320 * 3 and est["total"]["BRAM_18K"] == 8 + 3
    net = est["network"]
    # dataflow_performance: max over nodes; critical path = sum along the chain
    assert net["max_cycles"] == 4096 and net["critical_path_cycles"] == 3840 + 4096 + 4096 + 64
    assert net["estimated_throughput_fps"] == pytest.approx(1e8 / 4096)
    assert net["estimated_latency_ns"] == pytest.approx(12096 * 10.0)
    assert est["fits"] and est["utilization"]["LUT"] == pytest.approx(1381 / 53200)
