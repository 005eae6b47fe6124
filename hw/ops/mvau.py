"""MVAU: matrix-vector-activation unit (FINN matrixvectoractivation.py, finn-hlslib mvau.hpp).

acc = x @ W over the last axis (binaryXnorMode: number of positions where x == W), then optional
thresholds: out[c] = sum_k [acc[c] >= T[c, k]] + ActVal (BIPOLAR outputs: 0/1 -> -1/+1).

Everything about the op lives in this class: shapes, legal foldings and FINN's SIMD-then-PE folding
walk, bit-width inference, execution, cycles and token schedule, FINN, calibrated and energy costs,
and its hls4ml mapping (Dense/Conv2D, + HilThreshold with an activation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from hw.cost import finn as fc
from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, accumulator_bits, mvau_lanes, streams, thresholds_cost
from hw.cost.energy import Action, ActionCount, threshold_actions
from hw.cost.resources import Resources
from hw.ops.base import (AP_INT_MAX_W, F64_EXACT, HWOp, accumulator_range, activate, broadcast_thresholds,
                         divisors, exact_matmul, int_bound, set_accumulator_types, walk_folding)
from hw.schedule import TokenSchedule


# the attributes MVAU and VVAU share, with FINN's names and defaults (matrixvectoractivation.py,
# vectorvectoractivation.py get_nodeattr_types), written once as swg.WINDOW_ATTRS is for the windows
MAC_ATTRS = {
    "PE": ("i", True, 0),
    "resType": ("s", False, "auto", {"auto", "lut", "dsp"}),
    "ActVal": ("i", False, 0),
    "inputDataType": ("s", True, ""),
    "weightDataType": ("s", True, ""),
    "outputDataType": ("s", True, ""),
    "accDataType": ("s", False, "INT32"),
    "noActivation": ("i", False, 0, {0, 1}),
    "mem_mode": ("s", False, "internal_decoupled", {"internal_embedded", "internal_decoupled", "external"}),
    "ram_style": ("s", False, "auto", {"auto", "block", "distributed", "ultra"}),
}


class MVAU(HWOp):
    FINN_NAME = "MVAU"
    FINN_OP_TYPES = ("MVAU", "MatrixVectorActivation")
    FINN_CONFIG_ATTRS = ("PE", "SIMD", "ram_style", "ram_style_thresholds", "resType", "mem_mode",
                         "runtime_writeable_weights")
    INIT_DTYPE_ATTRS = {1: "weightDataType", 2: "accDataType"}
    FINN_VARIANTS = ("hls", "rtl")  # FINN picks per node (finn_impl_choice); the `finn` cost is the HLS kernel's
    ATTRS = {
        **MAC_ATTRS,
        "SIMD": ("i", True, 0),
        "MW": ("i", True, 0),
        "MH": ("i", True, 0),
        "binaryXnorMode": ("i", False, 0, {0, 1}),
        "numInputVectors": ("ints", False, [1]),
        "ram_style_thresholds": ("s", False, "auto", {"auto", "block", "distributed"}),
        "runtime_writeable_weights": ("i", False, 0, {0, 1}),
    }

    # ---- shapes -------------------------------------------------------------------------------
    def _vec(self) -> tuple[int, ...]:
        return tuple(self.a("numInputVectors"))

    def n_stream_inputs(self) -> int:
        return 2 if self.a("mem_mode") == "external" else 1

    def normal_input_shape(self, i: int = 0):
        if i == 1:  # external weight stream
            return (1, self.a("MW") * self.a("MH") // (self.a("PE") * self.a("SIMD")), self.a("PE") * self.a("SIMD"))
        return self._vec() + (self.a("MW"),)

    def normal_output_shape(self, o: int = 0):
        return self._vec() + (self.a("MH"),)

    def folded_input_shape(self, i: int = 0):
        if i == 1:
            return self.normal_input_shape(1)
        simd = self.a("SIMD")
        return self._vec() + (self.a("MW") // simd, simd)

    def folded_output_shape(self, o: int = 0):
        pe = self.a("PE")
        return self._vec() + (self.a("MH") // pe, pe)

    def input_datatype(self, i: int = 0) -> DataType:
        return self.dt("weightDataType") if i == 1 else self.dt("inputDataType")

    def weightstream_width(self) -> int:
        if self.a("mem_mode") in ("internal_decoupled", "external"):
            return self.a("PE") * self.a("SIMD") * self.dt("weightDataType").bitwidth()
        return 0

    def wmem(self) -> int:
        return self.a("MW") * self.a("MH") // (self.a("PE") * self.a("SIMD"))

    def tmem(self) -> int:
        return 0 if self.a("noActivation") else self.a("MH") // self.a("PE")

    def ap_int_max_w(self) -> int:
        single_pe_w = self.a("SIMD") * self.dt("weightDataType").bitwidth()
        return max(self.instream_width(), self.outstream_width(), self.weightstream_width(), single_pe_w)

    # ---- checks -------------------------------------------------------------------------------
    def fold_targets(self) -> dict[str, int]:
        return {"PE": self.a("MH"), "SIMD": self.a("MW")}

    def problems(self) -> list[str]:
        out = super().problems()
        if out:
            return out
        if self.ap_int_max_w() > AP_INT_MAX_W:
            out.append(f"stream width {self.ap_int_max_w()} bits exceeds the HLS limit of {AP_INT_MAX_W} "
                       f"(PE={self.a('PE')}, SIMD={self.a('SIMD')})")
        odt = self.dt("outputDataType")
        n_in = 2 if self.a("noActivation") else 3
        if len(self.onnx_node.input) != n_in:
            out.append(f"{len(self.onnx_node.input)} inputs, expected {n_in} (x, W{', T' if n_in == 3 else ''}) "
                       f"for noActivation={self.a('noActivation')}")
        if self.a("binaryXnorMode"):
            for attr in ("inputDataType", "weightDataType"):
                if self.dt(attr).name not in ("BIPOLAR", "BINARY"):
                    out.append(f"binaryXnorMode=1 needs a BIPOLAR {attr}, got {self.dt(attr).name}")
        if odt == DataType["BIPOLAR"] and not self.a("noActivation") and self.a("ActVal") not in (0, -1):
            out.append(f"ActVal={self.a('ActVal')} with a BIPOLAR output (must be 0 or -1)")
        return out

    def legal_folding(self) -> dict[str, list[int]]:
        """Divisors of MH (PE) and MW (SIMD) whose streams stay within 8191 bits, the other
        folding factor held at its current value."""
        pe, simd = self.a("PE"), self.a("SIMD")
        abits, wbits = self.dt("inputDataType").bitwidth(), self.dt("weightDataType").bitwidth()
        obits = self.dt("outputDataType").bitwidth()
        weight_stream = self.a("mem_mode") in ("internal_decoupled", "external")

        def width(p: int, s: int) -> int:
            return max(s * abits, p * obits, s * wbits, p * s * wbits if weight_stream else 0)

        return {"PE": [p for p in divisors(self.a("MH")) if width(p, simd) <= AP_INT_MAX_W],
                "SIMD": [s for s in divisors(self.a("MW")) if width(pe, s) <= AP_INT_MAX_W]}

    def set_folding(self, target_cycles: int, mvau_wwidth_max: int = 36) -> None:
        """FINN set_folding.py for MVAU: SIMD walked up first (reverted once weight bits·SIMD exceeds
        mvau_wwidth_max), then PE."""
        self.set_nodeattr("PE", 1)
        self.set_nodeattr("SIMD", 1)
        wbits = self.dt("weightDataType").bitwidth()
        for simd in self.legal_folding()["SIMD"]:
            prev = self.a("SIMD")
            self.set_nodeattr("SIMD", simd)
            if self.cycles() < target_cycles:
                break
            if wbits * simd > mvau_wwidth_max:
                self.set_nodeattr("SIMD", prev)
                break
        walk_folding(self, "PE", self.a("MH"), target_cycles)

    # ---- bit widths ---------------------------------------------------------------------------
    def accumulator_range(self, w: np.ndarray, idt: DataType = None) -> tuple[np.ndarray, np.ndarray]:
        """Per output channel (lo, hi) of the accumulator for inputs of `idt` (default
        inputDataType); XNOR mode: the popcount range [0, MW]."""
        if self.a("binaryXnorMode"):
            return np.zeros(w.shape[1]), np.full(w.shape[1], float(w.shape[0]))
        idt = self.dt("inputDataType") if idt is None else idt
        return accumulator_range(w, float(idt.min()), float(idt.max()))

    def infer_bitwidths(self, model) -> None:
        """FINN minimize_accumulator_width / RoundAndClipThresholds: the accumulator range per output
        channel from the weights and the input type; thresholds clipped to [lo_c, hi_c + 1];
        accDataType = the smallest type holding the accumulator and the thresholds, which carry it;
        outputs ActVal + [0, numSteps] (BIPOLAR stays), or the accumulator type without thresholds."""
        node = self.onnx_node
        idt = model.get_tensor_datatype(node.input[0])
        self.set_nodeattr("inputDataType", idt.name)
        lo, hi = self.accumulator_range(model.get_initializer(node.input[1]), idt)
        set_accumulator_types(self, model, lo, hi)

    # ---- execution ----------------------------------------------------------------------------
    def execute(self, inputs):
        x, w = inputs[0], inputs[1]
        mw, mh = self.a("MW"), self.a("MH")
        per_sample = self._vec()[1:] + (mw,)
        if x.shape[1:] != per_sample and x[:1].size == int(np.prod(per_sample)):
            # a flattened feature map feeds a dense layer: FINN's cppsim reads the stream in
            # (numInputVectors, MW) order whatever the tensor's shape
            x = x.reshape((len(x),) + per_sample)
        if x.shape[-1] != mw or tuple(w.shape) != (mw, mh):
            raise self.err(f"expected x[..., {mw}] and W ({mw}, {mh}), got {x.shape} and {w.shape}")
        if self.a("binaryXnorMode"):
            xb = (x > 0).astype(np.float64)
            wb = (w > 0).astype(np.float64)
            matches = exact_matmul(xb, wb, mw)  # popcount of x AND w: one GEMM over all rows
            acc = 2.0 * matches + mw - xb.sum(axis=-1, keepdims=True) - wb.sum(axis=0)
        else:
            bound = mw * int_bound(self.dt("inputDataType")) * int_bound(self.dt("weightDataType"))
            acc = exact_matmul(x, w, bound)
        return [activate(self, acc, inputs, "MH", hint="; widen outputDataType/accDataType")]

    def _fast_form(self, model) -> "_FastForm | None":
        """What both fast values paths compute (compile_values, onnx_values), or None where only
        `execute` may run: one GEMM x' @ wk in a float dtype chosen from the proven accumulator bound
        (sum_i |W_ij| · max|x|, hw.ops.base.accumulator_range: float32 below 2^24, float64 below 2^53,
        every partial sum exact in any order), then the thresholds or a bias. XNOR: popcount(x == w) =
        xb @ (2wb - 1) + (MW - sum wb), the constant folded into the thresholds; BIPOLAR inputs (±1)
        skip the xb pass: popcount = (x @ (2wb - 1) + MW) / 2, so popcount >= t <=> x @ (2wb - 1) >=
        2·ceil(t) - MW."""
        from hw.ops._threshold_kernel import F32_EXACT

        node, mw, mh = self.onnx_node, self.a("MW"), self.a("MH")
        idt, odt = self.dt("inputDataType"), self.dt("outputDataType")
        w = model.get_initializer(node.input[1])
        if self.n_stream_inputs() != 1 or w is None or tuple(w.shape) != (mw, mh) or not idt.is_integer():
            return None
        w = np.asarray(w, dtype=np.float64)
        if not np.array_equal(w, np.round(w)):
            return None
        xnor = bool(self.a("binaryXnorMode"))
        pm = False  # xnor on BIPOLAR inputs: the ±1 values enter the GEMM as they are
        gemm_in = (float(idt.min()), float(idt.max()))
        if xnor:
            wb = (w > 0).astype(np.float64)
            wk, bias, bound = 2.0 * wb - 1.0, mw - wb.sum(axis=0), mw
            pm = idt == DataType["BIPOLAR"] and not self.a("noActivation")
            gemm_in = (-1.0, 1.0) if pm else (0.0, 1.0)
        else:
            b = int_bound(idt)
            wk, bias, bound = w, None, int(accumulator_range(np.abs(w), -b, b)[1].max(initial=0))
        if bound >= F64_EXACT:
            return None
        dtype = np.float32 if bound < F32_EXACT else np.float64
        thr = values = None
        if self.a("noActivation"):
            lo, hi = self.accumulator_range(w)
            if lo.min(initial=0) < odt.min() or hi.max(initial=0) > odt.max():
                return None  # execute reports the overflow when it happens
        else:
            if len(node.input) < 3 or model.get_initializer(node.input[2]) is None:
                return None
            thr = broadcast_thresholds(np.asarray(model.get_initializer(node.input[2]), dtype=np.float64), mh)
            if thr.shape[0] != mh:
                return None
            steps = np.arange(thr.shape[1] + 1)
            values = 2 * steps - 1 if odt == DataType["BIPOLAR"] else steps + self.a("ActVal")
            if values.min() < odt.min() or values.max() > odt.max():
                return None
            if pm:
                thr, bias = 2.0 * np.ceil(thr) - mw, None
            elif bias is not None:
                thr, bias = thr - bias[:, None], None  # acc >= t  <=>  xb @ wk >= t - bias
        return _FastForm(wk, bias, bound, dtype, thr, values, xnor and not pm, gemm_in)

    def compile_values(self, model):
        """The compiled plan's kernel (hw/emulator/plan.py), equal to `execute`: the GEMM of _fast_form
        in its dtype, then the thresholds (hw.ops._threshold_kernel.threshold_kernel: compare-and-sum
        or a lookup table), fused per block of rows sized to the L2 cache (BLOCK_VALUES). Anything
        else runs `execute`."""
        from hw.ops._threshold_kernel import BLOCK_VALUES, threshold_kernel

        generic = super().compile_values(model)
        form = self._fast_form(model)
        if form is None:
            return generic
        mw, mh = self.a("MW"), self.a("MH")
        dtype, bias, xnor, pm = form.dtype, form.bias, form.binarize, False
        wk = np.ascontiguousarray(form.wk, dtype=dtype)
        if form.thr is None:
            act = None
            bias = None if bias is None else bias.astype(dtype)
        else:
            act = threshold_kernel(form.thr, mh, form.values, bound=form.bound)
        per_sample = self._vec()[1:] + (mw,)
        per_size = math.prod(per_sample)
        block = max(1, BLOCK_VALUES // max(mw, mh))
        out_dtype = dtype if act is None else act.out_dtype
        apply = None if act is None else act.blocked(block)
        if bias is not None:  # tiled to the block: one contiguous add (see ThresholdTable.blocked)
            bias = np.tile(bias.astype(dtype), (block, 1))

        def run(ins: list[np.ndarray]) -> list[np.ndarray]:
            x = ins[0]
            shape = x.shape
            if shape[1:] != per_sample and x[:1].size == per_size:
                shape = (len(x),) + per_sample  # a flattened feature map feeding a dense layer (execute)
            elif shape[-1] != mw:
                return generic(ins)  # execute names the shape error
            flat = x.reshape(-1, mw)
            rows = len(flat)
            out = np.empty((rows, mh), dtype=out_dtype)
            xb = np.empty((min(block, rows), mw), dtype=dtype)
            acc = np.empty((min(block, rows), mh), dtype=dtype)
            for i in range(0, rows, block):
                n = min(block, rows - i)
                if xnor and not pm:
                    np.copyto(xb[:n], flat[i:i + n] > 0, casting="unsafe")
                else:
                    np.copyto(xb[:n], flat[i:i + n], casting="unsafe")
                a = out[i:i + n] if act is None else acc[:n]
                np.matmul(xb[:n], wk, out=a)
                if bias is not None:
                    a += bias[:n]
                if apply is not None:
                    apply(a, out[i:i + n])
            return [out.reshape(shape[:-1] + (mh,))]

        return run

    def onnx_values(self, ctx) -> None:
        """This node in the generated ONNX graph (hw/emulator/onnx_graph.py), equal to `execute`: the
        GEMM of _fast_form as one MatMul (x' = Greater(x, 0) for XNOR on 0/1 inputs), or, when the
        input is an SWG's windows (hw.ops._onnx_values.Window), as one Conv on the SWG's input: the
        im2col order (kh, kw, C) of W's rows is the Conv weight (MH, C, kh, kw) transposed, and a Conv
        output pixel is the same sum of the same integer products. The thresholds' form
        (hw.ops._onnx_values.threshold_form, on the proven per-channel range of the accumulator) has
        its shift and power-of-two scale folded into the GEMM's weights and bias (every product and
        partial sum is an integer below the bound times the scale: exact); the dtype is float32 when
        the bound with the shift is below 2^24, else float64."""
        from hw.ops._onnx_values import Monotone, OnnxUnsupported, Val, Window, exact_dtype, threshold_form

        form = self._fast_form(ctx.model)
        if form is None:
            raise OnnxUnsupported(f"{self.name}: no exact fast form (weights, thresholds or outputs checked "
                                  "by MVAU._fast_form)")
        mw, mh = self.a("MW"), self.a("MH")
        lo, hi = accumulator_range(form.wk, *form.gemm_in)  # x' @ wk per output channel
        act = None
        if form.thr is not None:
            act = threshold_form(form.thr, form.values, lo, hi, float(form.bound))
            shift, scale, bound = act.shift, act.scale, act.bound
        else:
            shift, scale = form.bias, 1.0
            bound = float(form.bound) + (0.0 if shift is None else float(np.abs(shift).max(initial=0)))
        dtype = exact_dtype(bound)
        weights = form.wk * scale
        bias = None if shift is None else shift * scale
        per_sample = self._vec()[1:] + (mw,)
        lazy = ctx.lazy(0)
        win = lazy.info if lazy is not None and isinstance(lazy.info, Window) else None
        if win is not None and dtype is np.float32 and win.kernel ** 2 * win.channels == mw:
            x = ctx.layout(win.source, True)
            if form.binarize:
                x = Val(ctx.emit("Cast", [ctx.emit("Greater", [x.name, ctx.const(0.0, x.dtype)])], to=1),
                        np.float32, 1.0, x.shape, True)  # to=1: FLOAT
            x = ctx.cast(x, dtype)
            k = win.kernel
            w4 = weights.reshape(k, k, win.channels, mh).transpose(3, 2, 0, 1)  # (MH, C, kh, kw)
            ins = [x.name, ctx.const(w4, dtype)] + ([] if bias is None else [ctx.const(bias, dtype)])
            z = Val(ctx.emit("Conv", ins, kernel_shape=[k, k], strides=[win.stride, win.stride]), dtype, bound,
                    (win.out, win.out, mh), True)
        else:
            x = ctx.input(0)
            if x.shape != per_sample:
                if math.prod(x.shape) != math.prod(per_sample):  # execute's flattened feature map, or an error
                    raise OnnxUnsupported(f"{self.name}: input {x.shape} per frame, expected {per_sample}")
                x = Val(ctx.emit("Reshape", [x.name, ctx.const((-1,) + per_sample, np.int64)]), x.dtype, x.bound,
                        per_sample)
            if form.binarize:
                x = Val(ctx.emit("Cast", [ctx.emit("Greater", [x.name, ctx.const(0.0, x.dtype)])], to=1),
                        np.float32, 1.0, x.shape)
            x = ctx.cast(x, dtype)
            z = ctx.emit("MatMul", [x.name, ctx.const(weights, dtype)])
            if bias is not None:  # onnxruntime fuses it into a Gemm's bias (MatMulAddFusion)
                z = ctx.emit("Add", [z, ctx.const(bias, dtype)])
            z = Val(z, dtype, bound, per_sample[:-1] + (mh,))
        if act is None:
            ctx.output(0, z)
        elif act.kind in ("rounding", "table") and (np.diff(form.values) > 0).all():
            ctx.output(0, Monotone(z, act.finish).lazy())  # a max-pool may pool z first (Monotone)
        else:  # clip: fused into the Conv by onnxruntime, cheapest where it is
            ctx.output(0, act.finish(ctx, z))

    # ---- performance --------------------------------------------------------------------------
    def cycles(self) -> int:
        """matrixvectoractivation.py:get_exp_cycles: (MH/PE)·(MW/SIMD)·prod(numInputVectors)."""
        return (self.a("MH") // self.a("PE")) * (self.a("MW") // self.a("SIMD")) * math.prod(self._vec())

    def token_schedule(self) -> TokenSchedule:
        """mvau.hpp: NF·SF firings per vector; input words read only while nf == 0 (first SF
        firings), one PE word written when sf wraps; external weights read every firing."""
        nf, sf = self.a("MH") // self.a("PE"), self.a("MW") // self.a("SIMD")
        period = nf * sf
        f = np.arange(period)
        reads = [f < sf]
        if self.n_stream_inputs() == 2:
            reads.append(np.ones(period, dtype=bool))
        writes = (f % sf == sf - 1)[None, :]
        return TokenSchedule(reads=np.array(reads), writes=writes, repeats=math.prod(self._vec()))

    # ---- resources ----------------------------------------------------------------------------
    def _cost_idt(self) -> DataType:
        # FINN's xnor-mode MVAU carries a BINARY input (InferBinaryMatrixVectorActivation)
        return DataType["BINARY"] if self.a("binaryXnorMode") else self.dt("inputDataType")

    def _cost_wdt(self) -> DataType:
        # FINN stores ±1 weights of a non-xnor MVAU as INT2: step_minimize_bit_width's
        # MinimizeWeightBitWidth (matrixvectoractivation.py:minimize_weight_bit_width) gives
        # get_smallest_possible(-2); only the xnor kernel keeps 1-bit weights
        if self.dt("weightDataType") == DataType["BIPOLAR"] and not self.a("binaryXnorMode"):
            return DataType["INT2"]
        return self.dt("weightDataType")

    def _mem_args(self):
        return (self.a("PE"), self.a("SIMD"), self._cost_wdt().bitwidth(), self.a("MW"), self.a("MH"),
                self.a("mem_mode"), self.a("ram_style"))

    def bram_efficiency(self) -> float:
        payload = self._cost_wdt().bitwidth() * self.a("MW") * self.a("MH")
        return fc.bram_efficiency(payload, fc.mvau_bram18(*self._mem_args()))

    def finn_impl(self) -> str:
        return "hls"  # the kernel whose formulas finn_resources implements (the handoff pins it)

    def finn_impl_choice(self, part: str, weights=None) -> str:
        """finn-plus specialize_layers.py:_determine_impl_style without a preference: MVAU_rtl when the
        input and the weights have >= 4 bits and _mvu_rtl_possible holds (no thresholds, not xnor, signed
        weights, on a DSP48E1 part narrow-range ones -- the smallest weight above the type's minimum --,
        input, weights and accumulator within the DSP datapath), else MVAU_hls. Our `finn` cost is the
        HLS kernel's (finn_impl): the handoff pins every MVAU to it."""
        idt, wdt = self.dt("inputDataType"), self._cost_wdt()
        if idt.bitwidth() < 4 or wdt.bitwidth() < 4 or not self.a("noActivation") or self.a("binaryXnorMode"):
            return "hls"
        if not wdt.signed():
            return "hls"
        block = fc.dsp_block(part)
        low = wdt.min() if weights is None else float(np.min(weights))
        if low == wdt.min() and block == "DSP48E1":
            return "hls"
        act, wbits, acc = fc.DSP_DATAPATH[block]
        fits = (idt.bitwidth() - (1 if idt.signed() else 0)) < act and wdt.bitwidth() <= wbits and \
            self.dt("outputDataType").bitwidth() <= acc
        return "rtl" if fits else "hls"

    def finn_resources(self, device=None) -> Resources:
        idt, wdt = self._cost_idt(), self._cost_wdt()
        lut = fc.mvau_lut_hls(pe=self.a("PE"), simd=self.a("SIMD"), wbits=wdt.bitwidth(), abits=idt.bitwidth(),
                              mw=self.a("MW"), mh=self.a("MH"), input_signed=idt.signed(),
                              acc_dtype_bits=self.dt("accDataType").bitwidth(), mem_mode=self.a("mem_mode"),
                              ram_style=self.a("ram_style"), res_type=self.a("resType"),
                              no_activation=self.a("noActivation"),
                              ram_style_thresholds=self.a("ram_style_thresholds"),
                              out_bits=self.dt("outputDataType").bitwidth())
        dsp = fc.mvau_dsp_hls(self.a("PE"), self.a("SIMD"), wdt.bitwidth(), idt.bitwidth(), self.a("resType"))
        return Resources(LUT=lut, DSP=dsp, BRAM_18K=fc.mvau_bram18(*self._mem_args()),
                         URAM=fc.mvau_uram(*self._mem_args()))

    def calibrated_resources(self, ctx: Context) -> Resources:
        """Per-lane multipliers from the actual weights, the adder tree and its pipeline, thresholds,
        accumulators, weight memory and input buffer (hw/cost/calibrated.py)."""
        pe, simd, mh = self.a("PE"), self.a("SIMD"), self.a("MH")
        w = ctx.initializer(1, "weights")
        thr = None if self.a("noActivation") else broadcast_thresholds(ctx.initializer(2, "thresholds"), mh)
        idt, wdt = self.dt("inputDataType"), self.dt("weightDataType")
        xnor = bool(self.a("binaryXnorMode"))
        rom = self.a("mem_mode") != "external" and not self.a("runtime_writeable_weights")
        a_bits, w_bits = (1, 1) if xnor else (idt.bitwidth(), wdt.bitwidth())
        lanes = mvau_lanes(w, pe, simd)
        if xnor:  # XNOR folds into the first popcount level; every lane is active
            lut = dsp = np.zeros(pe * simd)
            prod, active = np.ones(pe * simd, dtype=np.int64), np.ones(pe * simd, dtype=bool)
            acc = accumulator_bits(*accumulator_range((w > 0).astype(np.int64), 0, 1), thr)
        else:
            lut, dsp, prod, active = P.lane_multipliers(lanes, a_bits, w_bits, ctx.dsp_block, self.a("resType"), rom)
            acc = accumulator_bits(*accumulator_range(w, int(idt.min()), int(idt.max())), thr)
        n_terms = active.reshape(pe, simd).sum(axis=1)
        tree = P.adders(P.adder_tree_bits(n_terms, prod.reshape(pe, simd).max(axis=1), acc))
        mult_levels = P.DSP_MULT_LEVELS if dsp.any() else 1  # fabric multipliers: ~1 adder level (assumed)
        res = Resources(LUT=float(lut.sum()) + tree, DSP=float(dsp.sum()),
                        FF=P.tree_pipeline_ff(n_terms, acc, ctx.clock_ns, mult_levels))
        if thr is not None:
            res = res + thresholds_cost(thr, pe, acc, self.dt("outputDataType").bitwidth(),
                                        self.a("ram_style_thresholds"), rom)
        stored = (lanes > 0).astype(np.int64) if wdt.name == "BIPOLAR" else lanes  # BIPOLAR: 1 bit, 1 = +1
        return res + self._calibrated_state(stored, w_bits, a_bits, acc, rom) + streams(self, P.HLS_KERNEL_OVERHEAD)

    def _calibrated_state(self, stored: np.ndarray, w_bits: int, a_bits: int, acc: int, rom: bool) -> Resources:
        """Accumulators, the weight memory and the input buffer of a folded MVAU."""
        pe, simd = self.a("PE"), self.a("SIMD")
        nf, sf = self.a("MH") // pe, self.a("MW") // simd
        res = Resources()
        if sf > 1:  # an accumulator adder and register per PE; inputBuf[SF] replayed for every nf (mvau.hpp)
            res = res + Resources(LUT=P.adders(pe * acc), FF=pe * acc) + P.memory(simd * a_bits, sf, "auto")
        if self.a("mem_mode") != "external" and nf * sf > 1:
            res = res + P.stored_memory(stored.T, w_bits, self.a("ram_style"), rom)
        return res

    def rtl_structure(self, ctx: NodeContext):
        """The calibrated model's `rtl` profile: hil_mvau.sv as this op instantiates it (rtl_module),
        mapped by Yosys' rules (hw/cost/rtl.py)."""
        from hw.cost import rtl as rtl_cost

        m = self.rtl_module(ctx.node, ctx.model)
        files = m.mem_files
        return rtl_cost.mvau(m.params, rtl_cost.words_of(files[m.params["WEIGHT_FILE"]]),
                             rtl_cost.words_of(files[m.params["THRESH_FILE"]]) if m.params["THRESH_FILE"] else [])

    # ---- energy -------------------------------------------------------------------------------
    def energy_actions(self, ctx: NodeContext) -> list[ActionCount]:
        """MACs on the nonzero weights (XNOR: popcount adds), weight-memory reads per firing, the
        input buffer replayed for every nf, and the threshold compares."""
        w = ctx.initializer(1, "weights")
        pe, simd, mw, mh = self.a("PE"), self.a("SIMD"), self.a("MW"), self.a("MH")
        nf, sf, vec = mh // pe, mw // simd, math.prod(self._vec())
        idt, wdt = self.dt("inputDataType"), self.dt("weightDataType")
        thr = None if self.a("noActivation") else ctx.initializer(2, "thresholds")
        if self.a("binaryXnorMode"):
            acc = accumulator_bits(*accumulator_range((w > 0).astype(np.int64), 0, 1), thr)
            out = [ActionCount(Action.ADD, vec * w.size, (1,), "xnor-popcount")]
            a_bits = w_bits = 1
        else:
            acc = accumulator_bits(*accumulator_range(w, int(idt.min()), int(idt.max())), thr)
            a_bits, w_bits = idt.bitwidth(), wdt.bitwidth()
            nnz = int(np.count_nonzero(w))  # zero weights are skipped
            out = [ActionCount(Action.MULT, vec * nnz, (w_bits, a_bits), "MAC multiplies"),
                   ActionCount(Action.ADD, vec * nnz, (acc,), "MAC adds")]
        firings = vec * nf * sf
        if nf * sf > 1:  # one PE·SIMD weight word per firing
            mem = Action.DRAM if self.a("mem_mode") == "external" else Action.SRAM
            out.append(ActionCount(mem, firings, (pe * simd * w_bits,), "weight reads"))
        if sf > 1 and nf > 1:  # inputBuf: written once per vector, replayed for every nf
            out += [ActionCount(Action.SRAM, vec * sf, (simd * a_bits,), "input buffer writes"),
                    ActionCount(Action.SRAM, firings, (simd * a_bits,), "input buffer reads")]
        if thr is not None:
            out += threshold_actions(thr, mh, pe, acc, vec)
        return out

    # ---- hls4ml -------------------------------------------------------------------------------
    def hls4ml_layers(self, walk, node) -> None:
        """A Dense (Conv2D after an SWG, Conv2D 1x1 for numInputVectors=[1, H, W], Reshape + Dense for a
        dense layer after a feature map) with the integer weights, and with an activation a HilThreshold
        on its accumulator (builders in toolchain/backends/plan.py)."""
        if self.a("mem_mode") == "external" or self.a("runtime_writeable_weights"):
            walk.refuse(node, "external or runtime-writeable weights", "use mem_mode internal_embedded or "
                        "internal_decoupled with runtime_writeable_weights=0 (hls4ml weights are constants)")
        activation = not self.a("noActivation")
        walk.dense(node, walk.initializer(node, 1, "weight matrix"), mw=self.a("MW"), mh=self.a("MH"),
                   weight_dtype=self.dt("weightDataType"), acc_dtype=self.dt("accDataType"),
                   out_dtype=self.dt("outputDataType"), xnor=bool(self.a("binaryXnorMode")),
                   input_vectors=list(self.a("numInputVectors")), folding={"PE": self.a("PE"), "SIMD": self.a("SIMD")},
                   activation=activation)
        if activation:
            walk.threshold(node, walk.initializer(node, 2, "threshold matrix"), self.a("MH"),
                           self.dt("outputDataType"), self.a("ActVal"))

    # ---- RTL ----------------------------------------------------------------------------------
    def rtl_module(self, node, model):
        """hw/ops/rtl/hil_mvau.sv with this folding: weight word nf*SF+sf holds lane (pe, s) =
        W[sf*SIMD+s, nf*PE+pe]; threshold word nf holds T[nf*PE+pe, k] at the accumulator width."""
        from hw.ops import rtl

        if self.a("mem_mode") == "external" or self.a("runtime_writeable_weights"):
            raise rtl.RtlUnsupported(f"{self.name}: external or runtime-writeable weights have no RTL template; "
                                     "use mem_mode internal_embedded or internal_decoupled")
        pe, simd, mw, mh = self.a("PE"), self.a("SIMD"), self.a("MW"), self.a("MH")
        nf, sf = mh // pe, mw // simd
        idt, wdt, odt = self.dt("inputDataType"), self.dt("weightDataType"), self.dt("outputDataType")
        w = np.asarray(model.get_initializer(node.input[1]), dtype=np.float64)
        lo, hi = self.accumulator_range((w > 0).astype(np.int64) if self.a("binaryXnorMode") else w.astype(np.int64))
        thr = None
        if not self.a("noActivation"):
            thr = broadcast_thresholds(np.asarray(model.get_initializer(node.input[2]), dtype=np.float64), mh)
        lo_all = min(float(lo.min()), 0.0, float(thr.min()) if thr is not None else 0.0)
        hi_all = max(float(hi.max()), 0.0, float(thr.max()) if thr is not None else 0.0)
        acc_w = rtl.signed_bits(lo_all, hi_all) + 1  # +1: partial sums, headroom (lanes of any sign)
        wbits = 1 if self.a("binaryXnorMode") else wdt.bitwidth()
        # (nf, sf, pe, s) lanes of the weight memory
        lanes = w.reshape(sf, simd, nf, pe).transpose(2, 0, 3, 1).reshape(nf * sf, pe * simd)
        wpat = rtl.encode(lanes, DataType["BIPOLAR"] if self.a("binaryXnorMode") else wdt)
        files = {f"{node.name}_weights.mem": rtl.memh(rtl.pack(wpat, wbits), pe * simd * wbits)}
        params = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd,
                  "IBITS": 1 if self.a("binaryXnorMode") else idt.bitwidth(), "IN_MODE": rtl.mode(idt),
                  "WBITS": wbits, "W_MODE": rtl.mode(wdt), "XNOR": int(self.a("binaryXnorMode")), "ACC_W": acc_w,
                  "HAS_THR": int(thr is not None), "NSTEPS": thr.shape[1] if thr is not None else 1,
                  "ACT_VAL": 0 if odt == DataType["BIPOLAR"] else int(self.a("ActVal")),
                  "OBITS": odt.bitwidth(), "WEIGHT_FILE": f"{node.name}_weights.mem",
                  "THRESH_FILE": f"{node.name}_thresholds.mem" if thr is not None else ""}
        if thr is not None:
            tpat = rtl.signed_patterns(thr.reshape(nf, pe * thr.shape[1]), acc_w)
            files[f"{node.name}_thresholds.mem"] = rtl.memh(rtl.pack(tpat, acc_w), pe * thr.shape[1] * acc_w)
        return rtl.RtlModule("hil_mvau", params, (self.instream_width(),), (self.outstream_width(),), files)


@dataclass(frozen=True)
class _FastForm:
    """MVAU._fast_form: acc = x' @ wk (+ bias), x' = x, or (x > 0) when `binarize`; thresholds on acc."""

    wk: np.ndarray  # (MW, MH) integers
    bias: np.ndarray | None  # (MH,) added to the accumulator (no thresholds: they hold it folded in)
    bound: int  # max |partial sum| of x' @ wk
    dtype: type  # float32 / float64: every partial sum exact
    thr: np.ndarray | None  # (MH, S) on acc, or None (noActivation)
    values: np.ndarray | None  # output of count n: values[n]
    binarize: bool
    gemm_in: tuple[float, float]  # range of x' entering the GEMM
