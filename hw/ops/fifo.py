"""FIFO: a bounded stream buffer (FINN streamingfifo.py; StreamingFIFO_rtl). Values pass through, one
word per firing; the buffering itself is the edge's capacity (`depth`)."""

from __future__ import annotations

from hw.cost import finn as fc
from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext
from hw.cost.energy import Action, ActionCount
from hw.cost.resources import Resources
from hw.ops.base import PassThroughOp

QSRL_MAX_DEPTH = 256  # FINN streamingfifo: Q_srl "efficient for depth 2...256" (max_qsrl_depth)
# the deepest FIFO a design may ask for: 2^24 words of 32 bits are 512 Mbit, more than the on-chip
# memory of any part in hw/devices; a larger depth is a typo, and would size the emulator's buffers
MAX_DEPTH = 2**24


class FIFO(PassThroughOp):
    FINN_NAME = "StreamingFIFO"
    FINN_OP_TYPES = ("StreamingFIFO",)
    FINN_VARIANTS = ("hls", "rtl")  # finn-plus builds StreamingFIFO_rtl (fifo.sv), the one costed here
    ATTRS = {
        "depth": ("i", True, 2),
        "shape": ("ints", True, []),  # folded shape, e.g. [1, 32, 2]: 32 words of 2 elements
        "dataType": ("s", True, ""),
        "impl_style": ("s", False, "rtl", {"rtl", "vivado"}),
        "ram_style": ("s", False, "auto", {"auto", "block", "distributed", "ultra"}),
        "depth_monitor": ("i", False, 0, {0, 1}),
    }

    def folded_input_shape(self, i: int = 0):
        return tuple(self.a("shape"))

    folded_output_shape = folded_input_shape

    def normal_input_shape(self, i: int = 0):
        shape = self.folded_input_shape()
        return shape[:-2] + (shape[-2] * shape[-1],)

    normal_output_shape = normal_input_shape

    def problems(self) -> list[str]:
        out = []
        if self.a("depth") < 2:
            out.append(f"depth={self.a('depth')} must be >= 2 (depth-1 Q_srl FIFOs are invalid, FINN PR #1284)")
        if self.a("depth") > MAX_DEPTH:
            out.append(f"depth={self.a('depth')} exceeds the largest FIFO depth {MAX_DEPTH} (2^24 words)")
        if self.a("impl_style") == "vivado" and not 16 <= fc.fifo_adjusted_depth(self.a("depth"), "vivado") <= 32768:
            out.append(f"depth={self.a('depth')} is outside the Vivado FIFO range 16..32768")
        return out

    def finn_resources(self, device=None) -> Resources:
        """RTL: fifo.sv as finn-plus costs it (on the byte-padded stream width); Vivado: FINN v0.10."""
        if self.a("impl_style") == "vivado":
            depth = fc.fifo_adjusted_depth(self.a("depth"), "vivado")
            lut, bram, uram = fc.fifo_resources_vivado(depth, self.instream_width(), self.a("ram_style"))
        else:
            versal = device is not None and fc.is_versal(device.part)
            lut, bram, uram = fc.fifo_resources_rtl(self.a("depth"), -(-self.instream_width() // 8) * 8,
                                                    self.a("ram_style"), versal)
        return Resources(LUT=lut, BRAM_18K=bram, URAM=uram)

    def calibrated_resources(self, ctx: Context) -> Resources:
        """Q_srl (impl_style rtl) is shift registers; a Vivado FIFO follows ram_style, auto choosing SRL
        up to QSRL_MAX_DEPTH and BRAM beyond. Plus the occupancy counter and handshake."""
        depth = fc.fifo_adjusted_depth(self.a("depth"), self.a("impl_style"))
        style = self.a("ram_style")
        if self.a("impl_style") == "rtl":
            style = "srl"
        elif style == "auto":
            style = "srl" if depth <= QSRL_MAX_DEPTH else "block"
        ctrl = P.counter(depth)  # occupancy counter (Q_srl's SRL address)
        full_empty = Resources(LUT=P.clog2(depth) + 2, FF=2)  # full/empty compares and flags (assumed)
        return P.memory(self.instream_width(), depth, style) + ctrl + full_empty

    def energy_actions(self, ctx: NodeContext) -> list[ActionCount]:
        width = self.instream_width()
        return [ActionCount(Action.SRAM, self.words_in(), (width,), "FIFO writes"),
                ActionCount(Action.SRAM, self.words_out(), (width,), "FIFO reads")]

    def rtl_structure(self, ctx):
        """The calibrated model's `rtl` profile of hil_fifo.sv (hw/cost/rtl.py)."""
        from hw.cost import rtl as rtl_cost

        return rtl_cost.fifo(self.instream_width(), self.a("depth"))

    def rtl_module(self, node, model):
        """hw/ops/rtl/hil_fifo.sv: the edge FIFO of `depth` words (the top level instantiates it on
        the edge this node sits on; it is the edge's capacity, as in the emulator)."""
        from hw.ops import rtl

        width = self.instream_width()
        return rtl.RtlModule("hil_fifo", {"WIDTH": width, "DEPTH": self.a("depth")}, (width,), (width,))
