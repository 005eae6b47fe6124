"""Calibrated cost model: behaviour (weight awareness, DSP width rule, folding monotonicity, FF) and
the energy model's action counts."""

import numpy as np
import pytest

from hw.cost import primitives as P
from hw.cost.calibrated import calibrated_resources, mvau_lanes
from hw.cost.energy import Action, node_actions, node_energy_pj
from hw.cost.hls4ml_dense import DenseConfig, Strategy, hls4ml_dense, multiplier_limit
from hw.devices import get_device
from hw.ops.base import divisors, make_hw_node
from hw.ops.graph import NodeSpec, linear_model

RNG = np.random.default_rng(0)
U250 = get_device("U250")


def mvau_model(w, pe, simd, idt="INT4", wdt="INT4", thr=None, **attrs):
    mw, mh = w.shape
    base = dict(MW=mw, MH=mh, PE=pe, SIMD=simd, inputDataType=idt, weightDataType=wdt,
                outputDataType="INT32" if thr is None else "UINT2", accDataType="INT32",
                noActivation=int(thr is None))
    inits = [np.asarray(w, dtype=np.float32)] + ([] if thr is None else [np.asarray(thr, dtype=np.float32)])
    return linear_model([NodeSpec("MVAU", {**base, **attrs}, inits)])


def cost(model, device=U250):
    return calibrated_resources(model, model.graph.node[0], device)


def naf_weight(k: int) -> int:
    k, n = abs(k), 0
    while k:
        if k & 1:
            n += 1
            k = k + 1 if k & 3 == 3 else k - 1
        k >>= 1
    return n


def test_csd_digits_and_odd_bits_match_a_reference():
    ks = np.arange(-5000, 5000)
    assert np.array_equal(P.csd_digits(ks), [naf_weight(int(k)) for k in ks])
    assert list(P.odd_bits([0, 1, -2, 12, 7, -96])) == [0, 1, 1, 2, 3, 2]


def test_zero_and_power_of_two_constants_are_free_dense_constants_are_not():
    lut, dsp, _ = P.const_multipliers(np.array([0, 1, -1, 2, -64, 1024]), 16, 16, "DSP48E2")
    assert lut.sum() == 0 and dsp.sum() == 0
    lut, dsp, _ = P.const_multipliers(np.array([3, 0b1011011, 0b101010101]), 8, 8, "DSP48E2")
    assert np.all(lut > 0) and dsp.sum() == 0  # 8-bit operands never get a DSP
    lut3, dsp3, _ = P.const_multipliers(np.array([0b101010101]), 16, 16, "DSP48E2")
    assert dsp3.sum() == 1 and lut3.sum() == 0  # 5 CSD digits, 16-bit operands: a DSP


def test_zero_weights_cost_nothing_in_an_mvau():
    w = RNG.integers(-7, 8, (32, 16))
    w[w == 0] = 3
    half = w.copy()
    half[:, ::2] = 0  # every other output channel pruned
    full_res, half_res = cost(mvau_model(w, 16, 32)), cost(mvau_model(half, 16, 32))
    zero_res = cost(mvau_model(np.zeros_like(w), 16, 32))
    datapath = full_res.LUT - zero_res.LUT
    assert 0.4 * datapath < half_res.LUT - zero_res.LUT < 0.6 * datapath
    lut, dsp, _, active = P.lane_multipliers(mvau_lanes(np.zeros((8, 4), int), 2, 4), 8, 8, "DSP48E2")
    assert not active.any() and lut.sum() == 0 and dsp.sum() == 0


def test_power_of_two_weights_are_cheaper_than_dense_constants():
    signs = RNG.choice([-1, 1], (32, 16))
    pow2 = signs * 2 ** RNG.integers(0, 6, (32, 16))
    dense = signs * RNG.choice([43, 45, 53, 55], (32, 16))  # 3 CSD digits each, same 6-bit range
    for idt in ("INT4", "INT16"):
        lut_pow2 = cost(mvau_model(pow2, 16, 32, idt=idt, wdt="INT8")).LUT
        lut_dense = cost(mvau_model(dense, 16, 32, idt=idt, wdt="INT8")).LUT
        assert lut_pow2 < 0.8 * lut_dense


@pytest.mark.parametrize("bits,expect_dsp", [(("INT8", "INT8"), False), (("INT16", "INT8"), False),
                                             (("INT12", "INT12"), True), (("INT16", "INT16"), True)])
def test_dsp_only_where_both_operand_widths_need_one(bits, expect_dsp):
    idt, wdt = bits
    w_max = 2 ** (int(wdt[3:]) - 1) - 1
    w = RNG.integers(-w_max, w_max, (32, 16))
    res = cost(mvau_model(w, 4, 8, idt=idt, wdt=wdt))  # folded: 32 real multipliers
    assert (res.DSP == 32) if expect_dsp else (res.DSP == 0)


