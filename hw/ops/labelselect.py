"""LabelSelect: indices of the top-K values (FINN labelselect.py, finn-hlslib LabelSelect_Batch).

Tie-breaking as the HLS kernel: a value enters the sorted top list only where it is strictly
greater, so among equal values the lower index ranks first; values equal to the input type's
minimum never enter, and the slots they would fill keep label 0.
"""

from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType

from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, streams
from hw.cost.energy import Action, ActionCount
from hw.cost.resources import Resources
from hw.ops.base import AP_INT_MAX_W, HWOp, divisors
from hw.schedule import TokenSchedule


class LabelSelect(HWOp):
    FINN_NAME = "LabelSelect"
    FINN_OP_TYPES = ("LabelSelect",)
    FINN_CONFIG_ATTRS = ("PE",)
    ATTRS = {
        "Labels": ("i", True, 0),
        "PE": ("i", True, 0),
        "K": ("i", True, 0),
        "inputDataType": ("s", True, ""),
        "outputDataType": ("s", False, ""),
        "numInputVectors": ("ints", False, [1]),
    }

    def _vec(self):
        return tuple(self.a("numInputVectors"))

    def output_datatype(self, o: int = 0):
        if self.a("outputDataType"):
            return self.dt("outputDataType")
        # FINN labelselect.py: the smallest UINT holding Labels - 1, widened to a multiple of 8 bits
        bits = DataType.get_smallest_possible(self.a("Labels") - 1).bitwidth()
        return DataType[f"UINT{-(-bits // 8) * 8}"]

    def normal_input_shape(self, i: int = 0):
        return self._vec() + (self.a("Labels"),)

    def normal_output_shape(self, o: int = 0):
        return self._vec() + (self.a("K"),)

    def folded_input_shape(self, i: int = 0):
        pe = self.a("PE")
        return self._vec() + (self.a("Labels") // pe, pe)

    def folded_output_shape(self, o: int = 0):
        return self._vec() + (self.a("K"), 1)

    def fold_targets(self) -> dict[str, int]:
        return {"PE": self.a("Labels")}

    def problems(self) -> list[str]:
        out = super().problems()
        if out:
            return out
        if self.a("K") > self.a("Labels"):
            out.append(f"K={self.a('K')} exceeds Labels={self.a('Labels')}")
        if self.output_datatype().max() < self.a("Labels") - 1:
            out.append(f"outputDataType {self.output_datatype().name} cannot hold label {self.a('Labels') - 1}")
        if not out and self.instream_width() > AP_INT_MAX_W:
            out.append(f"stream width exceeds the HLS limit of {AP_INT_MAX_W} bits")
        return out

    def execute(self, inputs):
        x = np.asarray(inputs[0], dtype=np.float64)
        k, labels = self.a("K"), self.a("Labels")
        if x.shape[-1] != labels:
            raise self.err(f"expected x[..., {labels}], got {x.shape}")
        order = np.argsort(-x, axis=-1, kind="stable")[..., :k]  # descending, lower index first on ties
        top = np.take_along_axis(x, order, axis=-1)
        # values equal to the type minimum never displace the initial (min, label 0) slots
        order = np.where(top > self.dt("inputDataType").min(), order, 0)
        return [order.astype(np.float64)]

    def cycles(self) -> int:
        """labelselect.py:get_exp_cycles = Labels/PE (the K output writes are not counted)."""
        return self.a("Labels") // self.a("PE")

    def token_schedule(self) -> TokenSchedule:
        """Labels/PE firings that read one word each, then K firings that write one label each."""
        n_in, k = self.a("Labels") // self.a("PE"), self.a("K")
        reads = np.r_[np.ones(n_in, bool), np.zeros(k, bool)]
        return TokenSchedule(reads=reads[None, :], writes=~reads[None, :], repeats=math.prod(self._vec()))

    def legal_folding(self) -> dict[str, list[int]]:
        bits = self.dt("inputDataType").bitwidth()
        return {"PE": [p for p in divisors(self.a("Labels")) if p * bits <= AP_INT_MAX_W]}

    def calibrated_resources(self, ctx: Context) -> Resources:
        """A sorted list of K (value, label) registers; every input is compared with all K entries and
        inserted through 2:1 muxes."""
        k, pe = self.a("K"), self.a("PE")
        vbits, lbits = self.dt("inputDataType").bitwidth(), self.output_datatype().bitwidth()
        entry = vbits + lbits
        lut = P.adders(pe * k * vbits) + pe * P.mux(2, k * entry)
        return Resources(LUT=lut, FF=k * entry) + streams(self, extra_iterations=self.a("Labels"))

    def energy_actions(self, ctx: NodeContext) -> list[ActionCount]:
        return [ActionCount(Action.ADD, math.prod(self._vec()) * self.a("Labels") * self.a("K"),
                            (self.dt("inputDataType").bitwidth(),), "top-K compares")]

    def hls4ml_layers(self, walk, node) -> None:
        """hls4ml has no top-k layer: runs on the host on the hls4ml outputs (last node only)."""
        walk.on_host(node)

    def rtl_structure(self, ctx):
        """The calibrated model's `rtl` profile of hil_labelselect.sv (hw/cost/rtl.py)."""
        from hw.cost import rtl as rtl_cost

        return rtl_cost.labelselect(self.rtl_module(ctx.node, ctx.model).params)

    def rtl_module(self, node, model):
        """hw/ops/rtl/hil_labelselect.sv."""
        from hw.ops import rtl

        idt = self.dt("inputDataType")
        params = {"LABELS": self.a("Labels"), "PE": self.a("PE"), "K": self.a("K"), "IBITS": idt.bitwidth(),
                  "IN_MODE": rtl.mode(idt), "IN_MIN": int(idt.min()), "OBITS": self.output_datatype().bitwidth()}
        return rtl.RtlModule("hil_labelselect", params, (self.instream_width(),), (self.outstream_width(),))
