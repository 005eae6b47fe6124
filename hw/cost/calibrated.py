"""The `calibrated` resource model: weight-aware LUT/FF/DSP/BRAM/URAM per dataflow op.

    calibrated_resources(model, node, device=None, clock_ns=None, impl="hls") -> Resources
    op_resources(op, model=None, device=None, clock_ns=None, impl="hls") -> Resources  # HWOp.resources(CALIBRATED)

Two implementation profiles, as the emulator's timing (`--impl`): `hls` (default), FINN's HLS kernels
under Vivado (this module and each op's `calibrated_resources`); `rtl`, our own templates
(hw/ops/rtl) under Yosys synth_xilinx (hw/cost/rtl.py and each op's `rtl_resources`).

Each op's model is its `calibrated_resources(ctx)` method (hw/ops/<op>.py), built from the
primitives of hw/cost/primitives.py (constants and their provenance live there) and the shared
helpers below. MVAU: each PE·SIMD lane multiplies by the weights it sees over the folding (FINN's
weight layout: row r of W^T goes to PE r % PE, column j to SIMD lane j % SIMD). At full unroll
every lane is a constant multiplier (zero free, ±2^k a shift, else CSD shift-adds or a DSP); a
folded lane is a real multiplier (LUTs ~ W·A, or a DSP when both widths need one), XNOR lanes fold
into the popcount tree. Adder tree, accumulator and threshold comparators use the exact
accumulator width of the actual weights; weights and thresholds are ROMs whose constant bit
columns cost nothing. This module imports no op: ops import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from hw.cost import primitives as P
from hw.cost.resources import Resources


def node_initializer(model, node, i: int, what: str) -> np.ndarray:
    """Integer initializer at input i of `node` (weights, thresholds), or a ValueError naming it."""
    name = node.input[i] if len(node.input) > i else ""
    value = model.get_initializer(name) if name else None
    if value is None:
        raise ValueError(f"{node.name}: the calibrated cost model needs the {what} as an initializer "
                         f"(input {i}); external or missing {what} cannot be costed weight-aware")
    values = np.asarray(value, dtype=np.float64)
    if not np.array_equal(values, np.round(values)):
        raise ValueError(f"{node.name}: {what} are not integers")
    return values.astype(np.int64)


@dataclass(frozen=True)
class NodeContext:
    """What a weight-aware model sees of a node beyond its attributes: the model's initializers."""

    model: Any  # qonnx ModelWrapper, or None (an op costed alone: weight-carrying ops are refused)
    node: Any  # onnx NodeProto

    def initializer(self, i: int, what: str) -> np.ndarray:
        if self.model is None:
            raise NotImplementedError(
                f"{self.node.name}: the calibrated model is weight-aware and needs the model: use "
                "hw.cost.calibrated.calibrated_resources(model, node, device) (as hil estimate does)")
        return node_initializer(self.model, self.node, i, what)


@dataclass(frozen=True)
class Context(NodeContext):
    dsp_block: str = ""  # the device's DSP block (hw.devices.Device.dsp_block)
    clock_ns: float = 0.0  # the target clock (pipeline registers of adder trees)


IMPLS = ("hls", "rtl")  # implementation profiles (as hw/emulator/impl.py IMPLS)


def calibrated_resources(model, node, device=None, clock_ns: Optional[float] = None, impl: str = "hls") -> Resources:
    """Calibrated resources of one hw.ops node of `model` on `device` (hw.devices.Device; default
    part when None) at `clock_ns` (default: the device's clock) for implementation `impl`. LUT and
    FF are rounded to integers. `model` may be None for ops without initializers."""
    from qonnx.custom_op.registry import getCustomOp

    return op_resources(getCustomOp(node), model, device, clock_ns, impl)


def op_resources(op, model=None, device=None, clock_ns: Optional[float] = None, impl: str = "hls") -> Resources:
    """The op's `calibrated_resources(ctx)` (impl "hls") or `rtl_resources(ctx)` (impl "rtl") on
    `device` at `clock_ns`, LUT and FF rounded."""
    if impl not in IMPLS:
        raise ValueError(f"unknown implementation profile {impl!r}; choose one of: {', '.join(IMPLS)}")
    if device is None:
        from hw.devices import DEFAULT_DEVICE, get_device

        device = get_device(DEFAULT_DEVICE)
    clock = float(device.default_clock_ns if clock_ns is None else clock_ns)
    ctx = Context(model, op.onnx_node, device.dsp_block, clock)
    res = op.rtl_resources(ctx) if impl == "rtl" else op.calibrated_resources(ctx)
    return Resources(LUT=round(res.LUT), FF=round(res.FF), DSP=res.DSP, BRAM_18K=res.BRAM_18K, URAM=res.URAM)


def scaled(res: Resources, n: float) -> Resources:
    return Resources(*(n * v for v in res.as_tuple()))


def streams(op, base: Resources = P.HLS_STREAM_OP_OVERHEAD, extra_iterations: int = 0) -> Resources:
    """Stream port registers, the loop counter and the op's fixed control cost."""
    ins = sum(op.instream_width(i) for i in range(op.n_stream_inputs()))
    outs = sum(op.outstream_width(o) for o in range(op.n_stream_outputs()))
    iterations = max(op.cycles(), extra_iterations, 1)
    return Resources(FF=P.FF_PER_STREAM_BIT * (ins + outs)) + P.counter(iterations) + base


# ---- shared by MVAU and Thresholding ----------------------------------------------------------------
def accumulator_bits(lo: np.ndarray, hi: np.ndarray, thresholds: Optional[np.ndarray] = None) -> int:
    """Exact accumulator width of a per-column range (lo, hi) (hw.ops.base.accumulator_range),
    widened by the threshold range (FINN minimize_accumulator_width)."""
    lo, hi = int(np.min(lo)), int(np.max(hi))
    if thresholds is not None and thresholds.size:
        lo, hi = min(lo, int(thresholds.min())), max(hi, int(thresholds.max()))
    return int(P.range_bits(lo, hi))


def mvau_lanes(w: np.ndarray, pe: int, simd: int) -> np.ndarray:
    """(PE·SIMD, WMEM) weights each multiplier lane sees (FINN get_hw_compatible_weight_tensor)."""
    mw, mh = w.shape
    nf, sf = mh // pe, mw // simd
    return w.T.reshape(nf, pe, sf, simd).transpose(1, 3, 0, 2).reshape(pe * simd, nf * sf)


def thresholds_cost(thr: np.ndarray, pe: int, cmp_bits: int, out_bits: int, style: str, rom: bool) -> Resources:
    """(2^B - 1) comparators of cmp_bits per PE, their thermometer-to-binary count, and the threshold
    memory (TMEM entries of n_steps·cmp_bits per PE) when a PE serves several channels."""
    channels, steps = thr.shape
    comparators = P.adders(pe * steps * cmp_bits)
    encoder = P.adders(pe * P.adder_tree_bits(np.array([steps]), 1, out_bits)[0])
    tmem = channels // pe
    mem = Resources()
    if tmem > 1:
        per_pe = thr.reshape(tmem, pe, steps).transpose(1, 0, 2)
        mem = sum((P.stored_memory(per_pe[p], cmp_bits, style, rom) for p in range(pe)), Resources())
    return Resources(LUT=comparators + encoder, FF=pe * out_bits) + mem
