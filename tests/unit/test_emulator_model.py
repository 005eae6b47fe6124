"""The emulator on hw.ops models: bit-exact values, the timing graph, deadlock and FIFO sizing."""

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from hw.emulator.fifo_sizing import size_fifos
from hw.emulator.graph import SimConfig, TimingGraphError
from hw.emulator.timing import simulate
from hw.emulator.model_graph import apply_fifo_depths, build_timing_graph
from hw.emulator.values import execute_dataflow
from hw.ops.base import make_hw_node
from hw.ops.graph import NodeSpec, linear_model

RNG = np.random.default_rng(1)


def mlp():
    w0 = RNG.integers(-2, 2, size=(16, 8)).astype(np.float32)
    t0 = np.sort(RNG.integers(-20, 20, size=(8, 3)), axis=1).astype(np.float32)
    w1 = RNG.integers(-2, 2, size=(8, 4)).astype(np.float32)
    return linear_model([
        NodeSpec("MVAU", dict(MW=16, MH=8, PE=2, SIMD=4, inputDataType="INT4", weightDataType="INT2",
                              outputDataType="UINT2", accDataType="INT32"), [w0, t0]),
        NodeSpec("MVAU", dict(MW=8, MH=4, PE=1, SIMD=2, inputDataType="UINT2", weightDataType="INT2",
                              outputDataType="INT32", accDataType="INT32", noActivation=1), [w1]),
    ])


def test_values_match_qonnx_execution():
    model = mlp()
    x = RNG.integers(-8, 8, size=(5, 16)).astype(np.float32)
    ours = execute_dataflow(model, {"global_in": x})["global_out"]
    for i in range(5):
        ref = execute_onnx(model, {"global_in": x[i:i + 1]})["global_out"]
        assert np.array_equal(ours[i:i + 1], ref)


def test_timing_graph_of_a_chain():
    model = mlp()
    graph = build_timing_graph(model)
    assert [n.name for n in graph.nodes] == ["MVAU_0", "MVAU_1"]
    assert [(e.name, e.capacity) for e in graph.edges] == [
        ("global_in->MVAU_0", 2), ("MVAU_0->MVAU_1", 2), ("MVAU_1->global_out", 2)]
    assert graph.edges[0].width_bits == 4 * 4
    cycles = [getCustomOp(n).cycles() for n in model.graph.node]
    assert cycles == [16, 16]
    r = simulate(graph, SimConfig(frames=4))
    assert r.interval == max(cycles)
    r = simulate(build_timing_graph(model, {"MVAU_0->MVAU_1": 1}), SimConfig(frames=4))
    assert r.fifos["MVAU_0->MVAU_1"].capacity == 1
    with pytest.raises(TimingGraphError, match="depth 0"):
        build_timing_graph(model, {"MVAU_0->MVAU_1": 0})
    with pytest.raises(TimingGraphError, match="no FIFO edge"):
        build_timing_graph(model, {"nope": 3})


def residual(channels=8):
    """Dup -> MVAU (reads all 8 words before its first output: look-ahead 7) | bypass -> Add."""
    w = RNG.integers(-2, 2, size=(channels, channels)).astype(np.float32)
    nodes = [
        make_hw_node("DuplicateStreams", ["x"], ["d0", "d1"], "DuplicateStreams_0", NumChannels=channels, PE=1,
                     inputDataType="INT4"),
        make_hw_node("MVAU", ["d0", "w"], ["m"], "MVAU_0", MW=channels, MH=channels, PE=1, SIMD=1,
                     inputDataType="INT4", weightDataType="INT2", outputDataType="INT16", accDataType="INT16",
                     noActivation=1),
        make_hw_node("AddStreams", ["m", "d1"], ["y"], "AddStreams_0", NumChannels=channels, PE=1,
                     inputDataTypes=["INT16", "INT4"], outputDataType="INT32"),
    ]
    graph = helper.make_graph(nodes, "res", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels])])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("w", w)
    model.set_tensor_datatype("x", DataType["INT4"])
    model.set_tensor_datatype("w", DataType["INT2"])
    return model, w


