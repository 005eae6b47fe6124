"""Differential for the ops of issue 15 that finn-plus 1.6.1 has: our VVAU, GlobalAccPool and Upsample
(cycles() and resources(CostModel.FINN, part)) against FINN's VVAU_hls / GlobalAccPool_hls /
UpsampleNearestNeighbour_hls
get_exp_cycles and node_res_estimation, on seeded configurations across foldings, datatypes, memory
modes, ram styles and resTypes (tests/oracle/configs.py's helpers; seed 23)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from qonnx.custom_op.registry import getCustomOp

from hw.ops.base import divisors
from hw.ops.graph import NodeSpec, linear_model
from tests.oracle.configs import PARTS, _act_val, _pick, _steps
from tests.oracle.differential import METRICS, ours
from tests.oracle.finn_flow import HLS_DOMAIN, estimate_node

WEIGHTS = ("INT2", "INT4", "INT8", "TERNARY")
INPUTS = ("UINT2", "UINT4", "INT4", "UINT8", "INT8")


def vvau_spec(rng) -> NodeSpec:
    ch, k = int(_pick(rng, (8, 16, 32, 64, 96))), int(_pick(rng, (3, 5)))
    dim = int(_pick(rng, (4, 8, 16)))
    no_act = int(rng.random() < 0.3)
    odt = "INT32" if no_act else _pick(rng, ("UINT2", "UINT4", "INT4"))
    pe = int(_pick(rng, divisors(ch)))
    simd = int(_pick(rng, divisors(k * k))) if pe == ch else 1
    attrs = dict(PE=pe, SIMD=simd, Dim=[dim, dim], Channels=ch, Kernel=[k, k], inputDataType=_pick(rng, INPUTS),
                 weightDataType=_pick(rng, WEIGHTS), outputDataType=odt, noActivation=no_act,
                 accDataType=_pick(rng, ("INT32", "INT16", "INT12")), ActVal=0 if no_act else _act_val(odt),
                 mem_mode=_pick(rng, ("internal_embedded", "internal_decoupled")),
                 ram_style=_pick(rng, ("auto", "block", "distributed", "ultra")), resType=_pick(rng, ("auto", "lut", "dsp")))
    w = rng.integers(-1, 2, size=(ch, 1, k, k)).astype(np.float64)
    inits = [w] if no_act else [w, np.sort(rng.integers(-8, 8, size=(ch, _steps(odt))), axis=1)]
    return NodeSpec("VVAU", attrs, inits)


def accpool_spec(rng) -> NodeSpec:
    ch, dim = int(_pick(rng, (8, 16, 64, 100))), int(_pick(rng, (2, 4, 7, 8)))
    return NodeSpec("GlobalAccPool", dict(NumChannels=ch, PE=int(_pick(rng, divisors(ch))),
                                          inputDataType=_pick(rng, INPUTS), numInputVectors=[1, dim, dim]))


def upsample_spec(rng) -> NodeSpec:
    ch, hi, scale = int(_pick(rng, (1, 8, 16, 64))), int(_pick(rng, (2, 3, 4, 7))), int(_pick(rng, (2, 3, 4)))
    return NodeSpec("Upsample", dict(SIMD=int(_pick(rng, divisors(ch))), HI=hi, WI=hi, HO=hi * scale, WO=hi * scale,
                                     NumChannels=ch, inputDataType=_pick(rng, INPUTS)))


def configs(seed: int = 23, n: int = 60, upsamples: int = 15):
    rng = np.random.default_rng(seed)
    out = [(f"{'vvau' if i % 3 else 'accpool'}_{i}", _pick(rng, PARTS), vvau_spec(rng) if i % 3 else accpool_spec(rng))
           for i in range(n)]
    return out + [(f"upsample_{i}", _pick(rng, PARTS), upsample_spec(rng)) for i in range(upsamples)]


CONFIGS = configs()
FINN_TYPE = {"VVAU": "VVAU_hls", "GlobalAccPool": "GlobalAccPool_hls", "Upsample": "UpsampleNearestNeighbour_hls"}


def finn_node(op):
    attrs = {a.name: helper.get_attribute_value(a) for a in op.onnx_node.attribute}
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    return helper.make_node(FINN_TYPE[op.onnx_node.op_type], list(op.onnx_node.input), list(op.onnx_node.output),
                            name=op.onnx_node.name, domain=HLS_DOMAIN, backend="fpgadataflow", **attrs)


def test_the_configurations_cover_both_ops_and_the_attributes():
    kinds = [spec.op_type for _, _, spec in CONFIGS]
    assert kinds.count("VVAU") >= 30 and kinds.count("GlobalAccPool") >= 15 and kinds.count("Upsample") >= 15
    vvau = [spec.attrs for _, _, spec in CONFIGS if spec.op_type == "VVAU"]
    assert {a["mem_mode"] for a in vvau} == {"internal_embedded", "internal_decoupled"}
    assert {a["resType"] for a in vvau} == {"auto", "lut", "dsp"} and {a["noActivation"] for a in vvau} == {0, 1}
    assert any(a["PE"] > 1 for a in vvau) and any(a["SIMD"] > 1 for a in vvau)


@pytest.mark.parametrize("name,part,spec", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_ours_equals_finns(name, part, spec):
    model = linear_model([spec], name=name)
    op = getCustomOp(model.graph.node[0])
    assert op.verify_node() == [], op.verify_node()
    layer = estimate_node(finn_node(op), part)
    assert ours(op, part) == {m: getattr(layer, m) for m in METRICS}
