"""The compiled values plan on the model zoo (issue 17): for every recipe (untrained export) at both
foldings of tests/equiv/test_emulator_zoo.py, on hypothesis-drawn inputs anywhere on the input grid
(every integer of the input DataType, not only the recipe's data), the plan's outputs and the generated
ONNX graph's (hw/emulator/onnx_graph.py, under onnxruntime) equal every node's `execute` bit for bit,
and `hil emulate`'s values path (toolchain.emulate.run_values, which runs the faster of the two) has 0
mismatches against qonnx execution of the source QONNX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qonnx.core.datatype import DataType

from hw.emulator.engine import compile_values
from hw.emulator.plan import compile_plan
from hw.emulator.values import execute_dataflow
from tests.equiv.test_emulator_zoo import PARAMS, Zoo
from toolchain.contract import read_io
from toolchain.emulate import run_values
from toolchain.onnxio import load_model


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Zoo:
    return Zoo(tmp_path_factory.mktemp("zoo_plan"))


def grid_inputs(source, dataflow, rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(source-layout float inputs, dataflow integer inputs): uniform integers of the input DataType."""
    io = read_io(dataflow)
    name = dataflow.graph.input[0].name
    dt = DataType[io.input_dtype] if io.input_dtype else dataflow.get_tensor_datatype(name)
    shape = dataflow.get_tensor_shape(name)[1:]
    xi = rng.integers(int(dt.min()), int(dt.max()) + 1, size=(n, *shape)).astype(np.float64)
    if dt.name == "BIPOLAR":
        xi = np.where(xi > 0, 1.0, -1.0)
    src_shape = source.get_tensor_shape(source.graph.input[0].name)[1:]
    xs = xi.transpose(0, 3, 1, 2) if xi.ndim == 4 and list(xi.shape[1:]) != list(src_shape) else xi
    return (xs * io.input_scale).astype(np.float32), xi


@pytest.mark.parametrize("recipe,folding,labels", PARAMS)
def test_plan_equals_execute_and_qonnx(recipe, folding, labels, zoo):
    df_path = zoo.dataflow(recipe, folding, labels)
    dataflow, source = load_model(df_path), load_model(zoo.source(recipe))
    plan = compile_plan(dataflow)
    graph = compile_values(dataflow).onnx  # the generated ONNX graph (hw/emulator/onnx_graph.py), if any
    assert graph is not None or labels  # only LabelSelect has no ONNX form among these recipes' ops
    iname, oname = dataflow.graph.input[0].name, dataflow.graph.output[0].name
    n = 8 if recipe == "cnv-w1a1" else 64

    @settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2**32 - 1))
    def check(seed):
        x, xi = grid_inputs(source, dataflow, np.random.default_rng(seed), n)
        ref = execute_dataflow(dataflow, {iname: xi}, compiled=False)[oname]
        got = plan({iname: xi})[oname]
        assert got.dtype == ref.dtype and np.array_equal(got, ref)
        if graph is not None:
            got = graph({iname: xi})[oname]
            assert got.dtype == ref.dtype and np.array_equal(got, ref)
        same = run_values(dataflow, Path(df_path), x)
        assert (same.mismatches, same.ties) == (0, 0)

    check()
