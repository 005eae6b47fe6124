"""A residual fork/join: DuplicateStreams at the fork, AddStreams at the join, exact."""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.custom_op.registry import getCustomOp

from tests.unit.test_passes_common import QGraph, int_inputs
from toolchain.errors import UserError
from toolchain.lower import lower_model, verify


def residual_mlp(branch_scale: float = 0.5, join_quant: bool = False):
    """h1 = UINT3(Relu(Gemm(x))); h2 = UINT3(Relu(Gemm(h1))); out = Gemm(h1 + h2) [or via a quantizer]."""
    rng = np.random.default_rng(13)
    g = QGraph([1, 6])
    x = g.quant("global_in", 2**-4, 8)
    h1 = g.quant(g.node("Relu", [g.gemm(x, g.weight(rng.integers(-7, 8, size=(6, 6)) * 0.25, 0.25, 4))]), 0.5, 3,
                 signed=False)
    h2 = g.quant(g.node("Relu", [g.gemm(h1, g.weight(rng.integers(-7, 8, size=(6, 6)) * 0.25, 0.25, 4))]),
                 branch_scale, 3, signed=False)
    s = g.node("Add", [h1, h2])
    if join_quant:
        s = g.quant(s, 1.0, 3, signed=False)
    return g.build(g.gemm(s, g.weight(rng.integers(-7, 8, size=(3, 6)) * 0.25, 0.25, 4)))


@pytest.mark.parametrize("join_quant", [False, True])
def test_residual_fork_and_join(join_quant):
    src = residual_mlp(join_quant=join_quant)
    df = lower_model(src)
    ops = [n.op_type for n in df.graph.node if n.op_type != "FIFO"]
    expected = ["MVAU", "DuplicateStreams", "MVAU", "AddStreams"] + (["Thresholding"] if join_quant else []) + ["MVAU"]
    assert ops == expected
    add = getCustomOp([n for n in df.graph.node if n.op_type == "AddStreams"][0])
    assert add.get_nodeattr("outputDataType") == "UINT4"  # 7 + 7
    assert verify(src, df, int_inputs(src, -128, 127, 1000, 2**-4))["mismatches"] == 0


def test_join_of_differently_scaled_streams_is_refused():
    with pytest.raises(UserError, match=r"Add_\d+ \(Add\): adds streams on different scales"):
        lower_model(residual_mlp(branch_scale=0.25))
