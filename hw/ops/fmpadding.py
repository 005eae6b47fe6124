"""FMPadding: zero padding of a feature map (FINN fmpadding.py, finn-hlslib FMPadding_Batch).
Padding = [top, left, bottom, right] as FINN's [H_begin, W_begin, H_end, W_end]."""

from __future__ import annotations

import math

import numpy as np

from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, scaled, streams
from hw.cost.resources import Resources
from hw.ops.base import AP_INT_MAX_W, HWOp, divisors
from hw.schedule import TokenSchedule


class FMPadding(HWOp):
    FINN_NAME = "FMPadding"
    FINN_OP_TYPES = ("FMPadding",)
    FINN_CONFIG_ATTRS = ("SIMD",)
    FINN_VARIANTS = ("rtl",)  # FMPadding_rtl only; its estimates are the base op's (the same cost)
    ATTRS = {
        "ImgDim": ("ints", True, []),
        "Padding": ("ints", True, []),
        "NumChannels": ("i", True, 0),
        "SIMD": ("i", False, 1),
        "inputDataType": ("s", True, ""),
        "numInputVectors": ("i", False, 1),
    }

    def output_datatype(self, o: int = 0):
        return self.dt("inputDataType")

    def _odim(self):
        (h, w), (top, left, bottom, right) = self.a("ImgDim"), self.a("Padding")
        return h + top + bottom, w + left + right

    def normal_input_shape(self, i: int = 0):
        h, w = self.a("ImgDim")
        return (self.a("numInputVectors"), h, w, self.a("NumChannels"))

    def normal_output_shape(self, o: int = 0):
        return (self.a("numInputVectors"), *self._odim(), self.a("NumChannels"))

    def folded_input_shape(self, i: int = 0):
        simd = self.a("SIMD")
        return self.normal_input_shape()[:-1] + (self.a("NumChannels") // simd, simd)

    def folded_output_shape(self, o: int = 0):
        simd = self.a("SIMD")
        return self.normal_output_shape()[:-1] + (self.a("NumChannels") // simd, simd)

    def fold_targets(self) -> dict[str, int]:
        return {"SIMD": self.a("NumChannels")}

    def legal_folding(self):
        bits = self.dt("inputDataType").bitwidth()
        return {"SIMD": [s for s in divisors(self.a("NumChannels")) if s * bits <= AP_INT_MAX_W]}

    def problems(self) -> list[str]:
        out = super().problems()
        if len(self.a("Padding")) != 4 or min(self.a("Padding")) < 0:
            out.append(f"Padding={self.a('Padding')} must be four non-negative ints [top, left, bottom, right]")
        if not self.dt("inputDataType").allowed(0):
            out.append(f"zero padding is not representable in {self.dt('inputDataType').name}")
        return out

    def execute(self, inputs):
        x = inputs[0]
        top, left, bottom, right = self.a("Padding")
        if x.ndim != 4 or x.shape[1:] != self.normal_input_shape()[1:]:
            raise self.err(f"expected input (N, {', '.join(map(str, self.normal_input_shape()[1:]))}), got {x.shape}")
        return [np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))]

    def onnx_values(self, ctx) -> None:
        """This node in the generated ONNX graph (hw/emulator/onnx_graph.py), equal to `execute`: one
        zero Pad of the spatial axes, in whichever layout the input is stored (data movement, exact)."""
        from hw.ops._onnx_values import OnnxUnsupported, Val

        top, left, bottom, right = self.a("Padding")
        (h, w), c = self.a("ImgDim"), self.a("NumChannels")
        x = ctx.input(0, nchw=None)
        if x.shape != (h, w, c):
            raise OnnxUnsupported(f"{self.name}: input {x.shape} per frame, expected {(h, w, c)}")
        pads = [0, 0, top, left, 0, 0, bottom, right] if x.nchw else [0, top, left, 0, 0, bottom, right, 0]
        out = ctx.emit("Pad", [x.name, ctx.const(pads, np.int64)], mode="constant")
        ctx.output(0, Val(out, x.dtype, x.bound, (*self._odim(), c), x.nchw))

    def cycles(self) -> int:
        """fmpadding.py:get_exp_cycles = (C/SIMD)·batch·odim_h·odim_w."""
        oh, ow = self._odim()
        return (self.a("NumChannels") // self.a("SIMD")) * self.a("numInputVectors") * oh * ow

    def token_schedule(self) -> TokenSchedule:
        """One firing per output word; it reads an input word unless it emits padding."""
        (oh, ow), (top, left, bottom, right) = self._odim(), self.a("Padding")
        cf = self.a("NumChannels") // self.a("SIMD")
        y, x = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
        inside = (y >= top) & (y < oh - bottom) & (x >= left) & (x < ow - right)
        reads = np.repeat(inside.ravel(), cf)
        return TokenSchedule(reads=reads[None, :], writes=np.ones((1, reads.size), bool),
                             repeats=math.prod([self.a("numInputVectors")]))

    def calibrated_resources(self, ctx: Context) -> Resources:
        """A 2:1 mux between the input word and zero; row and column counters."""
        width = self.a("SIMD") * self.dt("inputDataType").bitwidth()
        return Resources(LUT=P.mux(2, width)) + scaled(P.counter(max(self.a("ImgDim"))), 2) + streams(self)

    def energy_actions(self, ctx: NodeContext) -> list:
        """Register moves only: no entry in the energy table (0)."""
        return []

    def hls4ml_layers(self, walk, node) -> None:
        """ZeroPadding2D."""
        (h, w), (top, left, bottom, right) = self.a("ImgDim"), self.a("Padding")
        walk.pad(node, (top, left, bottom, right), (h + top + bottom, w + left + right, self.a("NumChannels")))

    def rtl_structure(self, ctx):
        """The calibrated model's `rtl` profile of hil_fmpadding.sv (hw/cost/rtl.py)."""
        from hw.cost import rtl as rtl_cost

        return rtl_cost.fmpadding(self.rtl_module(ctx.node, ctx.model).params)

    def rtl_module(self, node, model):
        """hw/ops/rtl/hil_fmpadding.sv."""
        from hw.ops import rtl

        (oh, ow), (top, left, bottom, right) = self._odim(), self.a("Padding")
        width = self.instream_width()
        params = {"OH": oh, "OW": ow, "TOP": top, "LEFT": left, "BOTTOM": bottom, "RIGHT": right,
                  "CF": self.a("NumChannels") // self.a("SIMD"), "WIDTH": width}
        return rtl.RtlModule("hil_fmpadding", params, (width,), (self.outstream_width(),))
