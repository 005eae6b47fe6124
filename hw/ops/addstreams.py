"""AddStreams: elementwise sum of two streams (FINN addstreams.py, finn-hlslib AddStreams_Batch)."""

from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType

from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, streams
from hw.cost.energy import Action, ActionCount
from hw.cost.resources import Resources
from hw.ops.base import ChannelStreamOp
from hw.schedule import TokenSchedule


class AddStreams(ChannelStreamOp):
    FINN_NAME = "AddStreams"
    FINN_OP_TYPES = ("AddStreams",)
    FINN_VARIANTS = ()  # finn-plus 1.6.1 has no AddStreams (FINN v0.10's AddStreams_hls)
    FINN_CONFIG_ATTRS = ("PE",)
    ATTRS = {
        "NumChannels": ("i", True, 0),
        "PE": ("i", True, 0),
        "inputDataTypes": ("strings", True, [""]),
        "outputDataType": ("s", False, ""),
        "numInputVectors": ("ints", False, [1]),
        "inFIFODepths": ("ints", False, [2, 2]),
    }

    def n_stream_inputs(self) -> int:
        return 2

    def input_datatype(self, i: int = 0):
        return DataType[self.a("inputDataTypes")[i]]

    def sync_input_datatype(self, i, actual) -> None:
        names = list(self.a("inputDataTypes"))
        if actual is not None and names[i] != actual.name:
            names[i] = actual.name
            self.set_nodeattr("inputDataTypes", names)

    def output_datatype(self, o: int = 0):
        if self.a("outputDataType"):
            return self.dt("outputDataType")
        # the smallest type holding every sum; for two equal types this is FINN addstreams.py's
        # "next larger int/uint" (except BIPOLAR, where FINN's INT2 cannot hold +2)
        a, b = self.input_datatype(0), self.input_datatype(1)
        lo, hi = int(a.min() + b.min()), int(a.max() + b.max())
        if lo >= 0:
            return DataType.get_smallest_possible(hi)
        bits = 2
        while not (-(2 ** (bits - 1)) <= lo and hi < 2 ** (bits - 1)):
            bits += 1
        return DataType[f"INT{bits}"]

    def element_bits(self) -> int:
        return max(self.input_datatype(0).bitwidth(), self.input_datatype(1).bitwidth(),
                   self.output_datatype().bitwidth())

    def problems(self) -> list[str]:
        out = super().problems()
        if len(self.a("inputDataTypes")) != 2:
            out.append("inputDataTypes must name two datatypes")
        return out

    def execute(self, inputs):
        a, b = (np.asarray(v, dtype=np.float64) for v in inputs[:2])
        if a.shape != b.shape or a.shape[-1] != self.a("NumChannels"):
            raise self.err(f"inputs must share shape (..., {self.a('NumChannels')}), got {a.shape} and {b.shape}")
        out = a + b
        odt = self.output_datatype()
        if out.size and (out.min() < odt.min() or out.max() > odt.max()):
            raise self.err(f"sum range [{out.min()}, {out.max()}] exceeds outputDataType {odt.name}")
        return [out]

    def onnx_values(self, ctx) -> None:
        """This node in the generated ONNX graph (hw/emulator/onnx_graph.py), equal to `execute`: one
        Add, in the dtype exact for the sum of the two inputs' bounds; refused when the output type
        cannot hold every sum (execute checks the values, the graph could not)."""
        from hw.ops._onnx_values import OnnxUnsupported, Val, exact_dtype

        a, b = self.input_datatype(0), self.input_datatype(1)
        odt = self.output_datatype()
        if a.min() + b.min() < odt.min() or a.max() + b.max() > odt.max():
            raise OnnxUnsupported(f"{self.name}: {odt.name} does not hold every sum of {a.name} and {b.name}")
        x, y = ctx.input(0, nchw=None), ctx.input(1, nchw=None)
        y = ctx.layout(y, x.nchw)
        if x.shape != y.shape:
            raise OnnxUnsupported(f"{self.name}: inputs {x.shape} and {y.shape} per frame")
        dtype = exact_dtype(x.bound + y.bound)
        x, y = ctx.cast(x, dtype), ctx.cast(y, dtype)
        ctx.output(0, Val(ctx.emit("Add", [x.name, y.name]), dtype, x.bound + y.bound, x.shape, x.nchw))

    def cycles(self) -> int:
        """addstreams.py:get_exp_cycles = prod(folded_output_shape[:-1])."""
        return math.prod(self.folded_output_shape()[:-1])

    def token_schedule(self) -> TokenSchedule:
        """Each firing reads one word from both inputs and writes one word."""
        ones = np.ones((2, self.a("NumChannels") // self.a("PE")), bool)
        return TokenSchedule(reads=ones, writes=ones[:1], repeats=math.prod(self._vec()))

    def calibrated_resources(self, ctx: Context) -> Resources:
        """PE adders of the output width."""
        return Resources(LUT=P.adders(self.a("PE") * self.output_datatype().bitwidth())) + streams(self)

    def energy_actions(self, ctx: NodeContext) -> list[ActionCount]:
        return [ActionCount(Action.ADD, math.prod(self._vec()) * self.a("NumChannels"),
                            (self.output_datatype().bitwidth(),), "adds")]

    # ---- hls4ml -------------------------------------------------------------------------------
    def hls4ml_layers(self, walk, node) -> None:
        """hls4ml's Merge 'add' of the two streams (plan._Walk.add_streams checks the sum's type)."""
        walk.add_streams(node, self.output_datatype())

    # ---- RTL ----------------------------------------------------------------------------------
    def rtl_structure(self, ctx):
        """The calibrated model's `rtl` profile of hil_addstreams.sv (hw/cost/rtl.py)."""
        from hw.cost import rtl as rtl_cost

        m = self.rtl_module(ctx.node, ctx.model)
        return rtl_cost.addstreams(m.params["PE"], m.params["OBITS"])

    def rtl_module(self, node, model):
        """hw/ops/rtl/hil_addstreams.sv."""
        from hw.ops import rtl

        a, b = self.input_datatype(0), self.input_datatype(1)
        params = {"PE": self.a("PE"), "ABITS": a.bitwidth(), "A_MODE": rtl.mode(a), "BBITS": b.bitwidth(),
                  "B_MODE": rtl.mode(b), "OBITS": self.output_datatype().bitwidth()}
        return rtl.RtlModule("hil_addstreams", params, (self.instream_width(0), self.instream_width(1)),
                             (self.outstream_width(),))
