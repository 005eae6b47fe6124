"""DuplicateStreams: fan one stream out to several (FINN duplicatestreams.py, finn-hlslib
DuplicateStreams_Batch / dup.hpp)."""

from __future__ import annotations

import math

import numpy as np

from hw.cost.calibrated import Context, NodeContext, streams
from hw.cost.resources import Resources
from hw.ops.base import ChannelStreamOp
from hw.schedule import TokenSchedule


class DuplicateStreams(ChannelStreamOp):
    FINN_NAME = "DuplicateStreams"
    FINN_OP_TYPES = ("DuplicateStreams",)
    FINN_CONFIG_ATTRS = ("PE",)
    ATTRS = {
        "NumChannels": ("i", True, 0),
        "PE": ("i", True, 0),
        "NumOutputStreams": ("i", False, 2),
        "inputDataType": ("s", True, ""),
        "numInputVectors": ("ints", False, [1]),
        "outFIFODepths": ("ints", False, [2, 2]),
    }

    def n_stream_outputs(self) -> int:
        return self.a("NumOutputStreams")

    def output_datatype(self, o: int = 0):
        return self.dt("inputDataType")

    def element_bits(self) -> int:
        return self.dt("inputDataType").bitwidth()

    def problems(self) -> list[str]:
        out = super().problems()
        if len(self.onnx_node.output) != self.a("NumOutputStreams"):
            out.append(f"{len(self.onnx_node.output)} outputs but NumOutputStreams={self.a('NumOutputStreams')}")
        return out

    def make_shape_compatible_op(self, model):
        # ONNX shape inference only types the first output of the stand-in node; the others are
        # annotated here (InferShapes keeps existing value_info)
        shape = list(self.normal_output_shape())
        for out in self.onnx_node.output[1:]:
            model.set_tensor_shape(out, shape)
        return super().make_shape_compatible_op(model)

    def execute(self, inputs):
        return [inputs[0].copy() for _ in range(self.a("NumOutputStreams"))]

    def onnx_values(self, ctx) -> None:
        """This node in the generated ONNX graph (hw/emulator/onnx_graph.py): every output is the input
        (the graph's tensors are immutable, so no copy)."""
        for o in range(len(self.onnx_node.output)):
            ctx.forward(0, o)

    def cycles(self) -> int:
        """duplicatestreams.py:get_exp_cycles = prod(folded_output_shape[:-1])."""
        return math.prod(self.folded_output_shape()[:-1])

    def token_schedule(self) -> TokenSchedule:
        """Each firing reads one word and writes it to every output."""
        n = self.a("NumChannels") // self.a("PE")
        return TokenSchedule(reads=np.ones((1, n), bool), writes=np.ones((self.a("NumOutputStreams"), n), bool),
                             repeats=math.prod(self._vec()))

    def calibrated_resources(self, ctx: Context) -> Resources:
        # one valid/ready pair per output stream (assumed 2 LUT each)
        return Resources(LUT=2 * self.a("NumOutputStreams")) + streams(self)

    def energy_actions(self, ctx: NodeContext) -> list:
        """Register moves only: no entry in the energy table (0)."""
        return []

    # ---- hls4ml -------------------------------------------------------------------------------
    def hls4ml_layers(self, walk, node) -> None:
        """No layer: every output is the input stream; hls4ml's io_stream pass clone_output inserts a
        Clone layer where one layer's output feeds two."""
        return None

    # ---- RTL ----------------------------------------------------------------------------------
    def rtl_structure(self, ctx):
        """The calibrated model's `rtl` profile of hil_duplicatestreams.sv (hw/cost/rtl.py)."""
        from hw.cost import rtl as rtl_cost

        return rtl_cost.duplicatestreams(self.rtl_module(ctx.node, ctx.model).params["WIDTH"])

    def rtl_module(self, node, model):
        """hw/ops/rtl/hil_duplicatestreams.sv (two outputs)."""
        from hw.ops import rtl

        if self.a("NumOutputStreams") != 2:
            raise rtl.RtlUnsupported(f"{self.name}: the RTL template duplicates into 2 streams, not "
                                     f"{self.a('NumOutputStreams')}; chain DuplicateStreams nodes")
        width = self.instream_width()
        return rtl.RtlModule("hil_duplicatestreams", {"WIDTH": width}, (width,), (width, width))
