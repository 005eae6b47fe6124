"""Thresholding: standalone multi-threshold activation (FINN thresholding.py, hls/thresholding_hls.py).

out[..., c] = sum_k [x[..., c] >= T[c, k]] + ActVal; a BIPOLAR output maps 0/1 to -1/+1.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from qonnx.core.datatype import DataType

from hw.cost import finn as fc
from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, streams, thresholds_cost
from hw.cost.energy import ActionCount, threshold_actions
from hw.cost.resources import Resources
from hw.ops.base import (AP_INT_MAX_W, ChannelStreamOp, apply_thresholds, broadcast_thresholds, clip_thresholds,
                         dtype_for_range, int_bound, threshold_output_dtype)
from hw.schedule import TokenSchedule, streaming


class Thresholding(ChannelStreamOp):
    FINN_NAME = "Thresholding"
    FINN_OP_TYPES = ("Thresholding",)
    FINN_CONFIG_ATTRS = ("PE", "ram_style", "mem_mode")  # Thresholding_hls's; Thresholding_rtl has only PE
    FINN_VARIANTS = ("hls", "rtl")  # SpecializeLayers picks Thresholding_rtl without a preference
    INIT_DTYPE_ATTRS = {1: "inputDataType"}  # before InferBitWidths sets weightDataType
    ATTRS = {
        "NumChannels": ("i", True, 0),
        "PE": ("i", False, 1),
        "numSteps": ("i", True, 1),
        "inputDataType": ("s", True, ""),
        "weightDataType": ("s", False, ""),  # threshold datatype (FINN); defaults to inputDataType
        "outputDataType": ("s", True, ""),
        "ActVal": ("i", False, 0),
        "numInputVectors": ("ints", False, [1]),
        "ram_style": ("s", False, "distributed", {"distributed", "block"}),
        "mem_mode": ("s", False, "internal_decoupled", {"internal_embedded", "internal_decoupled"}),
        "runtime_writeable_weights": ("i", False, 0, {0, 1}),
        # the FINN kernel the `finn` cost follows: FINN's own default, the RTL one (rtl/thresholding_rtl.py;
        # "hls": hls/thresholding_hls.py, ram_style and mem_mode apply to it only)
        "preferred_impl_style": ("s", False, "rtl", {"hls", "rtl"}),
    }

    def finn_config_attrs(self) -> tuple[str, ...]:
        """What a FINN folding config sets on the variant of this node (Thresholding_rtl has no
        ram_style or mem_mode: ApplyConfig would fail on them)."""
        return ("PE",) if self.a("preferred_impl_style") == "rtl" else self.FINN_CONFIG_ATTRS

    def weightstream_width(self) -> int:
        """hls/thresholding_hls.py: PE·threshold bits·numSteps in internal_decoupled mode."""
        if self.a("mem_mode") != "internal_decoupled":
            return 0
        tdt = self.dt("weightDataType") if self.a("weightDataType") else self.dt("inputDataType")
        return self.a("PE") * tdt.bitwidth() * self.a("numSteps")

    def problems(self) -> list[str]:
        out = super().problems()
        if out:
            return out
        if len(self.onnx_node.input) != 2:
            out.append(f"{len(self.onnx_node.input)} inputs, expected 2 (x, T)")
        width = max(self.instream_width(), self.outstream_width(), self.weightstream_width())
        if width > AP_INT_MAX_W:
            out.append(f"stream width {width} bits exceeds the HLS limit of {AP_INT_MAX_W} (PE={self.a('PE')})")
        return out

    def element_bits(self) -> int:
        """Bits per PE lane on the widest stream, the decoupled threshold stream included."""
        return max(self.instream_width(), self.outstream_width(), self.weightstream_width()) // self.a("PE")

    def tmem(self) -> int:
        return self.a("NumChannels") // self.a("PE")

    def infer_bitwidths(self, model) -> None:
        """FINN RoundAndClipThresholds / minimize_weight_bit_width: thresholds clipped to the input
        type's [min, max + 1], stored in the smallest type holding them; outputs ActVal + [0, numSteps]."""
        node = self.onnx_node
        idt = model.get_tensor_datatype(node.input[0])
        self.set_nodeattr("inputDataType", idt.name)
        thr = clip_thresholds(model, node.input[1], [idt.min()], [idt.max()])
        tdt = dtype_for_range(thr.min(), thr.max())
        self.set_nodeattr("weightDataType", tdt.name)
        model.set_tensor_datatype(node.input[1], tdt)
        odt = threshold_output_dtype(self.dt("outputDataType"), self.a("ActVal"), thr.shape[1])
        self.set_nodeattr("outputDataType", odt.name)

    def execute(self, inputs):
        x, thr = inputs[0], inputs[1]
        c = self.a("NumChannels")
        if x.shape[-1] != c or thr.shape[0] not in (1, c) or thr.shape[-1] != self.a("numSteps"):
            raise self.err(f"expected x[..., {c}] and T ({c}, {self.a('numSteps')}), got {x.shape} and {thr.shape}")
        odt = self.dt("outputDataType")
        out = apply_thresholds(np.asarray(x, dtype=np.float64), thr, odt, self.a("ActVal"))
        if out.size and (out.min() < odt.min() or out.max() > odt.max()):
            raise self.err(f"output range [{out.min()}, {out.max()}] exceeds outputDataType {odt.name}")
        return [out]

    def compile_values(self, model):
        """The compiled plan's kernel (hw/emulator/plan.py), equal to `execute` on integer inputs:
        hw.ops._threshold_kernel.threshold_kernel (compare-and-sum or a lookup table) per block of
        BLOCK_VALUES values (cache-resident passes); otherwise `execute`."""
        from hw.ops._threshold_kernel import BLOCK_VALUES, threshold_kernel

        generic = super().compile_values(model)
        c, odt = self.a("NumChannels"), self.dt("outputDataType")
        thr = model.get_initializer(self.onnx_node.input[1])
        if (thr is None or not self.dt("inputDataType").is_integer() or np.ndim(thr) not in (1, 2)
                or np.shape(thr)[-1] != self.a("numSteps") or (np.ndim(thr) == 2 and np.shape(thr)[0] not in (1, c))):
            return generic
        steps = np.arange(self.a("numSteps") + 1)
        values = 2 * steps - 1 if odt == DataType["BIPOLAR"] else steps + self.a("ActVal")
        if values.min() < odt.min() or values.max() > odt.max():
            return generic
        kernel = threshold_kernel(broadcast_thresholds(np.asarray(thr, dtype=np.float64), c), c, values,
                                  bound=int_bound(self.dt("inputDataType")))
        block = max(1, BLOCK_VALUES // c)
        apply = kernel.blocked(block)

        def run(ins: list[np.ndarray]) -> list[np.ndarray]:
            x = ins[0]
            if x.shape[-1] != c:
                return generic(ins)
            flat = x.reshape(-1, c)
            out = np.empty(flat.shape, dtype=kernel.out_dtype)
            scratch = np.empty((min(block, len(flat)), c) if kernel.scratch else 0, dtype=kernel.dtype)
            for i in range(0, len(flat), block):
                n = min(block, len(flat) - i)
                if kernel.scratch:  # the table's apply overwrites its input: a copy, in its dtype
                    np.copyto(scratch[:n], flat[i:i + n], casting="unsafe")
                    apply(scratch[:n], out[i:i + n])
                else:
                    apply(flat[i:i + n], out[i:i + n])
            return [out.reshape(x.shape)]

        return run

    def onnx_values(self, ctx) -> None:
        """This node in the generated ONNX graph (hw/emulator/onnx_graph.py), equal to `execute` on
        integer inputs: hw.ops._onnx_values.emit_thresholds over the input type's range, on the input
        in whatever layout it is stored."""
        from hw.ops._onnx_values import OnnxUnsupported, emit_thresholds

        c, odt, idt = self.a("NumChannels"), self.dt("outputDataType"), self.dt("inputDataType")
        thr = ctx.initializer(1)
        if (thr is None or not idt.is_integer() or np.ndim(thr) not in (1, 2) or np.shape(thr)[-1] != self.a("numSteps")
                or (np.ndim(thr) == 2 and np.shape(thr)[0] not in (1, c))):
            raise OnnxUnsupported(f"{self.name}: thresholds or input type without an exact ONNX form")
        steps = np.arange(self.a("numSteps") + 1)
        values = 2 * steps - 1 if odt == DataType["BIPOLAR"] else steps + self.a("ActVal")
        if values.min() < odt.min() or values.max() > odt.max():
            raise OnnxUnsupported(f"{self.name}: outputs beyond {odt.name} (execute reports it)")
        x = ctx.input(0, nchw=None)
        if x.shape[-1] != c:
            raise OnnxUnsupported(f"{self.name}: input {x.shape} per frame, expected {c} channels last")
        thr = broadcast_thresholds(np.asarray(thr, dtype=np.float64), c)
        ctx.output(0, emit_thresholds(ctx, x, thr, values, np.full(c, float(idt.min())), np.full(c, float(idt.max()))))

    def cycles(self) -> int:
        """thresholding.py:get_exp_cycles = prod(folded_output_shape[:-1])."""
        return math.prod(self.folded_output_shape()[:-1])

    def token_schedule(self) -> TokenSchedule:
        words = self.tmem()  # one word in, one word out per firing; repeated per vector
        return replace(streaming(words, words), repeats=math.prod(self._vec()))

    def finn_resources(self, device=None) -> Resources:
        """rtl (FINN's default): finn-plus rtl/thresholding_rtl.py, threshold memories only
        (hw/cost/finn.py:thresholding_rtl); hls: hls/thresholding_hls.py, the threshold memory word is
        PE · threshold bits · numSteps, the comparators cost A·P, A = input bits (as FINN computes it)."""
        pe, abits, style = self.a("PE"), self.dt("inputDataType").bitwidth(), self.a("ram_style")
        tdt = self.dt("weightDataType") if self.a("weightDataType") else self.dt("inputDataType")
        if self.a("preferred_impl_style") == "rtl":
            lut, bram, uram = fc.thresholding_rtl(pe, self.a("NumChannels"), tdt.bitwidth(),
                                                  self.dt("outputDataType").bitwidth())
            return Resources(LUT=lut, BRAM_18K=bram, URAM=uram)
        width = fc.threshold_mem_width(pe, tdt.bitwidth(), self.a("numSteps"))
        return Resources(LUT=fc.thresholding_lut_hls(pe, abits, width, self.tmem(), style),
                         BRAM_18K=fc.thresholding_bram18_hls(width, self.tmem(), style))

    def calibrated_resources(self, ctx: Context) -> Resources:
        """Comparators as wide as the input or the thresholds, their count, the threshold memory."""
        thr = broadcast_thresholds(ctx.initializer(1, "thresholds"), self.a("NumChannels"))
        idt = self.dt("inputDataType")
        bits = max(idt.bitwidth(), int(P.range_bits(thr.min(), thr.max())))
        rom = not self.a("runtime_writeable_weights")
        return thresholds_cost(thr, self.a("PE"), bits, self.dt("outputDataType").bitwidth(), self.a("ram_style"),
                               rom) + streams(self, P.HLS_KERNEL_OVERHEAD)

    def rtl_structure(self, ctx: NodeContext):
        """The calibrated model's `rtl` profile: hil_thresholding.sv as rtl_module instantiates it
        (hw/cost/rtl.py)."""
        from hw.cost import rtl as rtl_cost

        m = self.rtl_module(ctx.node, ctx.model)
        return rtl_cost.thresholding(m.params, rtl_cost.words_of(m.mem_files[m.params["THRESH_FILE"]]))

    def energy_actions(self, ctx: NodeContext) -> list[ActionCount]:
        thr = ctx.initializer(1, "thresholds")
        return threshold_actions(thr, self.a("NumChannels"), self.a("PE"), self.dt("inputDataType").bitwidth(),
                                 math.prod(self._vec()))

    def hls4ml_layers(self, walk, node) -> None:
        """A HilThreshold (toolchain/backends/hls4ml_ext) on the incoming stream."""
        walk.threshold(node, walk.initializer(node, 1, "threshold matrix"), self.a("NumChannels"),
                       self.dt("outputDataType"), self.a("ActVal"))

    def rtl_module(self, node, model):
        """hw/ops/rtl/hil_thresholding.sv: threshold word t holds T[t*PE+pe, k] (signed, TBITS)."""
        from qonnx.core.datatype import DataType

        from hw.ops import rtl

        c, pe = self.a("NumChannels"), self.a("PE")
        thr = broadcast_thresholds(np.asarray(model.get_initializer(node.input[1]), dtype=np.float64), c)
        idt, odt = self.dt("inputDataType"), self.dt("outputDataType")
        tbits = max(rtl.signed_bits(thr.min(), thr.max()), rtl.signed_bits(idt.min(), idt.max()))
        tpat = rtl.signed_patterns(thr.reshape(c // pe, pe * thr.shape[1]), tbits)
        name = f"{node.name}_thresholds.mem"
        params = {"C": c, "PE": pe, "IBITS": idt.bitwidth(), "IN_MODE": rtl.mode(idt), "TBITS": tbits,
                  "NSTEPS": thr.shape[1], "ACT_VAL": 0 if odt == DataType["BIPOLAR"] else int(self.a("ActVal")),
                  "OBITS": odt.bitwidth(), "THRESH_FILE": name}
        return rtl.RtlModule("hil_thresholding", params, (self.instream_width(),), (self.outstream_width(),),
                             {name: rtl.memh(rtl.pack(tpat, tbits), pe * thr.shape[1] * tbits)})
