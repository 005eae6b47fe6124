"""Differential for the 1-D sliding window as finn-plus 1.6.1 builds it: our SWG1D in rtl style (cycles()
and resources(CostModel.FINN, part), what the FINN handoff's dataflow is estimated with) against FINN's
ConvolutionInputGenerator_rtl with is1D=1 (what its InferConvInpGen makes of a 1-D Im2Col): get_exp_cycles'
"1D case" and node_res_estimation, on seeded configurations (kernels 1..7 -- 1 is FINN's "parallel"
style --, channel folds, datatypes, every ram_style, parts; seed 29). hw/cost/finn.py:swg_rtl_cycles is also
compared on the 1-D cases no SWG1D has (depthwise, strided, the [W, 1] orientation FINN normalizes).
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from qonnx.custom_op.registry import getCustomOp

from hw.cost import finn as fc
from hw.ops.base import divisors
from hw.ops.graph import NodeSpec, linear_model
from tests.oracle.configs import PARTS, QUANT_DTYPES, _pick
from tests.oracle.differential import METRICS, ours
from tests.oracle.finn_flow import RTL_DOMAIN, estimate_node


def swg1d_spec(rng) -> NodeSpec:
    ch, k = int(_pick(rng, (1, 3, 8, 16, 64, 256))), int(_pick(rng, (1, 2, 3, 5, 7)))
    w = int(_pick(rng, [d for d in (8, 16, 32, 49, 100, 1000) if d >= k]))
    dt = _pick(rng, QUANT_DTYPES)
    return NodeSpec("SWG1D", dict(ConvKernelDim=[1, k], IFMChannels=ch, IFMDim=[1, w], OFMDim=[1, w - k + 1],
                                  SIMD=int(_pick(rng, divisors(ch))), inputDataType=dt, outputDataType=dt,
                                  ram_style=_pick(rng, ("auto", "block", "distributed", "ultra")),
                                  preferred_impl_style="rtl"))


def configs(seed: int = 29, n: int = 40):
    rng = np.random.default_rng(seed)
    return [(f"swg1d_rtl_{i}", _pick(rng, PARTS), swg1d_spec(rng)) for i in range(n)]


CONFIGS = configs()


def finn_window(attrs: dict, name: str = "w"):
    """FINN's node for a 1-D window, with InferConvInpGen's attributes (is1D, Dilation, Stride)."""
    attrs = {"Stride": [1, 1], "Dilation": [1, 1], **attrs, "is1D": 1}
    return helper.make_node("ConvolutionInputGenerator_rtl", ["x"], ["y"], name=name, domain=RTL_DOMAIN,
                            backend="fpgadataflow", **attrs)


def test_the_configurations_cover_the_styles():
    attrs = [spec.attrs for _, _, spec in CONFIGS]
    assert {a["ConvKernelDim"][1] for a in attrs} >= {1, 3, 5, 7}
    assert {a["ram_style"] for a in attrs} == {"auto", "block", "distributed", "ultra"}
    assert any(a["SIMD"] < a["IFMChannels"] for a in attrs) and any(a["SIMD"] == a["IFMChannels"] > 1 for a in attrs)


@pytest.mark.parametrize("name,part,spec", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_ours_equals_finns(name, part, spec):
    model = linear_model([spec], name=name)
    op = getCustomOp(model.graph.node[0])
    assert op.verify_node() == [], op.verify_node()
    layer = estimate_node(finn_window({k: (v.decode() if isinstance(v, bytes) else v) for k, v in (
        (a.name, helper.get_attribute_value(a)) for a in op.onnx_node.attribute) if k != "preferred_impl_style"}), part)
    assert ours(op, part) == {m: getattr(layer, m) for m in METRICS}
    (finn_layer,) = op.finn_layers()  # what the handoff names and configures
    assert (finn_layer.op_type, finn_layer.impl, finn_layer.cycles) == ("ConvolutionInputGenerator", "rtl", layer.cycles)
    assert finn_layer.resources == (layer.LUT, layer.BRAM_18K, layer.URAM)


@pytest.mark.parametrize("k,w,stride,ch,simd,depthwise,flip", [
    (3, 32, 1, 8, 8, 1, False), (4, 32, 2, 16, 4, 1, False), (3, 33, 3, 16, 2, 1, False), (5, 40, 5, 4, 1, 1, False),
    (3, 30, 2, 8, 2, 0, False), (5, 20, 1, 6, 3, 0, True), (4, 32, 2, 16, 4, 1, True), (16, 16, 1, 8, 2, 1, False)])
def test_1d_cycle_formula_equals_finns(k, w, stride, ch, simd, depthwise, flip):
    ow = (w - k) // stride + 1
    dims = dict(ConvKernelDim=[1, k], IFMDim=[1, w], OFMDim=[1, ow], Stride=[1, stride])
    if flip:  # [W, 1]: FINN's get_1d_conv_attrs_normalized reads it as [1, W]
        dims = {a: v[::-1] for a, v in dims.items()}
    layer = estimate_node(finn_window(dict(IFMChannels=ch, SIMD=simd, inputDataType="UINT4", outputDataType="UINT4",
                                           depthwise=depthwise, **dims)), "xczu7ev-ffvc1156-2-e")
    ours_cycles = fc.swg_rtl_cycles(dims["ConvKernelDim"], dims["IFMDim"], dims["OFMDim"], dims["Stride"], (1, 1),
                                    ch // simd, bool(depthwise))
    assert ours_cycles == layer.cycles
