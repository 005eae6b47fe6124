"""DWC: stream data-width converter (FINN streamingdatawidthconverter.py, finn-hlslib
streamtools.h StreamingDataWidthConverter_Batch). Values pass through unchanged."""

from __future__ import annotations

import math

from hw.cost import finn as fc
from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, streams
from hw.cost.resources import Resources
from hw.ops.base import PassThroughOp


class DWC(PassThroughOp):
    FINN_NAME = "StreamingDataWidthConverter"
    FINN_OP_TYPES = ("StreamingDataWidthConverter",)
    FINN_VARIANTS = ("hls", "rtl")  # both share the base op's estimates
    ATTRS = {
        "shape": ("ints", True, []),  # normal tensor shape, e.g. [1, 64] or [1, H, W, C]
        "inWidth": ("i", True, 0),
        "outWidth": ("i", True, 0),
        "dataType": ("s", True, ""),
    }

    def normal_input_shape(self, i: int = 0):
        return tuple(self.a("shape"))

    def normal_output_shape(self, o: int = 0):
        return tuple(self.a("shape"))

    def _folded(self, width: int):
        elems = width // self.dt("dataType").bitwidth()
        shape = self.normal_input_shape()
        return shape[:-1] + (shape[-1] // elems, elems)

    def folded_input_shape(self, i: int = 0):
        return self._folded(self.a("inWidth"))

    def folded_output_shape(self, o: int = 0):
        return self._folded(self.a("outWidth"))

    def instream_width(self, i: int = 0) -> int:
        return self.a("inWidth")

    def outstream_width(self, o: int = 0) -> int:
        return self.a("outWidth")

    def problems(self) -> list[str]:
        bits, ch = self.dt("dataType").bitwidth(), self.a("shape")[-1]
        out = []
        for attr in ("inWidth", "outWidth"):
            width = self.a(attr)
            if width < bits or width % bits or ch % (width // bits):
                out.append(f"{attr}={width} must be a multiple of {bits} bits whose element count divides {ch} channels")
        return out

    def token_schedule(self):
        """A generalized converter (any width ratio): one firing per cycle holding b buffered bits; a
        firing reads a word when b < outWidth and writes one when b (+ the word read) >= outWidth.
        Every firing reads (widening) or every firing writes (narrowing), so a frame takes
        max(words in, words out) firings; the k-th write comes after the reads that fill its bits.
        For integer ratios this is finn-hlslib's StreamingDataWidthConverter_Batch (the R-th firing
        of a group writes; the first reads); for others it is FINN's generalized converter
        (streamtools.h StreamingDataWidthConverterGeneralized_Batch) without an lcm intermediate."""
        import numpy as np

        from hw.schedule import TokenSchedule

        win, wout = self.a("inWidth"), self.a("outWidth")
        n_in, n_out = self.words_in(), self.words_out()
        f = np.arange(max(n_in, n_out, 1))
        if win <= wout:  # every firing reads; a write when the bits read so far cross a word boundary
            reads = np.ones(len(f), dtype=bool) if n_in else np.zeros(len(f), dtype=bool)
            writes = ((f + 1) * win) // wout > (f * win) // wout
        else:  # every firing writes; a read when the bits written so far need the next word
            writes = np.ones(len(f), dtype=bool) if n_out else np.zeros(len(f), dtype=bool)
            reads = -((-(f + 1) * wout) // win) > -((-f * wout) // win)
        return TokenSchedule(reads=reads[None, :], writes=writes[None, :])

    def finn_resources(self, device=None) -> Resources:
        return Resources(LUT=fc.dwc_lut(self.a("inWidth"), self.a("outWidth")))

    def calibrated_resources(self, ctx: Context) -> Resources:
        """A register of the wider word; in > out: an out-bit (in/out):1 mux; in < out: load enables.
        Non-multiple widths go through lcm(in, out) (FINN's intermediate width)."""
        win, wout = self.a("inWidth"), self.a("outWidth")
        mid = math.lcm(win, wout)
        lut, ff = 0.0, 0
        for a, b in ((win, mid), (mid, wout)):
            if a == b:
                continue
            lut += P.mux(a // b, b) if a > b else P.mux(2, b)
            ff += max(a, b)
        return Resources(LUT=lut, FF=ff) + streams(self, Resources(), mid // min(win, wout))

    def energy_actions(self, ctx: NodeContext) -> list:
        """Register moves only: no entry in the energy table (0)."""
        return []

    def rtl_structure(self, ctx):
        """The calibrated model's `rtl` profile of hil_dwc.sv (hw/cost/rtl.py)."""
        from hw.cost import rtl as rtl_cost

        m = self.rtl_module(ctx.node, ctx.model)
        return rtl_cost.dwc(m.params["IN_W"], m.params["OUT_W"])

    def rtl_module(self, node, model):
        """hw/ops/rtl/hil_dwc.sv: the firings of token_schedule() for any width ratio (integer ratios as a
        slice counter over a held word, the others as the generalized converter's shifted buffer)."""
        from hw.ops import rtl

        win, wout = self.a("inWidth"), self.a("outWidth")
        return rtl.RtlModule("hil_dwc", {"IN_W": win, "OUT_W": wout}, (win,), (wout,))
