"""Helpers of the ops' `onnx_values(ctx)` methods (the generated-ONNX values path, issue 17; the builder
and the session are hw/emulator/onnx_graph.py): the value type, the exact-dtype rule and the shared
threshold subgraph. numpy and onnx only (hw/emulator imports hw/ops, never the reverse).

Exact by construction: every tensor of the generated graph holds integers, stored as float32 when its
proven bound is below 2^24, else float64 below 2^53 (else the op refuses: OnnxUnsupported).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from onnx import TensorProto

from hw.ops.base import F32_EXACT, F64_EXACT, OnnxUnsupported

__all__ = ["OnnxUnsupported", "Val", "Lazy", "Window", "Monotone", "ThresholdForm", "exact_dtype", "threshold_form",
           "emit_thresholds", "rounding_form", "estimate_form", "add_const", "OPSET"]

OPSET = 17  # the generated graph's ONNX opset

# entries of a threshold lookup table in the generated graph: a table beyond this (float32: 16 MiB)
# stops fitting any cache and the op uses compare-and-sum instead
MAX_ORT_TABLE = 1 << 22
MAX_COMPARE_STEPS = 2  # up to this many thresholds: one GreaterOrEqual each, no table
# a table up to this many entries (256 KiB of float32) stays in a core's L2 and is the cheapest form
# (3 ops); a larger one is taken only when no estimate form is proven
SMALL_TABLE = 1 << 16
MAX_ESTIMATE_CHECK = 1 << 22  # window points estimate_form may evaluate (its proof is exhaustive)
_ONNX_FLOAT = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE}


def exact_dtype(bound: float):
    """float32 when every integer of magnitude <= bound is exact in it (and in every sum of such values
    the op proves below the same bound), else float64; OnnxUnsupported beyond 2^53."""
    if bound < F32_EXACT:
        return np.float32
    if bound < F64_EXACT:
        return np.float64
    raise OnnxUnsupported(f"integers up to {bound:.3g} are not exact in float64")


@dataclass(frozen=True)
class Val:
    """A tensor of the generated graph: integers, each exact in `dtype`, |value| <= `bound`."""

    name: str
    dtype: type  # np.float32 or np.float64
    bound: float
    shape: tuple[int, ...]  # per frame, the dataflow's layout (channels last)
    nchw: bool = False  # stored channels-first (N, C, *spatial): `shape` still names the channels-last view


@dataclass(frozen=True)
class Lazy:
    """A value its producer has not emitted yet (the SWG's windows): a consumer that can use the
    description (`info`, e.g. an MVAU making one Conv) reads it through NodeContext.lazy; any other
    consumer gets `materialize(ctx)`, the producer's own subgraph."""

    info: object
    materialize: Callable[[object], Val]  # NodeContext -> Val
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Window:
    """An SWG's windows, not materialized: the im2col of `source` (N, H, W, C) with a square `kernel`
    and `stride` (dilation 1), out (N, out, out, kernel² · C) in the order (kh, kw, C)."""

    source: Val
    kernel: int
    stride: int
    out: int
    channels: int


@dataclass(frozen=True)
class Monotone:
    """Values not yet emitted: finish(ctx, pre), `finish` a per-channel non-decreasing map (a threshold
    form's rest). A max-pool takes the maximum of `pre` instead (max_i f(z_i) = f(max_i z_i) for a
    non-decreasing f), so the map runs on the pooled, smaller tensor."""

    pre: Val
    finish: Callable  # (ctx, Val) -> Val

    def lazy(self) -> Lazy:
        return Lazy(self, lambda ctx: self.finish(ctx, self.pre), self.pre.shape)


@dataclass(frozen=True)
class ThresholdForm:
    """out[..., c] = values[#{k : acc[..., c] >= thr[c, k]}] as an exact subgraph in two parts: the
    affine pre-transform z = (acc + shift_c) · scale, which a producer with a GEMM folds into its
    weights and bias (the scale is an integer, or a power of two below 1: W·scale and every partial
    sum times the scale stay exact while `bound` is), and `finish(ctx, z)`, the rest. Made by
    threshold_form."""

    kind: str  # "clip", "compare", "rounding", "estimate" or "table" (for debug and the tests)
    # the output values increase with the count (ActVal + n, or 2n - 1 for BIPOLAR), so finish is a
    # per-channel non-decreasing map, which a following max-pool may run after itself (Monotone)
    shift: np.ndarray | None  # (C,) or None
    scale: float
    finish: Callable  # (ctx, z: Val) -> Val
    bound: float  # the largest integer (|acc + shift|, times the scale when it is > 1, or twice it for
    # half-integer shifts) the GEMM must hold exactly: sets its dtype

    def pre(self, ctx, acc: Val) -> Val:
        """z for a producer that cannot fold (Thresholding, a wide accumulator): an Add and a Mul."""
        v = ctx.cast(acc, exact_dtype(self.bound))
        if self.shift is not None:
            c = len(self.shift)
            shape = (c,) + (1,) * (len(acc.shape) - 1) if acc.nchw else (c,)
            v = replace(v, name=ctx.emit("Add", [v.name, ctx.const(self.shift.reshape(shape), v.dtype)]))
        if self.scale != 1:
            v = replace(v, name=ctx.emit("Mul", [v.name, ctx.const(self.scale, v.dtype)]))
        return replace(v, bound=self.bound)


def emit_thresholds(ctx, acc: Val, thr: np.ndarray, values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Val:
    """threshold_form's subgraph on acc, with its pre-transform emitted (not folded)."""
    form = threshold_form(thr, values, lo, hi, acc.bound)
    return form.finish(ctx, form.pre(ctx, acc))


def threshold_form(thr: np.ndarray, values: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                   bound: float) -> ThresholdForm:
    """The cheapest exact form of out[..., c] = values[#{k : acc[..., c] >= thr[c, k]}] for integer
    accumulators proven inside [lo_c, hi_c] (|acc| <= bound), chosen here at compile time:
    * clip: one threshold with outputs v0, v0 + d (d = 1, or 2 for BIPOLAR): Clip(d·(acc - ceil t) +
      v0 + d, v0, v0 + d), the scale and shift folded into the GEMM, the Clip fused into a Conv;
    * compare: up to MAX_COMPARE_STEPS thresholds with evenly spaced values, one GreaterOrEqual each
      against ceil(thr) (for an integer a, a >= t <=> a >= ceil(t)), cast and scaled;
    * rounding: the thresholds of a uniform quantizer, count = clip(Round or Floor((acc + b_c) / g),
      0, S) with g a power of two, proven equal to the count on every integer of each channel's window
      (rounding_form): three elementwise passes, no lookup;
    * estimate (the table would exceed SMALL_TABLE): e = clip(floor((acc + b_c) · r_c), 0, S), r_c
      about 1 / the channel's mean step, proven within ±1 of the count on every integer of the window
      (estimate_form), then corrected exactly: n = e - [acc + b_c < P[e]] + [acc + b_c >= P[e + 1]]
      with P the channel's shifted thresholds padded by -/+ infinity, two GatherElements on an
      (S + 2) × C table; for thresholds off any power-of-two grid (float scales, BatchNorm);
    * table: each channel's window [w_c, w_c + width) = [min ceil thr - 1, max ceil thr] (within the
      proven range) tabulated as table[j, c] = values[count_c(w_c + j)] (width × C entries, at most
      MAX_ORT_TABLE); acc shifted by -w_c, clipped to [0, width - 1] (one scalar Clip: below the
      window nothing passes, above it every threshold does, so clipping keeps every count), cast to
      int32 and looked up with GatherElements along the window axis. (Gather on a flat table with
      per-channel offsets was 4-5x slower in onnxruntime 1.32, per-channel Max/Min broadcasts ~9x
      slower than one scalar Clip, on (10,000, 64) float32; the 63-step jet-mlp tables of 0.25-2 M
      entries were 3x slower than the rounding form.)
    * beyond MAX_ORT_TABLE entries: compare-and-sum over all thresholds (Unsqueeze, GreaterOrEqual,
      Cast, ReduceSum; S values per accumulator).
    `thr` is (C, S). The output is float32 (small integers), channels-last for the table."""
    values = np.asarray(values)
    t = np.sort(np.ceil(np.asarray(thr, dtype=np.float64)), axis=1)
    channels, steps = t.shape
    lo, hi = np.floor(np.asarray(lo, dtype=np.float64)), np.ceil(np.asarray(hi, dtype=np.float64))
    out_bound = float(np.abs(values).max())
    diffs = np.diff(values)
    if steps == 1 and int(diffs[0]) in (1, 2):
        # one threshold, outputs v0 < v1 = v0 + d: z = d·(acc - t) + v0 + d is an integer >= v1 when
        # acc >= t and <= v0 when acc <= t - 1, so Clip(z, v0, v1) is the output; d·acc is a GEMM with
        # weights times d, and onnxruntime fuses the Clip into a Conv (FusedConv), which keeps its
        # blocked NCHWc layout from one convolution to the next (BIPOLAR: d = 2, v0 = -1)
        d, v0 = int(diffs[0]), int(values[0])
        shift = -t[:, 0] + (v0 + d) / d  # a multiple of 1/2 (d = 2); d · shift is an integer
        if 2 * d * (bound + np.abs(shift).max()) < F64_EXACT:
            return ThresholdForm("clip", shift, float(d), lambda ctx, z: replace(z, name=ctx.emit(
                "Clip", [z.name, ctx.const(v0, z.dtype), ctx.const(v0 + d, z.dtype)]), bound=out_bound),
                2 * d * (bound + float(np.abs(shift).max())))
    if steps <= MAX_COMPARE_STEPS and (diffs == diffs[0]).all():
        return ThresholdForm("compare", None, 1.0, lambda ctx, z: _compare(ctx, z, t, values, out_bound), bound)
    wlo = np.minimum(np.maximum(t[:, 0] - 1, lo), hi)  # a window starting beyond the range: one entry
    whi = np.maximum(np.minimum(t[:, -1], hi), wlo)
    form = rounding_form(t, wlo, whi)
    if form is not None and bound + np.abs(form[1]).max() < F32_EXACT / 2:
        op, b, g, p = form

        def rounded(ctx, z: Val) -> Val:
            lo_, hi_ = ctx.const(p, z.dtype), ctx.const(steps + p, z.dtype)
            # clip first (op(clip(z, a, b)) = clip(op(z), a, b) for integer a, b, op monotone and
            # integer-preserving): onnxruntime fuses a Clip into the Gemm / Conv before it
            count = ctx.emit(op, [ctx.emit("Clip", [z.name, lo_, hi_])])  # count + p
            shifted = values - p * (values[1] - values[0])  # values[n] = shifted[0] + step · (n + p)
            return _affine_values(ctx, Val(count, z.dtype, steps + p, z.shape, z.nchw), shifted, out_bound)

        return ThresholdForm("rounding", b, 1.0 / g, rounded, 2 * (bound + float(np.abs(b).max())))  # b: halves
    width = int((whi - wlo).max()) + 1
    est_bound = bound + float(np.abs(t).max()) + float((t[:, -1] - t[:, 0]).max()) + 2  # >= |acc + b_c|
    est = None
    if width * channels > SMALL_TABLE and est_bound < F64_EXACT:
        est = estimate_form(t, wlo, whi, exact_dtype(est_bound))
    if est is not None:
        r, b = est
        limit = F32_EXACT if exact_dtype(est_bound) is np.float32 else F64_EXACT
        pad = np.full((1, channels), float(limit))  # beyond every |acc + b_c|: never / always below
        edges = np.concatenate([-pad, (t + b[:, None]).T, pad])  # (S + 2, C): P[0] < t_0 ... t_S-1 < P[S+1]

        def corrected(ctx, z: Val) -> Val:
            v = ctx.layout(z, False)
            dt = v.dtype
            rows = ctx.emit("Reshape", [v.name, ctx.const([-1, channels], np.int64)]) if len(v.shape) > 1 else v.name
            est_ = ctx.emit("Floor", [ctx.emit("Mul", [rows, ctx.const(r, dt)])])
            e = ctx.emit("Clip", [est_, ctx.const(0, dt), ctx.const(steps, dt)])
            idx = ctx.emit("Cast", [e], to=TensorProto.INT32)
            lo_edge = ctx.emit("GatherElements", [ctx.const(edges[:-1], dt), idx], axis=0)  # P[e]
            hi_edge = ctx.emit("GatherElements", [ctx.const(edges[1:], dt), idx], axis=0)  # P[e + 1]
            # the true count n is e - [v < P[e]] + [v >= P[e + 1]] when |n - e| <= 1 (estimate_form)
            down = ctx.emit("Cast", [ctx.emit("Less", [rows, lo_edge])], to=_ONNX_FLOAT[dt])
            up = ctx.emit("Cast", [ctx.emit("GreaterOrEqual", [rows, hi_edge])], to=_ONNX_FLOAT[dt])
            count = ctx.emit("Add", [ctx.emit("Sub", [e, down]), up])
            if len(v.shape) > 1:
                count = ctx.emit("Reshape", [count, ctx.const((-1,) + tuple(v.shape), np.int64)])
            return _affine_values(ctx, Val(count, dt, steps, v.shape, False), values, out_bound)

        return ThresholdForm("estimate", b, 1.0, corrected, est_bound)
    if width * channels > MAX_ORT_TABLE or bound + np.abs(wlo).max() + width >= F64_EXACT:
        return ThresholdForm("compare", None, 1.0, lambda ctx, z: _compare(ctx, z, t, values, out_bound), bound)
    x = wlo[None, :] + np.arange(width)[:, None]  # (width, C): the integer each entry stands for
    count = np.stack([np.searchsorted(t[c], x[:, c], side="right") for c in range(channels)], axis=1)
    table = values[count].astype(np.float32)

    def lookup(ctx, z: Val) -> Val:
        v = ctx.layout(z, False)
        rows = ctx.emit("Reshape", [v.name, ctx.const([-1, channels], np.int64)]) if len(v.shape) > 1 else v.name
        clipped = ctx.emit("Clip", [rows, ctx.const(0, v.dtype), ctx.const(width - 1, v.dtype)])
        idx = ctx.emit("Cast", [clipped], to=TensorProto.INT32)
        out = ctx.emit("GatherElements", [ctx.const(table, np.float32), idx], axis=0)
        if len(v.shape) > 1:
            out = ctx.emit("Reshape", [out, ctx.const((-1,) + tuple(v.shape), np.int64)])
        return Val(out, np.float32, out_bound, v.shape, False)

    return ThresholdForm("table", -wlo, 1.0, lookup, bound + float(np.abs(wlo).max()))


def estimate_form(t: np.ndarray, wlo: np.ndarray, whi: np.ndarray, dtype):
    """(r, b): per channel the affine estimate e(x) = clip(floor((x + b_c) · r_c), 0, S), computed in
    `dtype` exactly as the graph computes it (one correctly rounded multiply of the exact integer
    x + b_c by the constant r_c ~ 1 / mean step, then floor and clip), proven within ±1 of
    count_c(x) = #{k : t[c, k] <= x} on every integer x of [wlo_c, whi_c] by evaluating both there
    (exhaustively: at most MAX_ESTIMATE_CHECK points in all). Outside the window the bound holds too:
    e is non-decreasing in x, and the window's ends are wlo_c = min t - 1 (count 0, so e <= 1 below)
    and whi_c = max t (count S, so e >= S - 1 above), or the ends of the proven range. None when
    some channel's estimate is off by more than one, or the windows are too wide to check."""
    channels, steps = t.shape
    span = t[:, -1] - t[:, 0]
    if steps < 2 or (span <= 0).any() or (whi - wlo + 1).sum() > MAX_ESTIMATE_CHECK:
        return None
    step = span / (steps - 1)
    r = (1.0 / step).astype(dtype)
    b = np.round(step - t[:, 0])  # e(t_0) = floor(step · r) = 1, give or take the rounding
    for c in range(channels):
        x = np.arange(wlo[c], whi[c] + 1)
        e = np.clip(np.floor((x + b[c]).astype(dtype) * r[c]), 0, steps)  # dtype * dtype: one rounding
        if np.abs(e - np.searchsorted(t[c], x, side="right")).max(initial=0) > 1:
            return None
    return r, b


def rounding_form(t: np.ndarray, wlo: np.ndarray, whi: np.ndarray):
    """(op, b, g, p) with count_c(x) = #{k : t[c, k] <= x} == clip(op((x + b_c) / g), p, S + p) - p for every
    integer x in [wlo_c, whi_c] and every channel, op "Round" (half to even, ONNX Round) or "Floor",
    g a power of two (near the median gap), b_c a multiple of 1/2 near the grid through t[c, 0]; None
    when no candidate is exact. Thresholds of a uniform quantizer are (k + 1/2)·g
    + beta_c: with round-half-even ties they alternate one above and below that grid (gaps g - 1, g + 1
    after ceil), which Round((x + b_c) / g) reproduces exactly; Floor covers an arithmetic grid.
    Every value here is a dyadic rational well below 2^24 (checked by the caller), so the float32
    graph computes exactly what this check computes in float64.

    The proof is an exhaustive comparison on the points where either side can change: both are
    non-decreasing integer step functions of x, so they are equal on [wlo, whi] when they are equal
    at wlo and at every point where one of them steps: t_k for the count, ceil((j + p - q)·g - b_c)
    and the integer after it for the estimate (q = 1/2 for Round, 0 for Floor; j = 1..S); every such
    point inside the window is checked, per channel and per candidate offset b_c."""
    channels, steps = t.shape
    gaps = np.diff(t, axis=1)
    if steps < 2 or not (gaps > 0).any():
        return None
    g0 = float(2.0 ** np.round(np.log2(np.median(gaps[gaps > 0]))))
    j = np.arange(1, steps + 1)
    offsets = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, 2.0, -2.0])  # b_c: integers or halves
    for g in (g0, g0 / 2, g0 * 2):
        for op, q, fn, p in (("Round", 0.5, np.round, 0), ("Round", 0.5, np.round, 1), ("Floor", 0.0, np.floor, 0)):
            # the grid through the first threshold; p = 1 counts from 1, which flips the parity of the
            # half-even ties (Round(y) - 1 != Round(y - 1) on ties)
            base = np.round(q * g - t[:, 0] + (g if q == 0 else 0)) + p * g
            chosen = np.full(channels, np.nan)
            for off in offsets:  # every channel at once; a channel keeps the first offset that is exact
                b = base + off
                cross = np.ceil((j[None, :] + p - q) * g - b[:, None])  # (C, S)
                pts = np.concatenate([wlo[:, None], t, cross, cross + 1], axis=1)
                pts = np.where((pts >= wlo[:, None]) & (pts <= whi[:, None]), pts, wlo[:, None])  # in the window
                count = (t[:, None, :] <= pts[:, :, None]).sum(axis=2)
                est = np.clip(fn((pts + b[:, None]) / g), p, steps + p) - p
                exact = (est == count).all(axis=1) & np.isnan(chosen)
                chosen[exact] = b[exact]
                if not np.isnan(chosen).any():
                    return op, chosen, g, p
    return None