def test_res_type_forces_the_mapping_and_dsp_block_sets_the_tiling():
    w = RNG.integers(-127, 127, (32, 16))
    assert cost(mvau_model(w, 4, 8, idt="INT8", wdt="INT8", resType="dsp")).DSP == 32
    w16 = RNG.integers(-30000, 30000, (32, 16))
    wide = mvau_model(w16, 4, 8, idt="INT26", wdt="INT16")
    assert cost(wide, get_device("U250")).DSP == 32  # 26 x 16 fits a 27x18 DSP48E2
    assert cost(wide, get_device("Pynq-Z2")).DSP == 64  # ... but not a 25x18 DSP48E1


@pytest.mark.parametrize("idt,w_max", [("INT4", 7), ("INT12", 2047)])
def test_monotone_in_pe_and_simd_over_the_folded_range(idt, w_max):
    w = RNG.integers(-w_max, w_max, (64, 32))
    grid = {(pe, simd): cost(mvau_model(w, pe, simd, idt=idt, wdt=idt))
            for pe in divisors(32) for simd in divisors(64) if pe * simd < 64 * 32}
    for (pe, simd), res in grid.items():
        for nxt in ((pe * 2, simd), (pe, simd * 2)):
            if nxt in grid:
                assert grid[nxt].LUT >= res.LUT and grid[nxt].DSP >= res.DSP, ((pe, simd), nxt)


def test_thresholds_count_every_step():
    w = RNG.integers(-7, 8, (16, 8))
    acc_range = np.sort(RNG.integers(-50, 50, (8, 3)), axis=1)
    one_step = cost(mvau_model(w, 8, 16, thr=acc_range[:, :1], outputDataType="UINT1"))
    three_steps = cost(mvau_model(w, 8, 16, thr=acc_range))
    assert three_steps.LUT > one_step.LUT + 2 * 8 * P.LUT_PER_ADDER_BIT * 6


def _node(op_type, n_in=1, n_out=1, **attrs):
    return make_hw_node(op_type, [f"i{k}" for k in range(n_in)], [f"o{k}" for k in range(n_out)], f"{op_type}_0",
                        **attrs)


STREAM_OPS = [
    _node("FIFO", depth=64, shape=[1, 16, 4], dataType="INT4"),
    _node("FIFO", depth=1024, shape=[1, 16, 4], dataType="INT4", impl_style="vivado", ram_style="auto"),
    _node("DWC", shape=[1, 64], inWidth=16, outWidth=4, dataType="INT4"),
    _node("DWC", shape=[1, 60], inWidth=12, outWidth=8, dataType="INT4"),
    _node("AddStreams", n_in=2, NumChannels=16, PE=4, inputDataTypes=["INT4", "INT4"], outputDataType="INT5"),
    _node("DuplicateStreams", n_out=2, NumChannels=16, PE=4, inputDataType="INT4"),
    _node("StreamingMaxPool", ImgDim=[8, 8], PoolDim=[2, 2], NumChannels=16, dataType="UINT4"),
    _node("LabelSelect", Labels=10, PE=1, K=3, inputDataType="INT8"),
    _node("SWG", ConvKernelDim=[3, 3], IFMChannels=8, IFMDim=[10, 10], OFMDim=[8, 8], SIMD=4, Stride=[1, 1],
          inputDataType="UINT4", outputDataType="UINT4", ram_style="block"),
    _node("FMPadding", ImgDim=[8, 8], Padding=[1, 1, 1, 1], NumChannels=8, SIMD=2, inputDataType="UINT4"),
]


@pytest.mark.parametrize("node", STREAM_OPS, ids=lambda n: n.op_type)
def test_every_op_has_ff_and_luts(node):
    res = calibrated_resources(None, node, U250)
    assert res.FF > 0 and res.LUT > 0 and res.DSP == 0


def test_fifo_is_srl_when_shallow_and_bram_when_deep():
    shallow, deep = (calibrated_resources(None, n, U250) for n in STREAM_OPS[:2])
    assert shallow.BRAM_18K == 0 and deep.BRAM_18K > 0


def test_thresholding_and_mvau_ff_positive_and_missing_weights_refused():
    thr = np.sort(RNG.integers(-20, 20, (16, 3)), axis=1)
    model = linear_model([NodeSpec("Thresholding", dict(NumChannels=16, PE=4, numSteps=3, inputDataType="INT8",
                                                        outputDataType="UINT2"), [thr])])
    assert cost(model).FF > 0 and cost(model).LUT > 0
    mvau = mvau_model(RNG.integers(-7, 8, (16, 8)), 2, 4)
    assert cost(mvau).FF > 0
    mvau.graph.initializer.pop()  # drop the weights
    with pytest.raises(ValueError, match="MVAU_0"):
        cost(mvau)


