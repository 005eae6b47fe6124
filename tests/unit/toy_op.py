"""A toy dataflow op in ONE file, to show that adding an op needs no edit anywhere else:
Negate, out = -x elementwise, PE channels per word (tests/unit/test_toy_op.py registers it).

FINN has no such op (FINN_NAME None: the FINN handoff refuses it); hls4ml maps it exactly to a Dense
with weights -I.
"""

from __future__ import annotations

import math

import numpy as np

from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, streams
from hw.cost.energy import Action, ActionCount
from hw.cost.resources import Resources
from hw.ops.base import ChannelStreamOp, dtype_for_range
from hw.schedule import TokenSchedule


class Negate(ChannelStreamOp):
    ATTRS = {
        "NumChannels": ("i", True, 0),
        "PE": ("i", False, 1),
        "inputDataType": ("s", True, ""),
        "outputDataType": ("s", True, ""),
        "numInputVectors": ("ints", False, [1]),
    }
    FINN_CONFIG_ATTRS = ("PE",)

    def element_bits(self) -> int:
        return max(self.dt("inputDataType").bitwidth(), self.dt("outputDataType").bitwidth())

    def infer_bitwidths(self, model) -> None:
        idt = model.get_tensor_datatype(self.onnx_node.input[0])
        self.set_nodeattr("inputDataType", idt.name)
        self.set_nodeattr("outputDataType", dtype_for_range(-idt.max(), -idt.min()).name)

    def execute(self, inputs):
        out = -np.asarray(inputs[0], dtype=np.float64)
        odt = self.dt("outputDataType")
        if out.size and (out.min() < odt.min() or out.max() > odt.max()):
            raise self.err(f"output range [{out.min()}, {out.max()}] exceeds outputDataType {odt.name}")
        return [out]

    def cycles(self) -> int:
        return math.prod(self.folded_output_shape()[:-1])

    def token_schedule(self) -> TokenSchedule:
        ones = np.ones((1, self.a("NumChannels") // self.a("PE")), bool)
        return TokenSchedule(reads=ones, writes=ones, repeats=math.prod(self._vec()))

    def calibrated_resources(self, ctx: Context) -> Resources:
        return Resources(LUT=P.adders(self.a("PE") * self.dt("outputDataType").bitwidth())) + streams(self)

    def energy_actions(self, ctx: NodeContext) -> list[ActionCount]:
        bits = self.dt("inputDataType").bitwidth()
        return [ActionCount(Action.ADD, math.prod(self._vec()) * self.a("NumChannels"), (bits,), "negations")]

    def hls4ml_layers(self, walk, node) -> None:
        c = self.a("NumChannels")
        walk.dense(node, -np.eye(c, dtype=np.int64), mw=c, mh=c, weight_dtype=dtype_for_range(-1, 0),
                   acc_dtype=self.dt("outputDataType"), out_dtype=self.dt("outputDataType"), xnor=False,
                   input_vectors=list(self.a("numInputVectors")), folding={"PE": self.a("PE"), "SIMD": c},
                   activation=False)