def add_const(ctx, v: Val, c: np.ndarray) -> Val:
    """v + c (a constant broadcast to v), in the dtype exact for the sum's bound."""
    bound = v.bound + float(np.abs(c).max(initial=0))
    dtype = exact_dtype(bound)
    v = ctx.cast(v, dtype)
    return replace(v, name=ctx.emit("Add", [v.name, ctx.const(c, dtype)]), bound=bound)


def _compare(ctx, acc: Val, t: np.ndarray, values: np.ndarray, out_bound: float) -> Val:
    """Compare-and-sum; thresholds clipped to +-(the dtype's exact limit): every integer accumulator
    lies strictly inside, so a clipped threshold still passes or fails each one. One threshold: a
    GreaterOrEqual cast to float (Where with constant branches was ~5x slower in onnxruntime 1.32)."""
    limit = F32_EXACT if acc.dtype is np.float32 else F64_EXACT
    t = np.clip(t, -limit, limit)
    channels, steps = t.shape
    axis_shape = (channels,) + (1,) * (len(acc.shape) - 1) if acc.nchw else (channels,)
    if steps == 1:
        ge = ctx.emit("GreaterOrEqual", [acc.name, ctx.const(t[:, 0].reshape(axis_shape), acc.dtype)])
        count = ctx.emit("Cast", [ge], to=TensorProto.FLOAT)
    else:
        axes = ctx.const([-1], np.int64)
        a = ctx.emit("Unsqueeze", [acc.name, axes])
        ge = ctx.emit("GreaterOrEqual", [a, ctx.const(t.reshape(axis_shape + (steps,)), acc.dtype)])
        count = ctx.emit("ReduceSum", [ctx.emit("Cast", [ge], to=TensorProto.FLOAT), axes], keepdims=0)  # <= S
    return _affine_values(ctx, Val(count, np.float32, steps, acc.shape, acc.nchw), values, out_bound)


def _affine_values(ctx, count: Val, values: np.ndarray, out_bound: float) -> Val:
    """values[count] for evenly spaced values: v0 + step · count (exact small integers), as float32."""
    step, v0 = float(values[1] - values[0]), float(values[0])
    if not (np.diff(values) == step).all():
        raise OnnxUnsupported(f"{ctx.name}: thresholds whose outputs are not evenly spaced")
    name = count.name
    if step != 1:
        name = ctx.emit("Mul", [name, ctx.const(step, count.dtype)])
    if v0 != 0:
        name = ctx.emit("Add", [name, ctx.const(v0, count.dtype)])
    return ctx.cast(Val(name, count.dtype, out_bound, count.shape, count.nchw), np.float32)


