"""SWG: sliding-window generator (FINN ConvolutionInputGenerator, HLS semantics; finn-hlslib
slidingwindow.h). (N, H, W, C) -> (N, OH, OW, kh·kw·C) in im2col order (kh, kw, C).

The HLS kernels need a square kernel, image and stride and dilation 1 (FINN specialize_layers
rules); anything else is refused here, not estimated with the wrong formulas.

preferred_impl_style (FINN's attribute) picks the kernel the `finn` cost model follows: "hls" (default),
FINN v0.10's HLS kernel (hls/convolutioninputgenerator_hls.py); "rtl", finn-plus 1.6.1's RTL SWG
(rtl/convolutioninputgenerator_rtl.py, the only SWG finn-plus has; the FINN handoff sets it). The
stream interface, values and token schedule (the HLS loop) do not depend on it.
"""

from __future__ import annotations

import numpy as np

from hw.cost import finn as fc
from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, scaled, streams
from hw.cost.energy import Action, ActionCount
from hw.cost.resources import Resources
from hw.ops.base import AP_INT_MAX_W, HWOp, divisors, walk_folding
from hw.schedule import TokenSchedule


# FINN's ConvolutionInputGenerator attributes, shared with the 1-D window (hw/ops/swg1d.py, FINN's
# ConvolutionInputGenerator1D has the same ones)
WINDOW_ATTRS = {
    "ConvKernelDim": ("ints", True, []),
    "IFMChannels": ("i", True, 0),
    "IFMDim": ("ints", True, []),
    "OFMDim": ("ints", True, []),
    "SIMD": ("i", True, 0),
    "Stride": ("ints", False, [1, 1]),
    "Dilation": ("ints", False, [1, 1]),
    "inputDataType": ("s", True, ""),
    "outputDataType": ("s", True, ""),
    "depthwise": ("i", False, 0, {0, 1}),
    "ram_style": ("s", False, "distributed", {"auto", "block", "distributed", "ultra"}),
    "parallel_window": ("i", False, 0, {0, 1}),
}