def test_hls4ml_dense_shares_multipliers_above_the_limit():
    k = np.full((32, 5), 0b1011011011, dtype=np.int64)  # 6 CSD digits each: 160 DSP multiplies
    rf1 = hls4ml_dense(k, DenseConfig(16, 16, 16))
    rf2 = hls4ml_dense(k, DenseConfig(16, 16, 16, reuse_factor=2))
    assert rf1.DSP == 160 and rf2.DSP == multiplier_limit(160, 0, 2) == 80
    assert rf2.LUT > rf1.LUT  # operand muxes of the shared DSPs
    assert hls4ml_dense(k, DenseConfig(8, 8, 16)).DSP == 0


def test_hls4ml_resource_strategy_saves_a_dsp_only_for_whole_zero_patterns():
    k = RNG.integers(300, 30000, (16, 8))
    cfg = DenseConfig(16, 16, 24, reuse_factor=4, strategy=Strategy.RESOURCE)
    assert hls4ml_dense(k, cfg).DSP == 32
    pattern = k.T.reshape(-1).copy()
    pattern[np.arange(0, 128, 32)] = 0  # the 4 weights multiplier 0 sees (pattern offset N/RF = 32)
    scattered = k.T.reshape(-1).copy()
    scattered[:4] = 0  # 4 zeros spread over 4 multipliers
    assert hls4ml_dense(pattern.reshape(8, 16).T, cfg).DSP == 31
    assert hls4ml_dense(scattered.reshape(8, 16).T, cfg).DSP == 32


def test_energy_drops_when_half_the_weights_are_zero():
    w = RNG.integers(1, 8, (64, 32)) * RNG.choice([-1, 1], (64, 32))
    half = w.copy()
    half[RNG.permutation(w.size).reshape(w.shape) < w.size // 2] = 0
    full_m, half_m = mvau_model(w, 4, 8), mvau_model(half, 4, 8)
    e_full, e_half = node_energy_pj(full_m, full_m.graph.node[0]), node_energy_pj(half_m, half_m.graph.node[0])
    assert e_half < e_full
    macs = {a.what: a.count for a in node_actions(half_m, half_m.graph.node[0]) if a.action is Action.MULT}
    assert macs["MAC multiplies"] == w.size // 2
    weight_reads = [a for a in node_actions(half_m, half_m.graph.node[0]) if a.what == "weight reads"]
    assert weight_reads[0].count == (32 // 4) * (64 // 8)  # one weight word per firing, zeros or not


def test_hwop_entry_point_costs_weightless_ops_and_refuses_weighted_ones():
    from qonnx.custom_op.registry import getCustomOp

    from hw.cost.resources import CostModel

    fifo = getCustomOp(STREAM_OPS[0])
    assert fifo.resources(CostModel.CALIBRATED, U250) == calibrated_resources(None, STREAM_OPS[0], U250)
    mvau = mvau_model(RNG.integers(-7, 8, (16, 8)), 2, 4)
    with pytest.raises(NotImplementedError, match="weight-aware"):
        getCustomOp(mvau.graph.node[0]).resources(CostModel.CALIBRATED, U250)


def test_estimate_with_the_calibrated_model_reports_ff_and_energy():
    from tests.golden.dataflow_models import cybsec_mlp
    from toolchain.estimate import estimate, summary

    est = estimate(cybsec_mlp(), part="Pynq-Z2", cost="calibrated")
    assert est["cost_model"] == "calibrated" and est["total"]["FF"] > 0
    assert all(r["FF"] > 0 and r["energy_pj"] > 0 for r in est["layers"])
    assert est["total_energy_pj"] == pytest.approx(sum(r["energy_pj"] for r in est["layers"]))
    assert "ASIC-45nm-relative" in est["energy_units"] and "energy_pJ" in summary(est)


def test_cli_estimate_cost_calibrated(tmp_path):
    import json

    from tests.conftest import run_cli
    from tests.golden.dataflow_models import cybsec_mlp

    path = tmp_path / "m.onnx"
    cybsec_mlp().save(str(path))
    proc = run_cli("estimate", str(path), "--cost", "calibrated", "--json")
    assert proc.returncode == 0, proc.stderr
    est = json.loads(proc.stdout)
    assert est["total"]["FF"] > 0 and est["layers"][0]["energy_pj"] > 0
