"""Every op in the registry (hw.ops.custom_op) carries consistent class facts: FINN names that map
back to it, a unique node-name prefix, FINN config attributes and initializer datatypes that are real
attributes, folding attributes the FINN handoff writes, and its own cost, energy and hls4ml methods."""

import numpy as np
import pytest
from qonnx.custom_op.registry import getCustomOp

from hw.cost.resources import CostModel, Resources
from hw.devices import get_device
from hw.ops import custom_op, from_finn_op_type, from_name_prefix
from hw.ops.base import HWOp, PassThroughOp
from hw.ops.graph import NodeSpec, linear_model
from toolchain.passes.folding import our_node_name, our_op_type

RNG = np.random.default_rng(3)
# one small, valid node per registered op (a new op must add one here)
SAMPLES = {
    "MVAU": NodeSpec("MVAU", dict(MW=8, MH=4, PE=2, SIMD=4, inputDataType="INT4", weightDataType="INT3",
                                  outputDataType="UINT2", accDataType="INT10", numInputVectors=[1]),
                     [RNG.integers(-4, 4, (8, 4)), np.sort(RNG.integers(-20, 20, (4, 3)), axis=1)]),
    "Thresholding": NodeSpec("Thresholding", dict(NumChannels=8, PE=2, numSteps=3, inputDataType="INT8",
                                                  outputDataType="UINT2"),
                             [np.sort(RNG.integers(-20, 20, (8, 3)), axis=1)]),
    "SWG": NodeSpec("SWG", dict(ConvKernelDim=[3, 3], IFMChannels=4, IFMDim=[6, 6], OFMDim=[4, 4], SIMD=2,
                                Stride=[1, 1], inputDataType="UINT4", outputDataType="UINT4")),
    "StreamingMaxPool": NodeSpec("StreamingMaxPool", dict(ImgDim=[4, 4], PoolDim=[2, 2], NumChannels=4,
                                                          dataType="UINT4")),
    "LabelSelect": NodeSpec("LabelSelect", dict(Labels=10, PE=2, K=3, inputDataType="INT8")),
    "DWC": NodeSpec("DWC", dict(shape=[1, 8], inWidth=8, outWidth=16, dataType="INT4")),
    "FIFO": NodeSpec("FIFO", dict(depth=16, shape=[1, 4, 2], dataType="INT4")),
    "AddStreams": None,  # two stream inputs: not a chain (linear_model); built below
    "DuplicateStreams": NodeSpec("DuplicateStreams", dict(NumChannels=8, PE=2, NumOutputStreams=1,
                                                          inputDataType="INT4")),
    "FMPadding": NodeSpec("FMPadding", dict(ImgDim=[4, 4], Padding=[1, 1, 1, 1], NumChannels=4, SIMD=2,
                                            inputDataType="UINT4")),
    "VVAU": NodeSpec("VVAU", dict(PE=2, SIMD=1, Dim=[4, 4], Channels=4, Kernel=[3, 3], inputDataType="UINT4",
                                  weightDataType="INT3", outputDataType="UINT2", accDataType="INT10"),
                     [RNG.integers(-4, 4, (4, 1, 3, 3)), np.sort(RNG.integers(-20, 20, (4, 3)), axis=1)]),
    "GlobalAccPool": NodeSpec("GlobalAccPool", dict(NumChannels=8, PE=2, inputDataType="UINT4",
                                                    numInputVectors=[1, 4, 4])),
    "SWG1D": NodeSpec("SWG1D", dict(ConvKernelDim=[1, 3], IFMChannels=4, IFMDim=[1, 10], OFMDim=[1, 8], SIMD=2,
                                    inputDataType="UINT4", outputDataType="UINT4")),
    "Upsample": NodeSpec("Upsample", dict(SIMD=2, HI=2, WI=2, HO=4, WO=4, NumChannels=4, inputDataType="UINT4")),
}


def sample_op(op_type: str):
    if op_type == "AddStreams":
        from hw.ops.base import make_hw_node

        node = make_hw_node("AddStreams", ["a", "b"], ["y"], "AddStreams_0", NumChannels=8, PE=2,
                            inputDataTypes=["INT4", "INT4"])
        return None, getCustomOp(node)
    model = linear_model([SAMPLES[op_type]])
    return model, getCustomOp(model.graph.node[0])


def test_every_registered_op_has_a_sample():
    assert set(SAMPLES) == set(custom_op)


@pytest.mark.parametrize("op_type", sorted(custom_op))
def test_class_facts_are_consistent(op_type):
    cls = custom_op[op_type]
    assert issubclass(cls, HWOp) and cls.op_type() == op_type
    assert cls.FINN_NAME in cls.FINN_OP_TYPES  # the handoff's name is one a folding config may use
    for finn in cls.FINN_OP_TYPES:
        assert from_finn_op_type(finn) == op_type and our_op_type(f"{finn}_hls") == op_type
    assert from_name_prefix(cls.name_prefix()) == op_type
    assert our_node_name(f"{cls.FINN_NAME}_hls_3") == f"{cls.name_prefix()}_3"
    assert set(cls.FINN_CONFIG_ATTRS) <= set(cls.ATTRS)  # ApplyFolding accepts what the handoff writes
    assert set(cls.INIT_DTYPE_ATTRS.values()) <= set(cls.ATTRS)
    assert cls.INFRASTRUCTURE == issubclass(cls, PassThroughOp)
    if cls.INFRASTRUCTURE:
        assert cls.FINN_CONFIG_ATTRS == ()  # FINN inserts its own DWCs and FIFOs
    for method in ("calibrated_resources", "energy_actions", "execute", "token_schedule"):
        assert getattr(cls, method) is not getattr(HWOp, method), f"{op_type} does not define {method}"


def test_name_prefixes_are_unique():
    prefixes = [cls.name_prefix() for cls in custom_op.values()]
    assert len(prefixes) == len(set(prefixes))


@pytest.mark.parametrize("op_type", sorted(custom_op))
def test_folding_attributes_are_handed_to_finn_and_every_cost_model_answers(op_type):
    model, op = sample_op(op_type)
    assert op.verify_node() == []
    if not op.INFRASTRUCTURE:
        assert set(op.fold_targets()) <= set(op.FINN_CONFIG_ATTRS)
    assert set(op.legal_folding()) == set(op.fold_targets())
    u250 = get_device("U250")
    assert isinstance(op.resources(CostModel.FINN, u250), Resources)
    weighted = bool(op.INIT_DTYPE_ATTRS)
    if weighted:
        with pytest.raises(NotImplementedError, match="weight-aware"):
            op.resources(CostModel.CALIBRATED, u250)
    calibrated = op.resources(CostModel.CALIBRATED, u250, model if weighted else None)
    assert calibrated.LUT > 0 and calibrated.FF > 0
    from hw.cost.calibrated import NodeContext

    actions = op.energy_actions(NodeContext(model, op.onnx_node))
    assert all(a.count >= 0 for a in actions)