class SWG(HWOp):
    FINN_NAME = "ConvolutionInputGenerator"
    FINN_OP_TYPES = ("ConvolutionInputGenerator",)  # ConvolutionInputGenerator1D: hw/ops/swg1d.py
    FINN_CONFIG_ATTRS = ("SIMD", "ram_style")
    FINN_VARIANTS = ("rtl",)  # finn-plus has only the RTL window; the `finn` cost follows preferred_impl_style
    ATTRS = {**WINDOW_ATTRS, "Stride": ("ints", True, [1, 1]),
             "preferred_impl_style": ("s", False, "hls", {"hls", "rtl"})}

    # ---- shapes -------------------------------------------------------------------------------
    def normal_input_shape(self, i: int = 0):
        h, w = self.a("IFMDim")
        return (1, h, w, self.a("IFMChannels"))

    def normal_output_shape(self, o: int = 0):
        (kh, kw), (oh, ow) = self.a("ConvKernelDim"), self.a("OFMDim")
        return (1, oh, ow, kh * kw * self.a("IFMChannels"))

    def folded_input_shape(self, i: int = 0):
        simd = self.a("SIMD")
        return self.normal_input_shape()[:-1] + (self.a("IFMChannels") // simd, simd)

    def folded_output_shape(self, o: int = 0):
        simd = self.a("SIMD")
        return self.normal_output_shape()[:-1] + (self.normal_output_shape()[-1] // simd, simd)

    def fold_targets(self) -> dict[str, int]:
        return {"SIMD": self.a("IFMChannels")}

    def legal_folding(self) -> dict[str, list[int]]:
        bits = max(self.dt("inputDataType").bitwidth(), self.dt("outputDataType").bitwidth())
        return {"SIMD": [s for s in divisors(self.a("IFMChannels")) if s * bits <= AP_INT_MAX_W]}

    def set_folding(self, target_cycles: int, mvau_wwidth_max: int = 36) -> None:
        """FINN set_folding.py walks SIMD; a depthwise SWG takes its SIMD from the following VVAU in
        FINN, and we have no VVAU, so it is left alone."""
        if not self.a("depthwise"):
            walk_folding(self, "SIMD", self.a("IFMChannels"), target_cycles)

    def infer_bitwidths(self, model) -> None:
        """A window generator moves values: output type = input type."""
        self.set_nodeattr("outputDataType", model.get_tensor_datatype(self.onnx_node.input[0]).name)

    def problems(self) -> list[str]:
        out = super().problems()
        (kh, kw), (ih, iw), (oh, ow) = self.a("ConvKernelDim"), self.a("IFMDim"), self.a("OFMDim")
        (sh, sw), (dh, dw) = self.a("Stride"), self.a("Dilation")
        if not (kh == kw and ih == iw and oh == ow and sh == sw) or (dh, dw) != (1, 1):
            out.append("the HLS SWG needs a square kernel, image and stride and dilation 1 "
                       f"(got kernel {kh}x{kw}, image {ih}x{iw}, stride {sh}x{sw}, dilation {dh}x{dw})")
        elif oh != (ih - kh) // sh + 1:
            out.append(f"OFMDim {oh} != (IFMDim - k) // stride + 1 = {(ih - kh) // sh + 1} (pad with FMPadding)")
        if self.a("parallel_window"):
            out.append("parallel_window=1 (RTL SWG) is not supported")
        if self.a("SIMD") * self.dt("inputDataType").bitwidth() > AP_INT_MAX_W:
            out.append(f"stream width exceeds the HLS limit of {AP_INT_MAX_W} bits")
        return out

    # ---- execution ----------------------------------------------------------------------------
    def execute(self, inputs):
        x = inputs[0]
        (kh, kw), (sh, sw), (dh, dw) = self.a("ConvKernelDim"), self.a("Stride"), self.a("Dilation")
        oh, ow = self.a("OFMDim")
        if x.ndim != 4 or x.shape[1:] != self.normal_input_shape()[1:]:
            raise self.err(f"expected input (N, {', '.join(map(str, self.normal_input_shape()[1:]))}), got {x.shape}")
        rows = (np.arange(oh) * sh)[:, None] + (np.arange(kh) * dh)[None, :]  # (oh, kh)
        cols = (np.arange(ow) * sw)[:, None] + (np.arange(kw) * dw)[None, :]  # (ow, kw)
        win = x[:, rows[:, None, :, None], cols[None, :, None, :], :]  # (N, oh, ow, kh, kw, C)
        return [win.reshape(x.shape[0], oh, ow, -1)]

    def compile_values(self, model):
        """The compiled plan's kernel (hw/emulator/plan.py), equal to `execute`: the windows as a strided
        view of the input (no gather index), copied once into im2col order (kh, kw, C). A float input
        of an integer type that fits int8/int16 (the graph input) is narrowed first: the copy, k² times
        the input, moves 1-2 bytes a value instead of 8, and the consumer casts it exactly."""
        from numpy.lib.stride_tricks import sliding_window_view

        from hw.ops._threshold_kernel import small_int_dtype

        generic = super().compile_values(model)
        idt = self.dt("inputDataType")
        narrow = small_int_dtype(np.array([idt.min(), idt.max()])) if idt.is_integer() else np.float64
        (kh, kw), (sh, sw), (oh, ow) = self.a("ConvKernelDim"), self.a("Stride"), self.a("OFMDim")
        if tuple(self.a("Dilation")) != (1, 1):
            return generic
        per_sample = self.normal_input_shape()[1:]

        def run(ins: list[np.ndarray]) -> list[np.ndarray]:
            x = ins[0]
            if x.ndim != 4 or x.shape[1:] != per_sample:
                return generic(ins)  # execute names the shape error
            if x.dtype.kind == "f" and narrow in (np.int8, np.int16):
                x = x.astype(narrow)  # values of inputDataType: integers in its range, exact
            v = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, :(oh - 1) * sh + 1:sh, :(ow - 1) * sw + 1:sw]
            return [v.transpose(0, 1, 2, 4, 5, 3).reshape(len(x), oh, ow, -1)]  # (N, oh, ow, C, kh, kw) -> im2col

        return run

    def onnx_values(self, ctx) -> None:
        """This node in the generated ONNX graph (hw/emulator/onnx_graph.py), equal to `execute`: a
        deferred hw.ops._onnx_values.Window, which an MVAU reading it turns into one Conv; any other
        consumer gets the windows materialized as one Gather of the (kh, kw) pixels of every output
        position from the flattened image (pure data movement, exact)."""
        from hw.ops._onnx_values import Lazy, OnnxUnsupported, Val, Window

        (kh, kw), (sh, sw), (oh, ow) = self.a("ConvKernelDim"), self.a("Stride"), self.a("OFMDim")
        (ih, iw), ch = self.a("IFMDim"), self.a("IFMChannels")
        if tuple(self.a("Dilation")) != (1, 1) or kh != kw or sh != sw or oh != ow:
            raise OnnxUnsupported(f"{self.name}: a dilated or non-square window")
        src = ctx.input(0, nchw=None)
        if src.shape != (ih, iw, ch):
            raise OnnxUnsupported(f"{self.name}: input {src.shape} per frame, expected {(ih, iw, ch)}")

        def materialize(c) -> Val:
            x = c.layout(src, False)
            rows = (np.arange(oh) * sh)[:, None, None, None] + np.arange(kh)[None, None, :, None]
            cols = (np.arange(ow) * sw)[None, :, None, None] + np.arange(kw)[None, None, None, :]
            pixels = (rows * iw + cols).reshape(-1)  # (oh, ow, kh, kw) -> pixel of the flattened image
            flat = c.emit("Reshape", [x.name, c.const([-1, ih * iw, ch], np.int64)])
            win = c.emit("Gather", [flat, c.const(pixels, np.int64)], axis=1)
            out = c.emit("Reshape", [win, c.const([-1, oh, ow, kh * kw * ch], np.int64)])
            return Val(out, x.dtype, x.bound, (oh, ow, kh * kw * ch))

        ctx.output(0, Lazy(Window(src, kh, sh, oh, ch), materialize, (oh, ow, kh * kw * ch)))

    # ---- performance --------------------------------------------------------------------------
    def cycles(self) -> int:
        """hls/convolutioninputgenerator_hls.py:get_exp_cycles (2D); rtl style: finn-plus
        rtl/convolutioninputgenerator_rtl.py:get_exp_cycles (hw/cost/finn.py:swg_rtl_cycles)."""
        simd, ch = self.a("SIMD"), self.a("IFMChannels")
        (kh, kw), (ih, iw), (oh, ow) = self.a("ConvKernelDim"), self.a("IFMDim"), self.a("OFMDim")
        (sh, sw), (dh, _) = self.a("Stride"), self.a("Dilation")
        if self.a("preferred_impl_style") == "rtl":
            return fc.swg_rtl_cycles((kh, kw), (ih, iw), (oh, ow), (sh, sw), self.a("Dilation"), ch // simd,
                                     bool(self.a("depthwise")))
        write_block = ow * kw * kh * (ch / simd)
        read_block = sw * iw * (ch / simd)
        return int(iw * kh * dh * (ch / simd) + oh * max(write_block, read_block))

    def token_schedule(self) -> TokenSchedule:
        """The flattened II=1 loop of ConvolutionInputGenerator (k % stride == 0) or
        ConvolutionInputGenerator_kernel_stride, replayed flag by flag for one frame."""
        k, s, ifm, ofm = self.a("ConvKernelDim")[0], self.a("Stride")[0], self.a("IFMDim")[0], self.a("OFMDim")[0]
        reads, writes = swg_hls_flags(k, s, ifm, ofm, self.a("IFMChannels") // self.a("SIMD"), frames=1)
        return TokenSchedule(reads=reads[None, :], writes=writes[None, :])

    def finn_resources(self, device=None) -> Resources:
        if self.a("preferred_impl_style") == "rtl":  # finn-plus rtl/convolutioninputgenerator_rtl.py
            lut, bram, uram = fc.swg_rtl_resources(self.a("ConvKernelDim"), self.a("IFMDim"), self.a("Stride"),
                                                   self.a("Dilation"), self.a("SIMD"), self.a("IFMChannels"),
                                                   self.dt("inputDataType").bitwidth(), self.a("ram_style"))
            return Resources(LUT=lut, BRAM_18K=bram, URAM=uram)
        lut, bram, uram = fc.swg_hls_2d(self.a("ConvKernelDim")[0], self.a("Stride")[0], self.a("IFMDim")[0],
                                        self.a("IFMChannels"), self.a("SIMD"),
                                        self.dt("inputDataType").bitwidth(), self.a("ram_style"))
        return Resources(LUT=lut, BRAM_18K=bram, URAM=uram)

    def calibrated_resources(self, ctx: Context) -> Resources:
        """k + stride row buffers of IFMDim·C/SIMD words of SIMD·A bits (the HLS SWG), an output mux
        over the buffers, and the read/write address counters."""
        k, s, ifm = self.a("ConvKernelDim")[0], self.a("Stride")[0], self.a("IFMDim")[1]
        simd, ch = self.a("SIMD"), self.a("IFMChannels")
        width, depth = simd * self.dt("inputDataType").bitwidth(), ifm * ch // simd
        buffers = scaled(P.memory(width, depth, self.a("ram_style")), k + s)
        addr = scaled(P.counter(depth), 4)  # read/write row and column address counters (assumed)
        return buffers + Resources(LUT=P.mux(k + s, width)) + addr + streams(self, P.HLS_KERNEL_OVERHEAD)

    def energy_actions(self, ctx: NodeContext) -> list[ActionCount]:
        width = self.instream_width()
        return [ActionCount(Action.SRAM, self.words_in(), (width,), "line buffer writes"),
                ActionCount(Action.SRAM, self.words_out(), (width,), "line buffer reads")]

    def hls4ml_layers(self, walk, node) -> None:
        """No layer of its own: it makes the next MVAU a Conv2D, or a depthwise SWG the next VVAU a
        DepthwiseConv2D (plan._Walk.sliding_window)."""
        (k, _), (s, _) = self.a("ConvKernelDim"), self.a("Stride")
        (ih, iw), (oh, ow) = self.a("IFMDim"), self.a("OFMDim")
        walk.sliding_window(node, walk.conv_geometry(ih, iw, self.a("IFMChannels"), k, s, oh, ow,
                                                     depthwise=bool(self.a("depthwise"))))

    def rtl_structure(self, ctx):
        """The calibrated model's `rtl` profile of hil_swg.sv (hw/cost/rtl.py)."""
        from hw.cost import rtl as rtl_cost

        return rtl_cost.swg(self.rtl_module(ctx.node, ctx.model).params)

    def rtl_module(self, node, model):
        """hw/ops/rtl/hil_swg.sv (the HLS loop of token_schedule, square kernel/image/stride)."""
        from hw.ops import rtl

        k, s, ifm, ofm = self.a("ConvKernelDim")[0], self.a("Stride")[0], self.a("IFMDim")[0], self.a("OFMDim")[0]
        if self.a("depthwise"):
            raise rtl.RtlUnsupported(f"{self.name}: a depthwise SWG has no RTL template")
        width = self.instream_width()
        params = {"K": k, "S": s, "IFM": ifm, "OFM": ofm, "CF": self.a("IFMChannels") // self.a("SIMD"),
                  "WIDTH": width, "KS": int(k % s != 0)}
        return rtl.RtlModule("hil_swg", params, (width,), (self.outstream_width(),))


def swg_hls_flags(k: int, s: int, ifm: int, ofm: int, cf: int, frames: int = 1):
    """(reads, writes) bool arrays over `frames` consecutive frames of the HLS SWG loop."""
    from hw.ops._swg_loop import run_loop  # numba: imported only when a schedule is needed

    return run_loop(k, s, ifm, ofm, cf, frames, k % s != 0)
