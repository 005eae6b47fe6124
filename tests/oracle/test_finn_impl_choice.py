"""finn-plus 1.6.1's own choice of each layer's variant (step_specialize_layers without a specialize
config: specialize_layers.py:_determine_impl_style) against our op classes: FINN_VARIANTS are finn-plus's
registries, finn_impl_choice(part, weights) is SpecializeLayers' pick node for node on the seeded
differential configurations (MVAU with and without thresholds, xnor, narrow and full-range weights, three
DSP generations; Thresholding; LabelSelect; DWC; FIFO; RTL SWG), and on a whole design through FINN's flow
the names finn-plus gives (the keys of the auto_folding_config.json it writes) are the ones
toolchain/passes/finn_names.py predicts. The `finn` cost's default follows FINN's choice where our
formulas have both kernels (Thresholding: RTL); see docs/finn.md for the ops where it does not.
"""

from __future__ import annotations

import copy

import pytest
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hw.ops import custom_op
from tests.oracle.configs import all_configs
from tests.oracle.differential import valid
from tests.oracle.conftest import PART
from tests.oracle.finn_flow import finn_node_from_hw, has_counterpart

FINN_DOMAIN = "finn.custom_op.fpgadataflow"


def test_variants_are_finn_plus_registries():
    from finn.custom_op.fpgadataflow.hls import custom_op as hls
    from finn.custom_op.fpgadataflow.rtl import custom_op as rtl

    for name, cls in custom_op.items():
        if cls.FINN_NAME is None:
            continue
        have = tuple(s for s, reg in (("hls", hls), ("rtl", rtl)) if f"{cls.FINN_NAME}_{s}" in reg)
        if have:
            assert cls.FINN_VARIANTS == have, name
        elif cls.FINN_VARIANTS:  # finn-plus builds it as other layers: finn_layers says which
            assert cls.FINN_VARIANTS == ("rtl",) and "finn_layers" in vars(cls), name


def _unspecialized(model: ModelWrapper) -> ModelWrapper:
    """Our nodes as FINN's unspecialized HW nodes (op type FINN_NAME, no preferred_impl_style), weights kept."""
    out = copy.deepcopy(model)
    for i, node in enumerate(list(out.graph.node)):
        finn = finn_node_from_hw(getCustomOp(node))
        attrs = [a for a in finn.attribute if a.name != "preferred_impl_style"]
        new = helper.make_node(type(getCustomOp(node)).FINN_NAME, list(finn.input), list(finn.output),
                               name=node.name, domain=FINN_DOMAIN)
        new.attribute.extend(attrs)
        out.graph.node.remove(node)
        out.graph.node.insert(i, new)
    return out


CONFIGS = [c for c in all_configs() if valid(c)
           and all(has_counterpart(getCustomOp(n)) for n in c.model().graph.node)]


def test_specialize_layers_picks_what_our_ops_say():
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    seen = set()
    for config in CONFIGS:
        model = config.model()
        try:
            finn = _unspecialized(model)
        except KeyError:  # a Vivado FIFO: finn-plus has none
            continue
        chosen = [n.op_type for n in finn.transform(SpecializeLayers(config.part)).graph.node]
        ours = []
        for node in model.graph.node:
            op = getCustomOp(node)
            weights = model.get_initializer(node.input[1]) if len(node.input) > 1 else None
            ours.append(f"{type(op).FINN_NAME}_{op.finn_impl_choice(config.part, weights)}")
        assert chosen == ours, config.name
        seen.update(chosen)
    # the configurations reach both of FINN's MVAU kernels and its RTL thresholding
    assert {"MVAU_hls", "MVAU_rtl", "Thresholding_rtl"} <= seen, seen


@pytest.mark.parametrize("part", ["xc7z020clg400-1", "xczu7ev-ffvc1156-2-e"])
def test_a_default_thresholding_costs_what_finn_builds_of_it(part):
    """No style given: our `finn` cost of a Thresholding equals FINN's estimate of the node SpecializeLayers
    makes of it (Thresholding_rtl), on 20 seeded configurations."""
    import numpy as np
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    from hw.ops.graph import linear_model
    from tests.oracle.configs import thresholding
    from tests.oracle.differential import ours
    from tests.oracle.finn_flow import estimate_node

    rng = np.random.default_rng(7)
    for _ in range(20):
        spec = thresholding(rng, int(rng.choice([8, 16, 64, 128])), str(rng.choice(["UINT4", "INT8", "UINT8"])))
        del spec.attrs["preferred_impl_style"]
        model = linear_model([spec], name="thr")
        node = _unspecialized(model).transform(SpecializeLayers(part)).graph.node[0]
        assert node.op_type == "Thresholding_rtl"
        layer = estimate_node(node, part)
        finn = {m: getattr(layer, m) for m in ("cycles", "LUT", "BRAM_18K", "URAM", "DSP")}
        assert ours(getCustomOp(model.graph.node[0]), part) == finn, spec.attrs


def test_finn_names_a_whole_design_as_predicted(finn_handoff):
    """The small CNN handoff's model.onnx through FINN's flow with no specialize config (FINN chooses every
    variant: RTL windows, HLS MVAUs with thresholds, the last MVAU RTL on this 7-series part): every
    FINN layer's name, in order, is the one hil predicts, and a folding config in those names (what
    step_target_fps_parallelization's auto_folding_config.json holds) folds the node it means."""
    from tests.oracle.conftest import own_flow
    from tests.oracle.test_finn_handoff_small import FOLDING, tiny_cnn
    from toolchain.lower import lower_model
    from toolchain.passes.finn_names import finn_styled, layers

    flow = own_flow(finn_handoff("tiny_cnn", lambda path: tiny_cnn().save(str(path)), FOLDING))
    finn = [n.name for n in flow.model.graph.node if n.domain.startswith(FINN_DOMAIN)]

    ours = finn_styled(lower_model(tiny_cnn()))
    predicted, counts = [], {}
    for node in ours.graph.node:
        if type(getCustomOp(node)).INFRASTRUCTURE:
            continue
        parts = layers(node)
        for layer in parts:
            weights = ours.get_initializer(node.input[1]) if len(node.input) > 1 else None
            impl = layer.impl if len(parts) > 1 else getCustomOp(node).finn_impl_choice(PART, weights)
            n = counts.get((layer.op_type, impl), 0)
            counts[layer.op_type, impl] = n + 1
            predicted.append(f"{layer.op_type}_{impl}_{n}")
    assert finn == predicted
    assert "MVAU_rtl_0" in finn  # both MVAU kernels: the names count per kernel

    cfg = {name: {"PE": 1, "SIMD": 1} for name in finn if name.startswith("MVAU")}
    cfg["MVAU_rtl_0"] = {"PE": 1, "SIMD": 2}
    folded = lower_model(tiny_cnn(), folding=cfg, part=PART)
    assert getCustomOp(folded.get_node_from_name("MVAU_2")).get_nodeattr("SIMD") == 2
