"""MVAU: matrix-vector-activation unit (FINN matrixvectoractivation.py, finn-hlslib mvau.hpp).

acc = x @ W over the last axis (binaryXnorMode: number of positions where x == W), then optional
thresholds: out[c] = sum_k [acc[c] >= T[c, k]] + ActVal (BIPOLAR outputs: 0/1 -> -1/+1).
"""

from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType

from hw.cost import finn as fc
from hw.cost.resources import Resources
from hw.ops.base import AP_INT_MAX_W, HWOp, apply_thresholds, divisors, exact_matmul, int_bound
from hw.schedule import TokenSchedule


class MVAU(HWOp):
    ATTRS = {
        "PE": ("i", True, 0),
        "SIMD": ("i", True, 0),
        "MW": ("i", True, 0),
        "MH": ("i", True, 0),
        "resType": ("s", False, "auto", {"auto", "lut", "dsp"}),
        "ActVal": ("i", False, 0),
        "inputDataType": ("s", True, ""),
        "weightDataType": ("s", True, ""),
        "outputDataType": ("s", True, ""),
        "accDataType": ("s", False, "INT32"),
        "binaryXnorMode": ("i", False, 0, {0, 1}),
        "noActivation": ("i", False, 0, {0, 1}),
        "numInputVectors": ("ints", False, [1]),
        "mem_mode": ("s", False, "internal_decoupled", {"internal_embedded", "internal_decoupled", "external"}),
        "ram_style": ("s", False, "auto", {"auto", "block", "distributed", "ultra"}),
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
        odt = self.dt("outputDataType")
        if self.a("noActivation"):
            out = acc
        else:
            if len(inputs) < 3:
                raise self.err("noActivation=0 needs a threshold input T (MH, n_steps)")
            out = apply_thresholds(acc, inputs[2], odt, self.a("ActVal"))
        if out.size and (out.min() < odt.min() or out.max() > odt.max()):
            raise self.err(f"output range [{out.min()}, {out.max()}] exceeds outputDataType {odt.name}; "
                           "widen outputDataType/accDataType")
        return [out]

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
