"""SWG1D: the 1-D sliding-window generator. A 1-D signal is a 1×W image (FINN's layout):
(N, 1, W, C) -> (N, 1, OW, k·C) in im2col order (kw, C), kernel 1×k, stride 1, dilation 1, not
depthwise (the variant "ConvolutionInputGenerator_1D" of Xilinx/finn's get_swu_variant; others are refused).

preferred_impl_style picks the hardware the `finn` cost model follows (as for the 2-D SWG, hw/ops/swg.py):
* "hls" (default): Xilinx/finn's HLS ConvolutionInputGenerator1D (up to v0.9,
  src/finn/custom_op/fpgadataflow/convolutioninputgenerator1d.py: get_exp_cycles, lut_estimation,
  bram_estimation, uram_estimation; finn-hlslib slidingwindow.h ConvolutionInputGenerator_1D), which
  finn-plus 1.6.1 does not have, so nothing checks these formulas against FINN's code;
* "rtl": what finn-plus 1.6.1 builds: convert_to_hw/conv_inp_gen.py:InferConvInpGen makes the 1-D
  Im2Col a ConvolutionInputGenerator with is1D=1, specialized to ConvolutionInputGenerator_rtl
  (rtl/convolutioninputgenerator_rtl.py: get_exp_cycles' "1D case", lut/bram/uram_estimation;
  hw/cost/finn.py swg_rtl_*). The FINN handoff sets it and names the node by `finn_layers`
  (ConvolutionInputGenerator_rtl_N, counted among FINN's sliding windows); checked against finn-plus by
  tests/oracle/test_finn_handoff_kws.py.
Stream interface, values and token schedule (the HLS loop) do not depend on the style.
"""

from __future__ import annotations

import math

import numpy as np

from hw.cost import finn as fc
from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, scaled, streams
from hw.cost.energy import Action, ActionCount
from hw.cost.resources import Resources
from hw.ops.base import AP_INT_MAX_W, HWOp, divisors, walk_folding
from hw.ops.swg import WINDOW_ATTRS
from hw.schedule import TokenSchedule


