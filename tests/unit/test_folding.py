"""Folding configs (FINN format) and SetFolding (FINN set_folding.py), on a cybsec-shaped MLP."""

import dataclasses
import json

import numpy as np
import pytest
from qonnx.custom_op.registry import getCustomOp

from hw.cost.resources import CostModel
from hw.devices import get_device
from hw.ops.graph import NodeSpec, linear_model
from toolchain.errors import UserError
from toolchain.passes.folding import (ApplyFolding, FoldingConfig, SetFolding, folding_to_json, max_cycles,
                                      our_node_name, target_cycles, total_resources)

RNG = np.random.default_rng(4)


def mlp(sizes=(600, 64, 64, 64, 1)):
    specs = []
    for i, (mw, mh) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        w = RNG.integers(-2, 2, size=(mw, mh)).astype(np.float32)
        thr = [] if last else [np.sort(RNG.integers(-20, 20, size=(mh, 3)), axis=1).astype(np.float32)]
        specs.append(NodeSpec("MVAU", dict(MW=mw, MH=mh, PE=1, SIMD=1, inputDataType="BIPOLAR" if i == 0 else "UINT2",
                                           weightDataType="INT2", outputDataType="INT32" if last else "UINT2",
                                           noActivation=int(last)), [w] + thr))
    return linear_model(specs)


def attrs(model, name, *keys):
    op = getCustomOp(next(n for n in model.graph.node if n.name == name))
    return tuple(op.get_nodeattr(k) for k in keys)


def test_finn_names_are_aliases():
    assert our_node_name("MVAU_hls_3") == "MVAU_3"
    assert our_node_name("MatrixVectorActivation_0") == "MVAU_0"
    assert our_node_name("ConvolutionInputGenerator_rtl_2") == "SWG_2"
    assert our_node_name("StreamingMaxPool_Batch_1") == "MaxPool_1"
    assert our_node_name("StreamingDataWidthConverter_Batch_0") == "DWC_0"
    assert our_node_name("StreamingFIFO_rtl_7") == "FIFO_7"
    assert our_node_name("Thresholding_hls_0") == "Thresholding_0"
    assert our_node_name("LabelSelect_hls_0") == "LabelSelect_0"
    assert our_node_name("MVAU_1") == "MVAU_1"


def test_apply_finn_config_with_defaults():
    cfg = {"Defaults": {"ram_style": ["distributed", ["MVAU_hls"]], "resType": ["lut", "all"]},
           "MVAU_hls_0": {"PE": 2, "SIMD": 5, "ram_style": "block", "mem_mode": "internal_embedded"},
           "MatrixVectorActivation_1": {"PE": 4, "SIMD": 8}}
    model = mlp().transform(ApplyFolding(cfg))
    assert attrs(model, "MVAU_0", "PE", "SIMD", "ram_style", "mem_mode", "resType") == \
        (2, 5, "block", "internal_embedded", "lut")
    assert attrs(model, "MVAU_1", "PE", "SIMD", "ram_style") == (4, 8, "distributed")
    assert attrs(model, "MVAU_3", "PE", "SIMD", "ram_style") == (1, 1, "distributed")


@pytest.mark.parametrize("cfg,message", [
    ({"MVAU_hls_9": {"PE": 2}}, r"unknown node\(s\) MVAU_hls_9; the graph has: MVAU_0, MVAU_1, MVAU_2, MVAU_3"),
    ({"MVA_hls_3": {"PE": 2}}, r"unknown node\(s\) MVA_hls_3"),  # the typo key shipped in FINN's own config
    ({"MVAU_0": {"PE": 3}}, r"MVAU_0: PE=3 is not a legal folding; legal values: \[1, 2, 4, 8, 16, 32, 64\]"),
    ({"MVAU_0": {"SIMD": 7}}, r"MVAU_0: SIMD=7 .*legal values: \[1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20"),
    ({"MVAU_0": {"ram_style": "bram"}}, r"MVAU_0: ram_style='bram' is not allowed; legal values: "
                                        r"\['auto', 'block', 'distributed', 'ultra'\]"),
    ({"MVAU_0": {"depth": 4}}, r"MVAU_0: MVAU has no attribute 'depth'"),
    ({"MVAU_0": {"PE": "2"}}, r"MVAU_0: PE='2' must be an integer"),
    ({"Defaults": {"PE": [2, ["Conv"]]}}, r"unknown op type 'Conv'"),
])
def test_bad_configs_name_node_attribute_and_legal_values(cfg, message):
    with pytest.raises(UserError, match=message):
        mlp().transform(ApplyFolding(cfg))


