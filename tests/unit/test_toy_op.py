"""Adding an op = one file (tests/unit/toy_op.py) + one registry entry: the toy Negate op is inferred,
folded, estimated (FINN, calibrated, energy), emulated (values and timing), planned for hls4ml and
refused by the FINN handoff, with no other file edited."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

import hw.ops
from hw.emulator import SimConfig, build_timing_graph, simulate
from hw.emulator.values import execute_dataflow
from hw.ops.graph import NodeSpec, linear_model
from tests.unit.toy_op import Negate
from toolchain.backends.finn import finn_names
from toolchain.backends.plan import DenseLayer, ThresholdLayer, plan_hls4ml
from toolchain.errors import UserError
from toolchain.estimate import estimate
from toolchain.passes.bitwidth import InferBitWidths
from toolchain.passes.folding import ApplyFolding, SetFolding
from toolchain.passes.infrastructure import InsertDWC, InsertFIFO
from toolchain.passes.naming import NameNodes

THR = np.array([[-3.0, 0.0, 4.0]] * 8, dtype=np.float32)


@pytest.fixture
def negate_registered():
    hw.ops.custom_op["Negate"] = Negate  # the one line a new op adds to hw/ops/__init__.py
    yield
    del hw.ops.custom_op["Negate"]


def toy_model():
    return linear_model([
        NodeSpec("Negate", dict(NumChannels=8, PE=1, inputDataType="INT4", outputDataType="INT16")),
        NodeSpec("Thresholding", dict(NumChannels=8, PE=1, numSteps=3, inputDataType="INT16",
                                      outputDataType="UINT2"), [THR]),
    ])


def lowered(folding):
    """Bit widths, folding (a target cycles per frame for SetFolding, or a FINN folding config), then
    the stream infrastructure and names, as hil lower does."""
    model = toy_model().transform(InferBitWidths())
    model = model.transform(SetFolding(folding) if isinstance(folding, int) else ApplyFolding(folding))
    return model.transform(InsertDWC()).transform(InsertFIFO()).transform(NameNodes())


UNEVEN = {"Negate_0": {"PE": 4}}  # the Thresholding stays at PE = 1: a DWC goes between them


def node(model, name):
    return next(n for n in model.graph.node if n.name == name)


def test_toy_op_infers_its_bit_widths_and_folds(negate_registered):
    model = toy_model().transform(InferBitWidths())
    neg = getCustomOp(model.graph.node[0])
    assert neg.dt("outputDataType") == DataType["INT5"]  # -[-8, 7] = [-7, 8]
    assert model.get_tensor_datatype(model.graph.node[0].output[0]) == DataType["INT5"]
    assert getCustomOp(model.graph.node[1]).dt("inputDataType") == DataType["INT5"]  # synced downstream
    model = model.transform(ApplyFolding({"Negate_0": {"PE": 4}}))
    assert neg.get_nodeattr("PE") == 1 and getCustomOp(model.graph.node[0]).get_nodeattr("PE") == 4
    with pytest.raises(UserError, match=r"Negate_0: PE=3 is not a legal folding; legal values: \[1, 2, 4, 8\]"):
        model.transform(ApplyFolding({"Negate_0": {"PE": 3}}))
    folded = lowered(3)  # 8 channels: cycles 8/PE < 3 first at PE = 4
    assert [getCustomOp(n).get_nodeattr("PE") for n in folded.graph.node if n.op_type != "FIFO"] == [4, 4]
    assert [n.op_type for n in folded.graph.node] == ["Negate", "FIFO", "Thresholding"]
    assert [n.op_type for n in lowered(UNEVEN).graph.node] == ["Negate", "FIFO", "DWC", "FIFO", "Thresholding"]


def test_toy_op_estimates_with_both_cost_models_and_energy(negate_registered):
    model = lowered(3)
    finn = {r["name"]: r for r in estimate(model, part="Pynq-Z2", cost="finn")["layers"]}
    cal = {r["name"]: r for r in estimate(model, part="Pynq-Z2", cost="calibrated")["layers"]}
    assert finn["Negate_0"]["cycles"] == 2 and finn["Negate_0"]["LUT"] == 0  # FINN has no formula for it
    assert cal["Negate_0"]["LUT"] > 0 and cal["Negate_0"]["FF"] > 0
    assert cal["Negate_0"]["energy_pj"] == pytest.approx(8 * 0.1 * 4 / 32)  # 8 adds of 4 bits (Horowitz)


def test_toy_op_emulates_values_and_timing(negate_registered):
    model = lowered(UNEVEN)
    x = np.random.default_rng(0).integers(-8, 8, size=(50, 8)).astype(np.float32)
    y = execute_dataflow(model, {"global_in": x})["global_out"]
    assert np.array_equal(y, (-x[..., None] >= THR[0]).sum(axis=-1))
    run = simulate(build_timing_graph(model), SimConfig(frames=6))
    assert run.deadlock is None
    assert run.interval == 8  # the unfolded Thresholding (8 firings per frame) is the bottleneck


def test_toy_op_maps_to_an_hls4ml_dense_and_the_finn_handoff_refuses_it(negate_registered):
    model = lowered(3)
    plan = plan_hls4ml(model)
    dense, thr = plan.layers[1:]
    assert isinstance(dense, DenseLayer) and dense.name == "Negate_0" and dense.ir_tensor is not None
    assert np.array_equal(dense.weight, -np.eye(8)) and dense.reuse == 2  # (MW/SIMD)·(MH/PE) = 1·2
    assert isinstance(thr, ThresholdLayer) and thr.out.dtype == "UINT2"
    with pytest.raises(UserError, match="Negate_0: the FINN handoff does not know op type Negate"):
        finn_names(model)


def test_an_unregistered_op_is_unknown_again(negate_registered):
    hw.ops.custom_op.pop("Negate")
    assert hw.ops.op_class("Negate") is None and hw.ops.name_prefix("Negate") == "Negate"
    hw.ops.custom_op["Negate"] = Negate  # restored for the fixture's teardown
