"""Upsample: nearest-neighbour upsampling (FINN upsampler.py UpsampleNearestNeighbour, finn-hlslib
upsample.hpp). (N, HI, WI, C) -> (N, HO, WO, C), output pixel (y, x) = input pixel
(y·HI // HO, x·WI // WO); SIMD channels per word.

Cycles: upsampler.py get_exp_cycles = prod(folded_output_shape[:-1]) (one output word per cycle).
finn-plus estimates no resources for it (HWCustomOp defaults: 0).
"""

from __future__ import annotations

import math

import numpy as np

from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, streams
from hw.cost.energy import Action, ActionCount
from hw.cost.resources import Resources
from hw.ops.base import AP_INT_MAX_W, HWOp, divisors, walk_folding
from hw.schedule import TokenSchedule


class Upsample(HWOp):
    FINN_NAME = "UpsampleNearestNeighbour"
    FINN_OP_TYPES = ("UpsampleNearestNeighbour",)
    FINN_CONFIG_ATTRS = ("SIMD",)
    ATTRS = {
        "SIMD": ("i", True, 0),
        "HO": ("i", True, 0),
        "WO": ("i", True, 0),
        "HI": ("i", True, 0),
        "WI": ("i", True, 0),
        "NumChannels": ("i", True, 0),
        "inputDataType": ("s", True, ""),
        "batchSize": ("i", False, 1),
    }

    def _cf(self) -> int:
        return self.a("NumChannels") // self.a("SIMD")

    def normal_input_shape(self, i: int = 0):
        return (self.a("batchSize"), self.a("HI"), self.a("WI"), self.a("NumChannels"))

    def normal_output_shape(self, o: int = 0):
        return (self.a("batchSize"), self.a("HO"), self.a("WO"), self.a("NumChannels"))

    def folded_input_shape(self, i: int = 0):
        return self.normal_input_shape()[:-1] + (self._cf(), self.a("SIMD"))

    def folded_output_shape(self, o: int = 0):
        return self.normal_output_shape()[:-1] + (self._cf(), self.a("SIMD"))

    def input_datatype(self, i: int = 0):
        return self.dt("inputDataType")

    def output_datatype(self, o: int = 0):
        return self.dt("inputDataType")

    def fold_targets(self) -> dict[str, int]:
        return {"SIMD": self.a("NumChannels")}

    def legal_folding(self) -> dict[str, list[int]]:
        bits = self.dt("inputDataType").bitwidth()
        return {"SIMD": [s for s in divisors(self.a("NumChannels")) if s * bits <= AP_INT_MAX_W]}

    def set_folding(self, target_cycles: int, mvau_wwidth_max: int = 36) -> None:
        walk_folding(self, "SIMD", self.a("NumChannels"), target_cycles)

    def problems(self) -> list[str]:
        out = super().problems()
        if self.a("HO") < self.a("HI") or self.a("WO") < self.a("WI"):
            out.append(f"output {self.a('HO')}x{self.a('WO')} is smaller than input {self.a('HI')}x{self.a('WI')}")
        return out

    def _rows_cols(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.arange(self.a("HO")) * self.a("HI") // self.a("HO"),
                np.arange(self.a("WO")) * self.a("WI") // self.a("WO"))

    def execute(self, inputs):
        x = inputs[0]
        if x.ndim != 4 or x.shape[1:] != self.normal_input_shape()[1:]:
            raise self.err(f"expected input (N, {', '.join(map(str, self.normal_input_shape()[1:]))}), got {x.shape}")
        rows, cols = self._rows_cols()
        return [x[:, rows][:, :, cols]]

    def onnx_values(self, ctx) -> None:
        """This node in the generated ONNX graph (hw/emulator/onnx_graph.py), equal to `execute`: the
        nearest-neighbour rows and columns (_rows_cols) as two Gathers on the spatial axes of the
        stored layout (data movement, exact)."""
        from hw.ops._onnx_values import OnnxUnsupported, Val

        x = ctx.input(0, nchw=None)
        if x.shape != self.normal_input_shape()[1:]:
            raise OnnxUnsupported(f"{self.name}: input {x.shape} per frame, expected {self.normal_input_shape()[1:]}")
        rows, cols = self._rows_cols()
        h_axis = 2 if x.nchw else 1
        y = ctx.emit("Gather", [x.name, ctx.const(rows, np.int64)], axis=h_axis)
        y = ctx.emit("Gather", [y, ctx.const(cols, np.int64)], axis=h_axis + 1)
        ctx.output(0, Val(y, x.dtype, x.bound, self.normal_output_shape()[1:], x.nchw))

    def cycles(self) -> int:
        """upsampler.py:get_exp_cycles = prod(folded_output_shape[:-1])."""
        return math.prod(self.folded_output_shape()[:-1])

    def token_schedule(self) -> TokenSchedule:
        """One output word per firing, row-major; an input word is read in the firing that first
        writes a copy of it (upsample.hpp keeps the current input row and replays it)."""
        rows, cols = self._rows_cols()
        cf = self._cf()
        first_row = np.r_[True, rows[1:] != rows[:-1]]
        first_col = np.r_[True, cols[1:] != cols[:-1]]
        reads = (first_row[:, None, None] & first_col[None, :, None] & np.ones(cf, bool)[None, None, :]).ravel()
        return TokenSchedule(reads=reads[None, :], writes=np.ones((1, reads.size), bool), repeats=self.a("batchSize"))

    def calibrated_resources(self, ctx: Context) -> Resources:
        """A buffer of one input row (WI·C/SIMD words of SIMD·A bits) and the row/column counters."""
        width = self.a("SIMD") * self.dt("inputDataType").bitwidth()
        row = P.memory(width, self.a("WI") * self._cf(), "auto")
        return row + P.counter(self.a("HO")) + P.counter(self.a("WO")) + streams(self)

    def energy_actions(self, ctx: NodeContext) -> list[ActionCount]:
        width = self.instream_width()
        return [ActionCount(Action.SRAM, self.words_in(), (width,), "row buffer writes"),
                ActionCount(Action.SRAM, self.words_out(), (width,), "row buffer reads")]

    def hls4ml_layers(self, walk, node) -> None:
        """UpSampling2D (hls4ml Resize, nearest), for integer factors (plan._Walk.upsample refuses others)."""
        walk.upsample(node, (self.a("HI"), self.a("WI")), (self.a("HO"), self.a("WO")), self.a("NumChannels"))

    def rtl_module(self, node, model):
        from hw.ops import rtl

        raise rtl.RtlUnsupported(f"{self.name}: Upsample is not supported in the RTL backend yet")