def test_stream_width_limit_8191():
    model = mlp((4096, 4096))
    with pytest.raises(UserError, match=r"MVAU_0: PE=4 is not a legal folding.*8191"):
        model.transform(ApplyFolding({"MVAU_0": {"SIMD": 1024, "PE": 4}}))


def test_round_trip_json(tmp_path):
    model = mlp().transform(ApplyFolding({"MVAU_0": {"PE": 2, "SIMD": 5, "ram_style": "block"},
                                          "MVAU_2": {"PE": 8, "SIMD": 16, "resType": "dsp"}}))
    path = tmp_path / "folding.json"
    path.write_text(json.dumps(folding_to_json(model)))
    again = mlp().transform(ApplyFolding(FoldingConfig.load(path)))
    assert folding_to_json(again) == folding_to_json(model)
    assert folding_to_json(model)["MVAU_0"] == {"PE": 2, "SIMD": 5, "ram_style": "block", "resType": "auto",
                                                "mem_mode": "internal_decoupled", "runtime_writeable_weights": 0}


def test_bad_json_file(tmp_path):
    path = tmp_path / "f.json"
    path.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        FoldingConfig.load(path)


def test_setfolding_walks_simd_then_pe_like_finn():
    model = mlp().transform(SetFolding(1000, two_pass_relaxation=False))
    # MVAU_0: SIMD 15 (20·2 bits > 36 reverts), cycles 64·40/PE < 1000 first at PE = 4
    assert attrs(model, "MVAU_0", "SIMD", "PE") == (15, 4)
    # MVAU_1: SIMD 1, 2, 4, 8 -> 64·64/8 = 512 < 1000 at SIMD 8, PE stays 1
    assert attrs(model, "MVAU_1", "SIMD", "PE") == (8, 1)
    assert attrs(model, "MVAU_3", "SIMD", "PE") == (1, 1)  # 64 cycles already < 1000


def test_two_pass_relaxation_balances_around_the_bottleneck():
    one = mlp().transform(SetFolding(3, two_pass_relaxation=False))
    assert attrs(one, "MVAU_1", "SIMD", "PE") == (16, 64)  # 4 cycles
    two = mlp().transform(SetFolding(3))
    # pass 1 reaches max_cycles 40 (MVAU_0 at SIMD 15, PE 64); pass 2 targets < 40
    assert attrs(two, "MVAU_0", "SIMD", "PE") == (15, 64)
    assert attrs(two, "MVAU_1", "SIMD", "PE") == (16, 8)  # 256/8 = 32 < 40


def test_device_budget_relaxes_or_refuses():
    dev = get_device("Pynq-Z2")
    model = mlp().transform(SetFolding(3, device=dev))
    assert dev.fits(total_resources(model, CostModel.FINN, dev))
    # a small budget forces a relaxed target: unconstrained, MVAU_0 alone takes 54 BRAM18 at target 3
    small = dataclasses.replace(dev, BRAM_18K=30)
    free = mlp().transform(SetFolding(3))
    tight = mlp().transform(SetFolding(3, device=small))
    assert not small.fits(total_resources(free, CostModel.FINN, small))
    assert small.fits(total_resources(tight, CostModel.FINN, small))
    assert max_cycles(tight) > max_cycles(free)
    big = mlp((4096, 4096, 4096))  # 2 x 32 Mbit of INT2 weights: 2 x 2048 BRAM18 at PE = SIMD = 1
    with pytest.raises(UserError, match=r"even the cheapest folding .* does not fit Pynq-Z1/Z2.*BRAM_18K 4096/280"):
        big.transform(SetFolding(1000, device=dev))


def test_target_cycles_from_fps():
    assert target_cycles(1e6, 10.0) == 100
    with pytest.raises(UserError):
        target_cycles(0, 10.0)
