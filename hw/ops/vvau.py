"""VVAU: vector-vector-activation unit, the depthwise convolution (FINN vectorvectoractivation.py,
finn-hlslib vvau.hpp Vector_Vector_Activate_Batch).

acc[..., c] = sum_{kh, kw} x[..., (kh, kw, c)] · W[c, 0, kh, kw] over the windows a depthwise SWG
produces (im2col order (kh, kw, C), as FINN's execute_node reads them), then optional thresholds
out[c] = sum_k [acc[c] >= T[c, k]] + ActVal. Weights are FINN's (Channels, 1, k_h, k_w).

Folding: PE channels and SIMD kernel positions per cycle (Channels % PE == 0, k_h·k_w % SIMD == 0);
the depthwise SWG in front streams PE channels per word, so its SIMD follows this PE
(toolchain/passes/depthwise.py keeps them equal, as FINN's set_folding does).
"""

from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType

from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, accumulator_bits, mvau_lanes, streams, thresholds_cost
from hw.cost.energy import Action, ActionCount, threshold_actions
from hw.cost.resources import Resources
from hw.ops.base import (AP_INT_MAX_W, HWOp, accumulator_range, activate, broadcast_thresholds, divisors,
                         int_bound, set_accumulator_types, walk_folding)
from hw.ops.mvau import MAC_ATTRS
from hw.schedule import TokenSchedule


