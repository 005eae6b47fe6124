"""GlobalAccPool: the per-channel sum over every pixel of an image (FINN globalaccpool.py, finn-hlslib
AccPool_Batch). Global average pooling is this sum followed by a scalar 1/(H·W), which the lowering
moves into the next layer's scale (toolchain/passes/pooling.py; FINN InferGlobalAccPoolLayer does the
same with a Mul after the GlobalAccPool).

(N, H, W, C) -> (N, 1, 1, C); PE channels per word.
"""

from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType

from hw.cost import primitives as P
from hw.cost.calibrated import Context, NodeContext, streams
from hw.cost.energy import Action, ActionCount
from hw.cost.resources import Resources
from hw.ops.base import ChannelStreamOp
from hw.schedule import TokenSchedule


class GlobalAccPool(ChannelStreamOp):
    FINN_NAME = "GlobalAccPool"
    FINN_OP_TYPES = ("GlobalAccPool",)
    FINN_CONFIG_ATTRS = ("PE",)
    ATTRS = {
        "NumChannels": ("i", True, 0),
        "PE": ("i", True, 0),
        "inputDataType": ("s", True, ""),
        "numInputVectors": ("ints", False, [1]),  # (N, H, W)
    }

    def _pixels(self) -> int:
        vec = self._vec()
        return vec[-1] * vec[-2]

    def normal_output_shape(self, o: int = 0):
        return (self._vec()[0], 1, 1, self.a("NumChannels"))

    def folded_output_shape(self, o: int = 0):
        pe = self.a("PE")
        return self.normal_output_shape()[:-1] + (self.a("NumChannels") // pe, pe)

    def output_datatype(self, o: int = 0):
        """globalaccpool.py:get_output_datatype: the smallest type of pixels·idt.min() (signed) or
        pixels·idt.max() (unsigned)."""
        idt = self.dt("inputDataType")
        extreme = self._pixels() * (idt.min() if idt.signed() else idt.max())
        return DataType.get_smallest_possible(extreme)

    def element_bits(self) -> int:
        return max(self.dt("inputDataType").bitwidth(), self.output_datatype().bitwidth())

    def problems(self) -> list[str]:
        out = super().problems()
        if len(self.a("numInputVectors")) != 3:
            out.append(f"numInputVectors must be (N, H, W), got {list(self.a('numInputVectors'))}")
        return out

    def execute(self, inputs):
        x = np.asarray(inputs[0], dtype=np.float64)
        if x.ndim != 4 or x.shape[1:] != self.normal_input_shape()[1:]:
            raise self.err(f"expected input (N, {', '.join(map(str, self.normal_input_shape()[1:]))}), got {x.shape}")
        return [x.sum(axis=(1, 2), keepdims=True)]  # exact: integers far below 2^53

    def onnx_values(self, ctx) -> None:
        """This node in the generated ONNX graph (hw/emulator/onnx_graph.py), equal to `execute`: one
        ReduceSum over the spatial axes, in the dtype exact for H·W times the input's bound (every
        partial sum below it, in any order)."""
        from hw.ops._onnx_values import OnnxUnsupported, Val, exact_dtype

        x = ctx.input(0, nchw=None)
        if len(x.shape) != 3 or x.shape[-1] != self.a("NumChannels"):
            raise OnnxUnsupported(f"{self.name}: input {x.shape} per frame, expected (H, W, C)")
        bound = x.bound * x.shape[0] * x.shape[1]
        x = ctx.cast(x, exact_dtype(bound))
        axes = ctx.const([2, 3] if x.nchw else [1, 2], np.int64)
        out = ctx.emit("ReduceSum", [x.name, axes], keepdims=1)
        ctx.output(0, Val(out, x.dtype, bound, (1, 1, x.shape[-1]), x.nchw))

    def cycles(self) -> int:
        """globalaccpool.py:get_exp_cycles = prod(folded_input_shape[:-1]) + NumChannels/PE."""
        return math.prod(self.folded_input_shape()[:-1]) + self.a("NumChannels") // self.a("PE")

    def token_schedule(self) -> TokenSchedule:
        """AccPool_Batch: H·W·C/PE firings that read and accumulate, then C/PE firings that write the
        sums (the cycles above, one firing each)."""
        folds = self.a("NumChannels") // self.a("PE")
        n_read = self._pixels() * folds
        reads = np.r_[np.ones(n_read, bool), np.zeros(folds, bool)]
        return TokenSchedule(reads=reads[None, :], writes=~reads[None, :], repeats=self._vec()[0])

    def calibrated_resources(self, ctx: Context) -> Resources:
        """PE accumulators of the output width and a C/PE-word accumulator memory."""
        pe, bits = self.a("PE"), self.output_datatype().bitwidth()
        acc = P.memory(pe * bits, self.a("NumChannels") // pe, "distributed")
        return Resources(LUT=P.adders(pe * bits)) + acc + streams(self)

    def energy_actions(self, ctx: NodeContext) -> list[ActionCount]:
        bits = self.output_datatype().bitwidth()
        return [ActionCount(Action.ADD, math.prod(self.normal_input_shape()), (bits,), "accumulations")]

    # ---- hls4ml / RTL -------------------------------------------------------------------------
    def hls4ml_layers(self, walk, node) -> None:
        """The sum itself, as the hls4ml_ext layer HilGlobalAccPool: hls4ml's GlobalAveragePooling2D
        divides the sum by H·W in its accumulator type (nnet_pooling_stream.h global_pooling2d_cl), while
        the IR keeps the sum and moves 1/(H·W) into the next layer (plan._Walk.global_acc_pool)."""
        walk.global_acc_pool(node, self._pixels(), self.a("NumChannels"), self.output_datatype())

    def rtl_module(self, node, model):
        from hw.ops import rtl

        raise rtl.RtlUnsupported(f"{self.name}: GlobalAccPool is not supported in the RTL backend yet")
