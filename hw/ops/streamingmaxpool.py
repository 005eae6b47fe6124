"""StreamingMaxPool: max pooling with stride == kernel (FINN streamingmaxpool.py, finn-hlslib
maxpool.h StreamingMaxPool_Precision). 2D only: one stream word carries all channels.

preferred_impl_style picks the hardware the `finn` cost model follows: "hls" (default), FINN v0.10's
StreamingMaxPool_hls; "rtl", what finn-plus 1.6.1 builds instead (it has no StreamingMaxPool):
convert_to_hw/pool.py:InferPool makes a max-pool a depthwise ConvolutionInputGenerator (specialized to
its RTL variant) followed by a Pool_hls with PE = NumChannels. The op is then those two FINN layers
(`finn_layers`): its cycles are the slower one's (they stream into each other), its resources their
sum. Stream interface, values and token schedule do not depend on the style.
"""

from __future__ import annotations

import math

import numpy as np

from hw.cost import finn as fc
from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, streams
from hw.cost.energy import Action, ActionCount
from hw.cost.resources import Resources
from hw.ops.base import AP_INT_MAX_W, SameTypeOp
from hw.schedule import TokenSchedule


class StreamingMaxPool(SameTypeOp):
    FINN_NAME = "StreamingMaxPool"
    FINN_OP_TYPES = ("StreamingMaxPool",)
    NAME_PREFIX = "MaxPool"
    FINN_CONFIG_ATTRS = ()  # the 2D HLS kernel has no folding attribute
    FINN_VARIANTS = ("rtl",)  # finn-plus has no StreamingMaxPool: an RTL window + Pool_hls (finn_layers)
    ATTRS = {
        "ImgDim": ("ints", True, []),
        "PoolDim": ("ints", True, []),
        "NumChannels": ("i", True, 0),
        "PE": ("i", False, 1),  # used by FINN's 1D variant only; the 2D kernel reads all channels
        "CeilMode": ("i", False, 0, {0}),
        "dataType": ("s", True, ""),
        "preferred_impl_style": ("s", False, "hls", {"hls", "rtl"}),
    }

    def normal_input_shape(self, i: int = 0):
        h, w = self.a("ImgDim")
        return (1, h, w, self.a("NumChannels"))

    def normal_output_shape(self, o: int = 0):
        (h, w), (kh, kw) = self.a("ImgDim"), self.a("PoolDim")
        return (1, h // kh, w // kw, self.a("NumChannels"))

    def folded_input_shape(self, i: int = 0):
        return self.normal_input_shape()[:-1] + (1, self.a("NumChannels"))

    def folded_output_shape(self, o: int = 0):
        return self.normal_output_shape()[:-1] + (1, self.a("NumChannels"))

    def problems(self) -> list[str]:
        (h, w), (kh, kw) = self.a("ImgDim"), self.a("PoolDim")
        out = []
        if h != w or kh != kw or h == 1:
            out.append(f"only square 2D pooling is supported (ImgDim {h}x{w}, PoolDim {kh}x{kw})")
        elif h % kh:
            out.append(f"ImgDim {h} must be a multiple of PoolDim {kh}")
        if self.instream_width() > AP_INT_MAX_W:
            out.append(f"stream width {self.instream_width()} exceeds the HLS limit of {AP_INT_MAX_W} bits")
        return out

    def execute(self, inputs):
        x = inputs[0]
        (h, w), (k, _) = self.a("ImgDim"), self.a("PoolDim")
        n, c = x.shape[0], x.shape[-1]
        if x.shape[1:] != (h, w, self.a("NumChannels")):
            raise self.err(f"expected input (N, {h}, {w}, {self.a('NumChannels')}), got {x.shape}")
        return [x.reshape(n, h // k, k, w // k, k, c).max(axis=(2, 4))]

    def compile_values(self, model):
        """The compiled plan's kernel (hw/emulator/plan.py), equal to `execute`: the maximum over the
        k·k strided views of the windows, taken in place, one pass per window position (numpy's
        reduction over two inner axes was 3x slower on int8 maps)."""
        generic = super().compile_values(model)
        (h, w), (k, _) = self.a("ImgDim"), self.a("PoolDim")
        shape = (h, w, self.a("NumChannels"))
        if h % k or w % k:
            return generic

        def run(ins: list[np.ndarray]) -> list[np.ndarray]:
            x = ins[0]
            if x.shape[1:] != shape:
                return generic(ins)  # execute names the shape error
            v = x.reshape(len(x), h // k, k, w // k, k, shape[2])
            out = v[:, :, 0, :, 0].copy()
            for i in range(k):
                for j in range(k):
                    if i or j:
                        np.maximum(out, v[:, :, i, :, j], out=out)
            return [out]

        return run

    def onnx_values(self, ctx) -> None:
        """This node in the generated ONNX graph (hw/emulator/onnx_graph.py), equal to `execute`: one
        MaxPool (kernel = stride = PoolDim) on the channels-first view (a maximum of exact values). On
        a producer's pending threshold map (hw.ops._onnx_values.Monotone, non-decreasing per channel)
        it pools the accumulators and leaves the map pending: k² times fewer values to map."""
        from hw.ops._onnx_values import Monotone, OnnxUnsupported, Val

        (h, w), (k, _) = self.a("ImgDim"), self.a("PoolDim")
        c = self.a("NumChannels")
        lazy = ctx.lazy(0)
        pending = lazy.info if lazy is not None and isinstance(lazy.info, Monotone) else None
        x = ctx.layout(pending.pre, True) if pending is not None else ctx.input(0, nchw=True)
        if h % k or w % k or x.shape != (h, w, c):
            raise OnnxUnsupported(f"{self.name}: input {x.shape} per frame, expected {(h, w, c)} in whole windows")
        out = Val(ctx.emit("MaxPool", [x.name], kernel_shape=[k, k], strides=[k, k]), x.dtype, x.bound,
                  (h // k, w // k, c), True)
        ctx.output(0, out if pending is None else Monotone(out, pending.finish).lazy())

    def cycles(self) -> int:
        """streamingmaxpool.py:get_exp_cycles (2D): int(ifm_dim² · (1 + 1/k²)), as FINN computes it;
        rtl style: the slower of finn-plus's two layers (finn_layers)."""
        if self.a("preferred_impl_style") == "rtl":
            return max(layer.cycles for layer in self.finn_layers())
        ifm, k = self.a("ImgDim")[1], self.a("PoolDim")[1]
        return int(ifm * ifm * (1 + 1 / (k * k)))

    def finn_resources(self, device=None) -> Resources:
        """FINN v0.10 gives StreamingMaxPool_hls no estimate (all 0); rtl style: the sum over finn_layers."""
        if self.a("preferred_impl_style") != "rtl":
            return Resources()
        lut, bram, uram = (sum(col) for col in zip(*(layer.resources for layer in self.finn_layers())))
        return Resources(LUT=lut, BRAM_18K=bram, URAM=uram)

    def finn_layers(self) -> list[fc.FinnLayer] | None:
        """finn-plus's layers for this max-pool (rtl style; None for hls: one FINN layer, this op):
        convert_to_hw/pool.py:InferPool's Im2Col(depthwise=1, stride = kernel) -> InferConvInpGen ->
        ConvolutionInputGenerator_rtl with SIMD = NumChannels (rtl/convolutioninputgenerator_rtl.py
        get_exp_cycles / *_estimation, ram_style "distributed", FINN's default) and Pool_hls with
        PE = Channels, Function MaxPool (pool.py:get_exp_cycles)."""
        if self.a("preferred_impl_style") != "rtl":
            return None
        (ih, iw), (kh, kw), ch = self.a("ImgDim"), self.a("PoolDim"), self.a("NumChannels")
        oh, ow, bits = ih // kh, iw // kw, self.dt("dataType").bitwidth()
        k, one = (kh, kw), (1, 1)
        swg = fc.FinnLayer("ConvolutionInputGenerator", "rtl", {"SIMD": ch, "ram_style": "distributed"},
                           fc.swg_rtl_cycles(k, (ih, iw), (oh, ow), k, one, 1, True),
                           fc.swg_rtl_resources(k, (ih, iw), k, one, ch, ch, bits, "distributed"))
        pool = fc.FinnLayer("Pool", "hls", {"PE": ch}, fc.pool_cycles(ch, ch, kh * kw, oh * ow), (0, 0, 0))
        return [swg, pool]

    def token_schedule(self) -> TokenSchedule:
        """Per pooled output row: k·ImgDim firings that read a pixel, then ImgDim/k firings that
        write one (StreamingMaxPool_Precision loop nest); repeated ImgDim/k times."""
        ifm, k = self.a("ImgDim")[1], self.a("PoolDim")[1]
        n_read, n_write = k * ifm, ifm // k
        reads = np.r_[np.ones(n_read, bool), np.zeros(n_write, bool)]
        return TokenSchedule(reads=reads[None, :], writes=~reads[None, :], repeats=ifm // k)

    def calibrated_resources(self, ctx: Context) -> Resources:
        """C comparators and 2:1 max muxes per input word, a buffer of one output row of maxima."""
        ch, bits = self.a("NumChannels"), self.dt("dataType").bitwidth()
        ifm, k = self.a("ImgDim")[1], self.a("PoolDim")[1]
        row = P.memory(ch * bits, ifm // k, "auto")
        return Resources(LUT=P.adders(ch * bits) + P.mux(2, ch * bits)) + row + streams(self)

    def energy_actions(self, ctx: NodeContext) -> list[ActionCount]:
        bits = self.dt("dataType").bitwidth()
        elems = math.prod(self.normal_input_shape())
        width = self.instream_width()
        return [ActionCount(Action.ADD, elems, (bits,), "max compares"),
                ActionCount(Action.SRAM, 2 * self.words_in(), (width,), "row buffer accesses")]

    def hls4ml_layers(self, walk, node) -> None:
        """MaxPooling2D."""
        (h, w), (k, _), c = self.a("ImgDim"), self.a("PoolDim"), self.a("NumChannels")
        walk.pool(node, k, (h // k, w // k, c))

    def rtl_structure(self, ctx):
        """The calibrated model's `rtl` profile of hil_maxpool.sv (hw/cost/rtl.py)."""
        from hw.cost import rtl as rtl_cost

        return rtl_cost.maxpool(self.rtl_module(ctx.node, ctx.model).params)

    def rtl_module(self, node, model):
        """hw/ops/rtl/hil_maxpool.sv."""
        from hw.ops import rtl

        dt = self.dt("dataType")
        params = {"IFM": self.a("ImgDim")[1], "K": self.a("PoolDim")[1], "C": self.a("NumChannels"),
                  "BITS": dt.bitwidth(), "MODE": rtl.mode(dt)}
        return rtl.RtlModule("hil_maxpool", params, (self.instream_width(),), (self.outstream_width(),))