class VVAU(HWOp):
    FINN_NAME = "VVAU"
    FINN_OP_TYPES = ("VVAU", "VectorVectorActivation")
    FINN_CONFIG_ATTRS = ("PE", "SIMD", "ram_style", "resType", "mem_mode")
    FINN_VARIANTS = ("hls", "rtl")  # FINN picks per node (finn_impl_choice); the `finn` cost is the HLS kernel's
    INIT_DTYPE_ATTRS = {1: "weightDataType", 2: "accDataType"}
    ATTRS = {
        **MAC_ATTRS,  # shared with the MVAU (hw/ops/mvau.py)
        "SIMD": ("i", False, 1),
        "Dim": ("ints", True, []),  # output image [H, W]
        "Channels": ("i", True, 0),
        "Kernel": ("ints", True, []),  # [k_h, k_w]
    }

    # ---- shapes -------------------------------------------------------------------------------
    def _k2(self) -> int:
        kh, kw = self.a("Kernel")
        return kh * kw

    def normal_input_shape(self, i: int = 0):
        h, w = self.a("Dim")
        return (1, h, w, self._k2() * self.a("Channels"))

    def normal_output_shape(self, o: int = 0):
        h, w = self.a("Dim")
        return (1, h, w, self.a("Channels"))

    def folded_input_shape(self, i: int = 0):
        """vectorvectoractivation.py:get_folded_input_shape: (1, H, W, SF·NF, SIMD·PE)."""
        h, w = self.a("Dim")
        pe, simd = self.a("PE"), self.a("SIMD")
        return (1, h, w, (self._k2() // simd) * (self.a("Channels") // pe), simd * pe)

    def folded_output_shape(self, o: int = 0):
        h, w = self.a("Dim")
        pe = self.a("PE")
        return (1, h, w, self.a("Channels") // pe, pe)

    def input_datatype(self, i: int = 0) -> DataType:
        return self.dt("inputDataType")

    def wmem(self) -> int:
        """vectorvectoractivation.py:calc_wmem."""
        return self._k2() * self.a("Channels") // self.a("PE") // self.a("SIMD")

    def tmem(self) -> int:
        return 0 if self.a("noActivation") else self.a("Channels") // self.a("PE")

    # ---- folding ------------------------------------------------------------------------------
    def fold_targets(self) -> dict[str, int]:
        return {"PE": self.a("Channels"), "SIMD": self._k2()}

    def legal_folding(self) -> dict[str, list[int]]:
        abits, obits = self.dt("inputDataType").bitwidth(), self.dt("outputDataType").bitwidth()
        pe, simd = self.a("PE"), self.a("SIMD")
        return {"PE": [p for p in divisors(self.a("Channels")) if max(p * simd * abits, p * obits) <= AP_INT_MAX_W],
                "SIMD": [s for s in divisors(self._k2()) if pe * s * abits <= AP_INT_MAX_W]}

    def set_folding(self, target_cycles: int, mvau_wwidth_max: int = 36) -> None:
        """FINN set_folding.py for VVAU: PE walked first (SIMD 1); SIMD only once PE = Channels."""
        self.set_nodeattr("SIMD", 1)
        walk_folding(self, "PE", self.a("Channels"), target_cycles)
        if self.a("PE") == self.a("Channels"):
            walk_folding(self, "SIMD", self._k2(), target_cycles)

    def problems(self) -> list[str]:
        out = super().problems()
        if out:
            return out
        if self.a("Channels") % self.a("PE") or self._k2() % self.a("SIMD"):
            out.append(f"PE={self.a('PE')} must divide Channels={self.a('Channels')} and SIMD={self.a('SIMD')} "
                       f"must divide k_h·k_w={self._k2()}")
        n_in = 2 if self.a("noActivation") else 3
        if len(self.onnx_node.input) != n_in:
            out.append(f"{len(self.onnx_node.input)} inputs, expected {n_in} for noActivation={self.a('noActivation')}")
        if self.dt("inputDataType") == DataType["BIPOLAR"] or self.dt("weightDataType") == DataType["BIPOLAR"]:
            out.append("bipolar inputs or weights (xnor mode) are not supported by the VVAU here")
        return out

    # ---- bit widths ---------------------------------------------------------------------------
    def _weight_matrix(self, w: np.ndarray) -> np.ndarray:
        """(k_h·k_w, C): column c holds channel c's kernel in (kh, kw) order."""
        c = self.a("Channels")
        return np.asarray(w).reshape(c, self._k2()).T

    def infer_bitwidths(self, model) -> None:
        """As the MVAU: accumulator range per channel over its k_h·k_w taps, thresholds clipped to it,
        accDataType the smallest type of both, output ActVal + [0, steps] or the accumulator."""
        node = self.onnx_node
        idt = model.get_tensor_datatype(node.input[0])
        self.set_nodeattr("inputDataType", idt.name)
        lo, hi = accumulator_range(self._weight_matrix(model.get_initializer(node.input[1])),
                                   float(idt.min()), float(idt.max()))
        set_accumulator_types(self, model, lo, hi)

    # ---- execution ----------------------------------------------------------------------------
    def execute(self, inputs):
        x, w = np.asarray(inputs[0], dtype=np.float64), inputs[1]
        c, k2 = self.a("Channels"), self._k2()
        if x.shape[-1] != k2 * c or np.asarray(w).size != k2 * c:
            raise self.err(f"expected x[..., {k2 * c}] and W ({c}, 1, {self.a('Kernel')[0]}, {self.a('Kernel')[1]}), "
                           f"got {x.shape} and {np.shape(w)}")
        taps = x.reshape(x.shape[:-1] + (k2, c))
        # exact in float64: |acc| <= k2 · max|x| · max|w|, far below 2^53 for <= 8-bit types
        assert k2 * int_bound(self.dt("inputDataType"), self.dt("weightDataType")) ** 2 < 2**53
        acc = np.einsum("...kc,kc->...c", taps, self._weight_matrix(w).astype(np.float64))
        return [activate(self, acc, inputs, "Channels")]

    def onnx_values(self, ctx) -> None:
        """This node in the generated ONNX graph (hw/emulator/onnx_graph.py), equal to `execute`: on a
        depthwise SWG's windows (hw.ops._onnx_values.Window), one grouped Conv (group = Channels,
        FINN's weight layout (C, 1, k_h, k_w) as it is); otherwise the taps times the weights summed
        over the window (Mul, ReduceSum). Products and partial sums are integers below the proven
        bound (k_h·k_w·max|x|·max|w|), float32 below 2^24, else float64; the thresholds' form
        (hw.ops._onnx_values.threshold_form) has its shift and scale folded into the weights and bias,
        as the MVAU does."""
        from hw.ops._onnx_values import Monotone, OnnxUnsupported, Val, Window, exact_dtype, threshold_form

        c, k2, (kh, kw), (oh, ow) = self.a("Channels"), self._k2(), self.a("Kernel"), self.a("Dim")
        idt, odt = self.dt("inputDataType"), self.dt("outputDataType")
        w = ctx.initializer(1)
        if w is None or np.size(w) != k2 * c or not idt.is_integer():
            raise OnnxUnsupported(f"{self.name}: weights or input type without an exact ONNX form")
        wm = self._weight_matrix(np.asarray(w, dtype=np.float64))  # (k2, C)
        if not np.array_equal(wm, np.round(wm)):
            raise OnnxUnsupported(f"{self.name}: non-integer weights")
        lo, hi = accumulator_range(wm, float(idt.min()), float(idt.max()))
        b = int_bound(idt)
        bound = float(accumulator_range(np.abs(wm), -b, b)[1].max(initial=0))
        act, shift, scale = None, None, 1.0
        if self.a("noActivation"):
            if lo.min(initial=0) < odt.min() or hi.max(initial=0) > odt.max():
                raise OnnxUnsupported(f"{self.name}: accumulators beyond {odt.name} (execute reports it)")
        else:
            t = ctx.initializer(2)
            thr = None if t is None else broadcast_thresholds(np.asarray(t, dtype=np.float64), c)
            steps = np.arange((0 if thr is None else thr.shape[1]) + 1)
            values = 2 * steps - 1 if odt == DataType["BIPOLAR"] else steps + self.a("ActVal")
            if thr is None or thr.shape[0] != c or values.min() < odt.min() or values.max() > odt.max():
                raise OnnxUnsupported(f"{self.name}: thresholds without an exact ONNX form")
            act = threshold_form(thr, values, lo, hi, bound)
            shift, scale, bound = act.shift, act.scale, act.bound
        dtype = exact_dtype(bound)
        weights = wm * scale
        bias = None if shift is None else shift * scale
        lazy = ctx.lazy(0)
        win = lazy.info if lazy is not None and isinstance(lazy.info, Window) else None
        if (win is not None and dtype is np.float32 and kh == kw == win.kernel and win.channels == c
                and win.out == oh == ow):
            x = ctx.cast(ctx.layout(win.source, True), dtype)
            ins = [x.name, ctx.const(weights.T.reshape(c, 1, kh, kw), dtype)]
            ins += [] if bias is None else [ctx.const(bias, dtype)]
            z = Val(ctx.emit("Conv", ins, group=c, kernel_shape=[kh, kw], strides=[win.stride, win.stride]), dtype,
                    bound, (oh, ow, c), True)
        else:
            x = ctx.input(0)
            if x.shape != (oh, ow, k2 * c):
                raise OnnxUnsupported(f"{self.name}: input {x.shape} per frame, expected {(oh, ow, k2 * c)}")
            x = ctx.cast(x, dtype)
            taps = ctx.emit("Reshape", [x.name, ctx.const([-1, oh, ow, k2, c], np.int64)])
            prod = ctx.emit("Mul", [taps, ctx.const(weights, dtype)])
            z = ctx.emit("ReduceSum", [prod, ctx.const([3], np.int64)], keepdims=0)
            if bias is not None:
                z = ctx.emit("Add", [z, ctx.const(bias, dtype)])
            z = Val(z, dtype, bound, (oh, ow, c))
        if act is None:
            ctx.output(0, z)
        elif act.kind in ("rounding", "table") and (np.diff(values) > 0).all():
            ctx.output(0, Monotone(z, act.finish).lazy())  # a max-pool may pool z first
        else:
            ctx.output(0, act.finish(ctx, z))

    # ---- performance --------------------------------------------------------------------------
    def cycles(self) -> int:
        """vectorvectoractivation.py:get_exp_cycles: (Channels·k_h·k_w / PE / SIMD) · H · W."""
        h, w = self.a("Dim")
        return int((self.a("Channels") * self._k2()) / self.a("PE") / self.a("SIMD") * h * w)

    def token_schedule(self) -> TokenSchedule:
        """vvau.hpp: per output pixel NF·SF firings, each reading one input word (the SWG streams
        every window position of every channel group), one PE word written when sf wraps."""
        nf, sf = self.a("Channels") // self.a("PE"), self._k2() // self.a("SIMD")
        f = np.arange(nf * sf)
        h, w = self.a("Dim")
        return TokenSchedule(reads=np.ones((1, nf * sf), bool), writes=(f % sf == sf - 1)[None, :], repeats=h * w)

    # ---- resources ----------------------------------------------------------------------------
    def _wbits(self) -> int:
        return self.dt("weightDataType").bitwidth()

    def finn_impl(self) -> str:
        return "hls"  # the kernel whose formulas finn_resources implements (the handoff pins it)

    def finn_impl_choice(self, part: str, weights=None) -> str:
        """finn-plus specialize_layers.py:_determine_impl_style without a preference: VVAU_rtl only on
        Versal (_vvu_rtl_possible: no thresholds, input <= 8 bits or a signed 9-bit one, signed weights of
        <= 8 bits) with input and weights of >= 4 bits; else VVAU_hls, the kernel our `finn` cost follows."""
        from hw.cost import finn as fc

        idt, wdt = self.dt("inputDataType"), self.dt("weightDataType")
        rtl = (idt.bitwidth() >= 4 and wdt.bitwidth() >= 4 and self.a("noActivation") == 1
               and fc.dsp_block(part) == "DSP58" and (idt.bitwidth() <= 8 or (idt.bitwidth() == 9 and idt.min() < 0))
               and wdt.bitwidth() <= 8 and wdt.min() < 0)
        return "rtl" if rtl else "hls"

    def finn_resources(self, device=None) -> Resources:
        return Resources(LUT=self._finn_lut(), DSP=self._finn_dsp(), BRAM_18K=self._finn_bram(),
                         URAM=self._finn_uram())

    def _finn_lut(self) -> int:
        """hls/vectorvectoractivation_hls.py:lut_estimation (FINN-R, Blott et al. 2018)."""
        pe, q, w = self.a("PE"), self.a("SIMD"), self._wbits()
        idt = self.dt("inputDataType")
        a = idt.bitwidth()
        mmode, mstyle = self.a("mem_mode"), self.a("ram_style")
        c2 = 0
        if (mmode == "internal_decoupled" and mstyle == "distributed") or (mmode == "internal_embedded"
                                                                            and self.wmem() <= 128):
            c2 = (pe * q * w) * math.ceil(self.wmem() / 64)
        mult_luts = 0 if self.a("resType") == "dsp" else q * (2 * math.ceil((w + a) / 6) - 1) * (w + a)
        addertree_luts = (w + a) * (2 * q - 1)
        alpha = math.log(self._k2(), 2) + w + a - 1 - int(idt.signed())
        acc_bits = min(self.dt("accDataType").bitwidth(), np.ceil(alpha + math.log(1 + pow(2, -alpha), 2) + 1))
        thr_luts = comp_luts = 0
        if self.a("noActivation") == 0:
            b = self.dt("outputDataType").bitwidth()
            thr_luts = (2**b - 1) * acc_bits * self.tmem() / 64
            comp_luts = (2**b - 1) * acc_bits
        return int(300 + 1.1 * (pe * (mult_luts + addertree_luts + acc_bits + thr_luts + comp_luts)) + c2)

    def _finn_dsp(self) -> int:
        """hls/vectorvectoractivation_hls.py:dsp_estimation."""
        if self.a("resType") != "dsp":
            return 0
        return int(self.a("PE") * np.ceil((self._wbits() + self.dt("inputDataType").bitwidth()) / 48))

    def _finn_bram(self) -> int:
        """vectorvectoractivation.py:bram_estimation."""
        omega, width = self.wmem(), self.a("SIMD") * self._wbits() * self.a("PE")
        mmode, mstyle = self.a("mem_mode"), self.a("ram_style")
        if ((mmode == "internal_decoupled" and mstyle in ("distributed", "ultra")) or (mstyle == "auto" and omega <= 128)
                or (mmode == "internal_embedded" and omega <= 128) or mmode == "external"):
            return 0
        if width == 1:
            return math.ceil(omega / 16384)
        if width == 2:
            return math.ceil(omega / 8192)
        if width <= 4:
            return math.ceil(omega / 4096) * math.ceil(width / 4)
        if width <= 9:
            return math.ceil(omega / 2048) * math.ceil(width / 8)
        if width <= 18 or omega > 512:
            return math.ceil(omega / 1024) * math.ceil(width / 16)
        return math.ceil(omega / 512) * math.ceil(width / 32)

    def _finn_uram(self) -> int:
        """vectorvectoractivation.py:uram_estimation."""
        if self.a("mem_mode") != "internal_decoupled" or self.a("ram_style") != "ultra":
            return 0
        width = self.a("SIMD") * self._wbits() * self.a("PE")
        return math.ceil(width / 72) * math.ceil(self.wmem() / 4096)

    def calibrated_resources(self, ctx: Context) -> Resources:
        """The MVAU's model on the (k_h·k_w, C) tap matrix: per-lane multipliers from the actual
        weights (PE channels × SIMD taps), an adder tree per PE, the thresholds, the weight memory of
        wmem words and an accumulator per PE when the taps take several cycles (hw/cost/calibrated.py)."""
        pe, simd = self.a("PE"), self.a("SIMD")
        w = self._weight_matrix(ctx.initializer(1, "weights"))
        thr = None if self.a("noActivation") else broadcast_thresholds(ctx.initializer(2, "thresholds"),
                                                                       self.a("Channels"))
        idt = self.dt("inputDataType")
        rom = self.a("mem_mode") != "external"
        lanes = mvau_lanes(w, pe, simd)
        lut, dsp, prod, active = P.lane_multipliers(lanes, idt.bitwidth(), self._wbits(), ctx.dsp_block,
                                                    self.a("resType"), rom)
        acc = accumulator_bits(*accumulator_range(w, int(idt.min()), int(idt.max())), thr)
        n_terms = active.reshape(pe, simd).sum(axis=1)
        tree = P.adders(P.adder_tree_bits(n_terms, prod.reshape(pe, simd).max(axis=1), acc))
        res = Resources(LUT=float(lut.sum()) + tree, DSP=float(dsp.sum()))
        if thr is not None:
            res = res + thresholds_cost(thr, pe, acc, self.dt("outputDataType").bitwidth(), "auto", rom)
        if self._k2() // simd > 1:  # an accumulator adder and register per PE
            res = res + Resources(LUT=P.adders(pe * acc), FF=pe * acc)
        if self.wmem() > 1:
            res = res + P.stored_memory(lanes.T, self._wbits(), self.a("ram_style"), rom)
        return res + streams(self, P.HLS_KERNEL_OVERHEAD)

    def energy_actions(self, ctx: NodeContext) -> list[ActionCount]:
        """MACs on the nonzero taps, one PE·SIMD weight word read per firing, threshold compares."""
        w = self._weight_matrix(ctx.initializer(1, "weights"))
        idt = self.dt("inputDataType")
        h, wd = self.a("Dim")
        vec = h * wd
        thr = None if self.a("noActivation") else ctx.initializer(2, "thresholds")
        acc = accumulator_bits(*accumulator_range(w, int(idt.min()), int(idt.max())), thr)
        nnz = int(np.count_nonzero(w))
        out = [ActionCount(Action.MULT, vec * nnz, (self._wbits(), idt.bitwidth()), "MAC multiplies"),
               ActionCount(Action.ADD, vec * nnz, (acc,), "MAC adds")]
        if self.wmem() > 1:
            out.append(ActionCount(Action.SRAM, vec * self.wmem(), (self.a("PE") * self.a("SIMD") * self._wbits(),),
                                   "weight reads"))
        if thr is not None:
            out += threshold_actions(thr, self.a("Channels"), self.a("PE"), acc, vec)
        return out

    # ---- hls4ml / RTL -------------------------------------------------------------------------
    def hls4ml_layers(self, walk, node) -> None:
        """A DepthwiseConv2D over the windows of the depthwise SWG feeding it (with an activation, a
        HilThreshold on its accumulator; builders in toolchain/backends/plan.py)."""
        if self.a("mem_mode") == "external":
            walk.refuse(node, "external weights", "use mem_mode internal_embedded or internal_decoupled "
                        "(hls4ml weights are constants)")
        activation = not self.a("noActivation")
        walk.depthwise(node, self._weight_matrix(walk.initializer(node, 1, "weights")), channels=self.a("Channels"),
                       weight_dtype=self.dt("weightDataType"), acc_dtype=self.dt("accDataType"),
                       out_dtype=self.dt("outputDataType"), folding={"PE": self.a("PE"), "SIMD": self.a("SIMD")},
                       activation=activation)
        if activation:
            walk.threshold(node, walk.initializer(node, 2, "threshold matrix"), self.a("Channels"),
                           self.dt("outputDataType"), self.a("ActVal"))

    def rtl_module(self, node, model):
        from hw.ops import rtl

        raise rtl.RtlUnsupported(f"{self.name}: the VVAU (depthwise convolution) is not supported in the RTL "
                                 "backend yet")
