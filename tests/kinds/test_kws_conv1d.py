"""kws-conv1d (issue 15): a 1-D convolutional classifier on the seeded synthetic keyword-like set,
lowered to SWG1D (FINN ConvolutionInputGenerator1D) + MVAU, exact through the chain; each SWG1D + MVAU
is an hls4ml Conv1D whose C-sim equals the emulator; the FINN handoff's folding round-trips."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from qonnx.custom_op.registry import getCustomOp

from hw.ops.graph import NodeSpec, linear_model
from tests.kinds.chain import check_chain, check_finn_handoff, check_hls4ml_csim, run_chain
from toolchain.backends.plan import plan_hls4ml
from toolchain.datasets_synth import keywords_synthetic
from toolchain.estimate import estimate
from toolchain.onnxio import load_model

RECIPE = "kws-conv1d"


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return run_chain(RECIPE, tmp_path_factory.mktemp("kws"))


def test_kws_lowers_to_1d_windows_exactly(chain):
    check_chain(chain)
    assert chain.lower["nodes"]["SWG1D"] == 2 and chain.lower["nodes"]["MVAU"] == 3
    model = load_model(chain.dataflow)
    swg = [getCustomOp(n) for n in model.graph.node if n.op_type == "SWG1D"]
    assert [(list(s.get_nodeattr("IFMDim")), list(s.get_nodeattr("OFMDim"))) for s in swg] == \
        [([1, 32], [1, 28]), ([1, 28], [1, 24])]
    rows = {r["name"]: r["cycles"] for r in chain.estimate["layers"]}
    # convolutioninputgenerator1d.py get_exp_cycles: 1 + OFMDim_w · k · IFMChannels / SIMD
    assert rows["SWG1D_0"] == 1 + 28 * 5 * 8 and rows["SWG1D_1"] == 1 + 24 * 5 * 16


def test_hls4ml_plans_the_1d_windows_as_conv1d(chain):
    """SWG1D + MVAU -> one Conv1D (1x5 windows of C channels, hls4ml's (W, F) output), its threshold,
    and the classifier reads the flattened 24x16 map."""
    from toolchain.backends.hls4ml import dense_kind

    plan = plan_hls4ml(load_model(chain.dataflow))
    dense = [(layer.ir_nodes, dense_kind(layer), layer.shape) for layer in plan.layers if hasattr(layer, "conv")]
    assert dense == [(("SWG1D_0", "MVAU_0"), "Conv1D", (28, 16)), (("SWG1D_1", "MVAU_1"), "Conv1D", (24, 16)),
                     (("MVAU_2",), "Dense", (10,))]
    assert [layer.conv.k for layer in plan.layers[1:] if getattr(layer, "conv", None)] == [5, 5]


@pytest.mark.slow
def test_kws_hls4ml_csim_is_exact(chain, tmp_path):
    result = check_hls4ml_csim(chain, tmp_path, 1000, ["MVAU_0", "MVAU_1", "MVAU_2"])
    assert [layer["kind"] for layer in result["layers"]].count("Conv1D") == 2
    firmware = (tmp_path / "hls4ml" / "firmware" / "myproject.cpp").read_text()
    assert firmware.count("nnet::conv_1d_cl") == 2


def test_kws_finn_handoff_round_trips(chain, tmp_path):
    """The windows, folded below IFMChannels, go to FINN as finn-plus names and builds them (its 1-D RTL
    window, ConvolutionInputGenerator_rtl_N: finn-plus has no ConvolutionInputGenerator1D, and ApplyConfig
    ignores an entry naming no node) and come back from hil_folding.json with the same folding; the
    handed-off windows are estimated by FINN's RTL 1-D formula. FINN applying folding_config.json and
    its estimates: tests/oracle/test_finn_handoff_kws.py."""
    import json

    folding = {"SWG1D_0": {"SIMD": 2, "ram_style": "block"}, "SWG1D_1": {"SIMD": 4}}
    result = check_finn_handoff(chain, tmp_path, folding)
    windows = {"SWG1D_0": "ConvolutionInputGenerator_rtl_0", "SWG1D_1": "ConvolutionInputGenerator_rtl_1"}
    assert {name: result["finn_layers"][name] for name in windows} == {k: [v] for k, v in windows.items()}
    assert Counter(v.rsplit("_", 1)[0] for v in result["finn_names"].values())["MVAU_hls"] == 3
    out = tmp_path / "finn"
    config, ours = (json.loads((out / f).read_text()) for f in ("folding_config.json", "hil_folding.json"))
    special = json.loads((out / "specialize_layers_config.json").read_text())
    for name, finn in windows.items():
        expected = {"ram_style": "distributed", **folding[name]}
        assert {a: config[finn][a] for a in ("SIMD", "ram_style")} == expected
        assert {a: ours[name][a] for a in ("SIMD", "ram_style", "preferred_impl_style")} == {
            **expected, "preferred_impl_style": "rtl"}
        assert special[finn.replace("_rtl", "")] == {"preferred_impl_style": "rtl"}
    # rtl/convolutioninputgenerator_rtl.py:get_exp_cycles, 1D case: OFMDim_w · k · IFMChannels / SIMD + 2
    rows = {r["name"]: r["cycles"] for r in estimate(load_model(out / "dataflow.onnx"))["layers"]}
    assert rows["SWG1D_0"] == 28 * 5 * 4 + 2 and rows["SWG1D_1"] == 24 * 5 * 4 + 2


def test_swg1d_schedule_reads_every_pixel_before_its_windows():
    """The token schedule moves IFM·CF words in and OW·k·CF out in FINN's 1 + OW·k·CF firings, and
    word j of a window is never written before the pixel it copies was read."""
    model = linear_model([NodeSpec("SWG1D", dict(ConvKernelDim=[1, 3], IFMChannels=4, IFMDim=[1, 10],
                                                 OFMDim=[1, 8], SIMD=2, inputDataType="UINT4",
                                                 outputDataType="UINT4"))])
    op = getCustomOp(model.graph.node[0])
    s = op.token_schedule()
    reads, writes = s.reads[0], s.writes[0]
    assert s.firings == op.cycles() == 1 + 8 * 3 * 2
    assert reads.sum() == 10 * 2 and writes.sum() == 8 * 3 * 2
    read_at = np.flatnonzero(reads)  # firing of input word j (pixel j // 2, fold j % 2)
    for w, f in enumerate(np.flatnonzero(writes)):
        o, rest = divmod(w, 3 * 2)
        pixel, fold = o + rest // 2, rest % 2
        assert read_at[pixel * 2 + fold] <= f
    x = np.arange(10 * 4, dtype=np.float64).reshape(1, 1, 10, 4)
    out = op.execute([x])[0]
    assert np.array_equal(out[0, 0, 5], np.concatenate([x[0, 0, 5], x[0, 0, 6], x[0, 0, 7]]))


def test_keywords_synthetic_is_seeded_and_balanced():
    x1, y1 = keywords_synthetic(n=200, seed=3)
    x2, y2 = keywords_synthetic(n=200, seed=3)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert x1.shape == (200, 8, 1, 32) and 0.0 <= x1.min() and x1.max() <= 1.0
    assert np.bincount(y1).tolist() == [20] * 10
    assert not np.array_equal(keywords_synthetic(n=200, seed=4)[0], x1)


@pytest.mark.slow
def test_trained_kws_chain(tmp_path):
    from toolchain.train import train_recipe

    metrics = train_recipe(RECIPE, tmp_path / "run", epochs=5)
    assert metrics["accuracy"] > 0.8 and metrics["synthetic_data"]
    chain = run_chain(RECIPE, tmp_path, run=tmp_path / "run", samples=1000)
    check_chain(chain)
    check_hls4ml_csim(chain, tmp_path, 1000, ["MVAU_0", "MVAU_1", "MVAU_2"])