def test_residual_values_and_deadlock_then_sizing():
    model, w = residual()
    x = RNG.integers(-8, 8, size=(3, 8)).astype(np.float32)
    y = execute_dataflow(model, {"x": x})["y"]
    assert np.array_equal(y, x @ w + x)
    graph = build_timing_graph(model)
    r = simulate(graph, SimConfig(frames=2))
    assert r.deadlock is not None
    assert (r.deadlock.node, r.deadlock.fifo) == ("DuplicateStreams_0", "DuplicateStreams_0->AddStreams_0")
    sizing = size_fifos(graph)
    assert sizing.full_throughput and sizing.depths["DuplicateStreams_0->AddStreams_0"] >= 8
    apply_fifo_depths(model, graph, sizing.depths)
    again = build_timing_graph(model)
    assert {e.name: e.capacity for e in again.edges} == sizing.depths
    assert simulate(again, SimConfig(frames=3)).interval == sizing.interval_unbounded


def test_fifo_node_is_the_edge_capacity():
    model, _ = residual()
    # put a FIFO node of depth 9 on the bypass
    fifo = make_hw_node("FIFO", ["d1"], ["d1f"], "FIFO_0", depth=9, shape=[1, 8, 1], dataType="INT4")
    add = model.graph.node[2]
    add.input[1] = "d1f"
    model.graph.node.insert(2, fifo)
    graph = build_timing_graph(model)
    assert "FIFO_0" in {e.name for e in graph.edges}
    assert graph.edges[[e.name for e in graph.edges].index("FIFO_0")].capacity == 9
    assert simulate(graph, SimConfig(frames=2)).deadlock is None
    apply_fifo_depths(model, graph, {"FIFO_0": 5})
    assert getCustomOp(model.graph.node[2]).get_nodeattr("depth") == 5


def small_cnn():
    w0 = RNG.integers(-2, 2, size=(36, 8)).astype(np.float32)
    t0 = np.sort(RNG.integers(-10, 10, size=(8, 3)), axis=1).astype(np.float32)
    w1 = RNG.integers(-2, 2, size=(72, 4)).astype(np.float32)
    swg = dict(ConvKernelDim=[3, 3], Stride=[1, 1])
    return linear_model([
        NodeSpec("SWG", dict(swg, IFMChannels=4, IFMDim=[6, 6], OFMDim=[4, 4], SIMD=2, inputDataType="INT4",
                             outputDataType="INT4")),
        NodeSpec("MVAU", dict(MW=36, MH=8, PE=2, SIMD=2, inputDataType="INT4", weightDataType="INT2",
                              outputDataType="UINT2", numInputVectors=[1, 4, 4]), [w0, t0]),
        NodeSpec("SWG", dict(swg, IFMChannels=8, IFMDim=[4, 4], OFMDim=[2, 2], SIMD=2, inputDataType="UINT2",
                             outputDataType="UINT2")),
        NodeSpec("MVAU", dict(MW=72, MH=4, PE=1, SIMD=2, inputDataType="UINT2", weightDataType="INT2",
                              outputDataType="INT32", noActivation=1, numInputVectors=[1, 2, 2]), [w1]),
    ])


def test_small_cnn_values_and_sized_throughput():
    model = small_cnn()
    x = RNG.integers(-8, 8, size=(3, 6, 6, 4)).astype(np.float32)
    ours = execute_dataflow(model, {"global_in": x})["global_out"]
    for i in range(3):
        assert np.array_equal(ours[i:i + 1], execute_onnx(model, {"global_in": x[i:i + 1]})["global_out"])
    graph = build_timing_graph(model)
    cycles = {n.name: getCustomOp(n).cycles() for n in model.graph.node}
    assert {n.name: n.schedule.firings for n in graph.nodes} == cycles
    sizing = size_fifos(graph)
    assert sizing.full_throughput and sizing.interval_sized == max(cycles.values())