class SWG1D(HWOp):
    # the op type of the hls style's FINN file (Xilinx/finn); finn-plus's node is finn_layers' (rtl style)
    FINN_NAME = "ConvolutionInputGenerator1D"
    FINN_OP_TYPES = ("ConvolutionInputGenerator1D",)
    FINN_VARIANTS = ("rtl",)  # finn-plus: ConvolutionInputGenerator_rtl (is1D); the cost follows preferred_impl_style
    FINN_CONFIG_ATTRS = ("SIMD", "ram_style")
    # ConvKernelDim [1, k], IFMDim [1, W], OFMDim [1, OW]
    ATTRS = {**WINDOW_ATTRS, "preferred_impl_style": ("s", False, "hls", {"hls", "rtl"})}

    def _k(self) -> int:
        return self.a("ConvKernelDim")[1]

    def _cf(self) -> int:
        return self.a("IFMChannels") // self.a("SIMD")

    # ---- shapes -------------------------------------------------------------------------------
    def normal_input_shape(self, i: int = 0):
        return (1, 1, self.a("IFMDim")[1], self.a("IFMChannels"))

    def normal_output_shape(self, o: int = 0):
        return (1, 1, self.a("OFMDim")[1], self._k() * self.a("IFMChannels"))

    def folded_input_shape(self, i: int = 0):
        return self.normal_input_shape()[:-1] + (self._cf(), self.a("SIMD"))

    def folded_output_shape(self, o: int = 0):
        return self.normal_output_shape()[:-1] + (self._k() * self._cf(), self.a("SIMD"))

    def fold_targets(self) -> dict[str, int]:
        return {"SIMD": self.a("IFMChannels")}

    def legal_folding(self) -> dict[str, list[int]]:
        bits = self.dt("inputDataType").bitwidth()
        return {"SIMD": [s for s in divisors(self.a("IFMChannels")) if s * bits <= AP_INT_MAX_W]}

    def set_folding(self, target_cycles: int, mvau_wwidth_max: int = 36) -> None:
        walk_folding(self, "SIMD", self.a("IFMChannels"), target_cycles)

    def infer_bitwidths(self, model) -> None:
        self.set_nodeattr("outputDataType", model.get_tensor_datatype(self.onnx_node.input[0]).name)

    def problems(self) -> list[str]:
        out = super().problems()
        (kh, k), (ih, iw), (oh, ow) = self.a("ConvKernelDim"), self.a("IFMDim"), self.a("OFMDim")
        if (kh, ih, oh) != (1, 1, 1):
            out.append(f"a 1-D window needs kernel, input and output height 1 (got {kh}, {ih}, {oh})")
        if tuple(self.a("Stride")) != (1, 1) or tuple(self.a("Dilation")) != (1, 1):
            out.append("only stride 1 and dilation 1 (FINN's ConvolutionInputGenerator_1D variant) are supported")
        if self.a("depthwise") or self.a("parallel_window"):
            out.append("depthwise and parallel-window 1-D windows are not supported")
        if ow != iw - k + 1:
            out.append(f"OFMDim {ow} != IFMDim - k + 1 = {iw - k + 1}")
        return out

    # ---- execution ----------------------------------------------------------------------------
    def execute(self, inputs):
        x = inputs[0]
        k, ow = self._k(), self.a("OFMDim")[1]
        if x.ndim != 4 or x.shape[1:] != self.normal_input_shape()[1:]:
            raise self.err(f"expected input (N, {', '.join(map(str, self.normal_input_shape()[1:]))}), got {x.shape}")
        cols = np.arange(ow)[:, None] + np.arange(k)[None, :]  # (ow, k)
        win = x[:, :, cols, :]  # (N, 1, ow, k, C)
        return [win.reshape(x.shape[0], 1, ow, -1)]

    # ---- performance --------------------------------------------------------------------------
    def cycles(self) -> int:
        """hls: convolutioninputgenerator1d.py:get_exp_cycles, variant ConvolutionInputGenerator_1D:
        1 + OFMDim_w · k_w · IFMChannels / SIMD; rtl: finn-plus rtl/convolutioninputgenerator_rtl.py:
        get_exp_cycles, 1D case (hw/cost/finn.py:swg_rtl_cycles_1d): OFMDim_w · k_w · CF + 2."""
        if self.a("preferred_impl_style") == "rtl":
            return fc.swg_rtl_cycles(self.a("ConvKernelDim"), self.a("IFMDim"), self.a("OFMDim"), self.a("Stride"),
                                     self.a("Dilation"), self._cf(), bool(self.a("depthwise")))
        return int(1 + self.a("OFMDim")[1] * self._k() * self.a("IFMChannels") / self.a("SIMD"))

    def token_schedule(self) -> TokenSchedule:
        """1 + OW·k·CF firings (FINN's cycle count); firing 0 and the first k·CF - 1 others read the
        first window's pixels as they are written out, every later firing writes one window word.
        A new pixel (the last of window o) is read in the first firings of window o, CF words, before
        window o writes it (assumed placement: the line buffer of k pixels holds the rest)."""
        k, cf, ow, iw = self._k(), self._cf(), self.a("OFMDim")[1], self.a("IFMDim")[1]
        n = 1 + ow * k * cf
        reads, writes = np.zeros(n, bool), np.zeros(n, bool)
        writes[1:] = True
        reads[:k * cf] = True  # window 0's pixels, word j at firing j, each before write j (firing j + 1)
        for o in range(1, iw - k + 1):  # pixel o + k - 1: its cf words at the start of window o
            start = 1 + o * k * cf
            reads[start:start + cf] = True
        return TokenSchedule(reads=reads[None, :], writes=writes[None, :])

    def finn_layers(self) -> list[fc.FinnLayer] | None:
        """The FINN layer finn-plus 1.6.1 builds for this window (rtl style; None for hls, whose FINN node
        is FINN_NAME): a ConvolutionInputGenerator (is1D=1, InferConvInpGen) specialized to
        ConvolutionInputGenerator_rtl, folded by SIMD and ram_style, with its estimate (cycles, finn_resources)."""
        if self.a("preferred_impl_style") != "rtl":
            return None
        res = self.finn_resources()
        return [fc.FinnLayer("ConvolutionInputGenerator", "rtl", {a: self.a(a) for a in self.FINN_CONFIG_ATTRS},
                             self.cycles(), (res.LUT, res.BRAM_18K, res.URAM))]

    def finn_resources(self, device=None) -> Resources:
        """hls: convolutioninputgenerator1d.py lut_estimation, bram_estimation, uram_estimation (not
        parallel-window); rtl: finn-plus rtl/convolutioninputgenerator_rtl.py (hw/cost/finn.py:swg_rtl_resources,
        the buffer of get_buffer_depth: k·CF words for a 1-D kernel)."""
        if self.a("preferred_impl_style") == "rtl":
            lut, bram, uram = fc.swg_rtl_resources(self.a("ConvKernelDim"), self.a("IFMDim"), self.a("Stride"),
                                                   self.a("Dilation"), self.a("SIMD"), self.a("IFMChannels"),
                                                   self.dt("inputDataType").bitwidth(), self.a("ram_style"))
            return Resources(LUT=lut, BRAM_18K=bram, URAM=uram)
        simd, ch, iw, k = self.a("SIMD"), self.a("IFMChannels"), self.a("IFMDim")[1], self._k()
        stride, style, bits = 1, self.a("ram_style"), self.dt("inputDataType").bitwidth()
        lut = 300 + (int((k + stride) * (simd * bits * math.ceil(iw * ch / simd / 64))) if style == "distributed" else 0)
        bram = 0
        if style in ("block", "auto"):
            depth = iw * ch / simd
            width = next((w for d, w in ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2)) if depth <= d), 1)
            bram = int((k + stride) * (math.ceil(simd * bits / width) * math.ceil(iw * ch / simd / depth)))
        uram = 2 * math.ceil(simd * bits / 64) * math.ceil(stride * iw * (ch // simd) / 4096) if style == "ultra" else 0
        return Resources(LUT=lut, BRAM_18K=bram, URAM=uram)

    def calibrated_resources(self, ctx: Context) -> Resources:
        """k + 1 pixel buffers of C/SIMD words of SIMD·A bits, an output mux over them and the address
        counters (the SWG's model, one row high)."""
        k, simd = self._k(), self.a("SIMD")
        width, depth = simd * self.dt("inputDataType").bitwidth(), self._cf()
        buffers = scaled(P.memory(width, depth, self.a("ram_style")), k + 1)
        return buffers + Resources(LUT=P.mux(k + 1, width)) + scaled(P.counter(depth), 2) + \
            streams(self, P.HLS_KERNEL_OVERHEAD)

    def energy_actions(self, ctx: NodeContext) -> list[ActionCount]:
        width = self.instream_width()
        return [ActionCount(Action.SRAM, self.words_in(), (width,), "line buffer writes"),
                ActionCount(Action.SRAM, self.words_out(), (width,), "line buffer reads")]

    # ---- hls4ml / RTL -------------------------------------------------------------------------
    def hls4ml_layers(self, walk, node) -> None:
        """No layer of its own: it makes the next MVAU an hls4ml Conv1D (plan._Walk.sliding_window;
        problems() has already refused strides, dilations and depthwise 1-D windows)."""
        (_, iw), (_, ow) = self.a("IFMDim"), self.a("OFMDim")
        walk.sliding_window(node, walk.conv_geometry(1, iw, self.a("IFMChannels"), self._k(), 1, 1, ow, one_d=True))

    def rtl_module(self, node, model):
        from hw.ops import rtl

        raise rtl.RtlUnsupported(f"{self.name}: the 1-D sliding window is not supported in the RTL backend yet")
