"""Threshold counting (MVAU / Thresholding): the numba kernel of `execute` (compiled on first use:
numba costs start-up) and the lookup tables of the compiled values path (numpy only).

count[i, c] = #{k : x[i, c] >= T[c, k]} (FINN MultiThreshold).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

F32_EXACT = 2**24  # integers below this are exact in float32
F64_EXACT = 2**53  # ... in float64
MAX_TABLE = 1 << 22  # table entries above which the plan falls back to a searchsorted
# Values per block of a fused layer kernel (MVAU GEMM + thresholds, Thresholding): the block's
# accumulator (float32), table index (intp) and output stay in the 1 MiB L2 of a core while the
# threshold passes run over them (whole-chunk passes went to DRAM: ~4x slower on digits-cnn MVAU_0).
BLOCK_VALUES = 1 << 15
MAX_COMPARE_STEPS = 2  # up to this many thresholds: compare-and-sum (one pass each) beats the table's 4


def _threshold_counts_py(flat, thr):  # pragma: no cover - compiled by numba
    """count[i, c] = #{k : flat[i, c] >= thr[c, k]}, branch-free so it vectorizes; exact on any values
    (4.4x numpy's per-channel searchsorted, 75 % of emulation time before)."""
    m, channels = flat.shape
    out = np.empty((m, channels), dtype=np.float64)
    for i in range(m):
        for c in range(channels):
            v = flat[i, c]
            n = 0
            for s in range(thr.shape[1]):
                n += v >= thr[c, s]
            out[i, c] = n
    return out


@lru_cache(maxsize=1)
def _compiled():
    from numba import njit

    return njit(cache=True)(_threshold_counts_py)


def threshold_counts(flat, thr):
    return _compiled()(flat, thr)


@dataclass(frozen=True)
class ThresholdTable:
    """out[..., c] = values[c][#{k : x >= T[c, k]}] for integer x, as one gather:
    idx = clip(x, lo_c, hi_c) + shift_c, out = table[idx], where channel c's window [lo_c, hi_c] =
    [min T_c - 1, max T_c] of the integer-rounded thresholds (x >= t  <=>  x >= ceil(t) for integer x):
    below the window nothing passes, above it everything does, so clipping keeps every count exact
    for any integer x. Windows are laid end to end in `table` (shift_c = start_c - lo_c)."""

    lo: np.ndarray  # (C,) in the compute dtype
    hi: np.ndarray
    shift: np.ndarray
    table: np.ndarray  # (sum of window sizes,) output values
    sorted_keys: np.ndarray | None  # for a table too large: the window-shifted thresholds, ascending
    starts: np.ndarray | None
    dtype: type

    scratch = True  # apply overwrites acc

    @property
    def out_dtype(self):
        return self.table.dtype

    def blocked(self, rows: int):
        """apply(acc, out): out[...] = self(acc) for blocks acc (n <= rows, C), contiguous and
        integer-valued, used as scratch. The per-channel constants are tiled to the block once, so
        every pass is one contiguous loop (numpy broadcasting a (C,) row runs one inner loop per row:
        5x slower for C = 16). Adding the shift before clipping is exact: inside the window acc +
        shift lies in [0, table size) (< 2^24, exact), and outside it rounding is monotonic, so a value
        below (above) the window lands at or below (above) the window's first (last) entry, whose
        count (0, all) is the right one. Indices are int32 (tables hold <= MAX_TABLE entries)."""
        tile = lambda v: np.tile(np.asarray(v, dtype=self.dtype), (rows, 1))  # noqa: E731
        shift, lo, hi = tile(self.shift), tile(self.lo + self.shift), tile(self.hi + self.shift)

        def apply(acc: np.ndarray, out: np.ndarray) -> None:
            if self.sorted_keys is not None or acc.dtype != self.dtype:
                out[...] = self(acc)
                return
            n = len(acc)
            np.add(acc, shift[:n], out=acc)
            np.maximum(acc, lo[:n], out=acc)
            np.minimum(acc, hi[:n], out=acc)
            idx = np.empty(acc.shape, dtype=np.int32)
            np.copyto(idx, acc, casting="unsafe")
            np.take(self.table, idx, out=out, mode="clip")  # in range already; "raise" buffers `out`

        return apply

    def __call__(self, x: np.ndarray) -> np.ndarray:
        k = np.maximum(x, self.lo, dtype=self.dtype)
        np.minimum(k, self.hi, out=k)
        k += self.shift
        if self.sorted_keys is None:
            return self.table.take(k.astype(np.intp))
        # count = #{shifted thresholds <= key} - #{thresholds of earlier channels}
        count = np.searchsorted(self.sorted_keys, k, side="right") - self.starts
        return self.table.take(count)


@dataclass(frozen=True)
class ThresholdCompare:
    """out[..., c] = v0 + step · #{k : x >= T[k, c]} by one compare per threshold, for few thresholds
    (MAX_COMPARE_STEPS: a BIPOLAR activation is one compare). T holds the ceiled thresholds clipped to
    [-L, L], L = 2^24 in float32 (inputs proven below 2^24 in magnitude), else 2^53 in float64: for
    an integer x with |x| < L, x >= t <=> x >= ceil(t), and a clipped threshold still passes or fails
    every such x."""

    thr: np.ndarray  # (S, C)
    v0: int
    step: int
    out_dtype: type
    dtype: type

    scratch = False  # apply reads acc only (the table's apply overwrites it)

    def blocked(self, rows: int):
        """apply(acc, out): out[...] = self(acc) for blocks acc (n <= rows, C) of any integer-valued
        dtype (a compare promotes exactly), read only; thresholds tiled to the block (see
        ThresholdTable.blocked)."""
        thr = np.ascontiguousarray(np.repeat(self.thr[:, None, :], rows, axis=1))  # (S, rows, C)

        def apply(acc: np.ndarray, out: np.ndarray) -> None:
            n = len(acc)
            count = np.empty(acc.shape, dtype=np.int8)
            np.greater_equal(acc, thr[0, :n], out=count.view(np.bool_))
            if len(thr) > 1:
                passed = np.empty(acc.shape, dtype=np.bool_)
                for t in thr[1:]:
                    np.greater_equal(acc, t[:n], out=passed)
                    np.add(count, passed, out=count, casting="unsafe")
            if self.step == 1 and self.v0 == 0:
                np.copyto(out, count, casting="unsafe")
            else:
                np.multiply(count, self.step, out=out, casting="unsafe")
                np.add(out, self.v0, out=out, casting="unsafe")

        return apply

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        flat = x.reshape(-1, self.thr.shape[1])
        out = np.empty(flat.shape, dtype=self.out_dtype)
        self.blocked(len(flat))(flat, out)
        return out.reshape(x.shape)


def threshold_kernel(thr: np.ndarray, channels: int, values: np.ndarray, bound: float):
    """The fastest exact kernel for thresholds `thr` ((C, S) or (1, S)) whose count n maps to
    values[n], for integer inputs of magnitude <= `bound`: compare-and-sum for few thresholds with
    evenly spaced values, else the lookup table."""
    values = np.asarray(values)
    t = np.asarray(thr, dtype=np.float64)
    t = np.repeat(t, channels, axis=0) if t.shape[0] == 1 and channels != 1 else t
    steps = np.diff(values)
    if t.shape[1] <= MAX_COMPARE_STEPS and (steps == steps[0]).all() and bound < F64_EXACT:
        dtype = np.float32 if bound < F32_EXACT else np.float64
        limit = F32_EXACT if dtype is np.float32 else F64_EXACT
        t = np.clip(np.ceil(t), -limit, limit)
        return ThresholdCompare(np.ascontiguousarray(t.T, dtype=dtype), int(values[0]), int(steps[0]),
                                small_int_dtype(values), dtype)
    return threshold_table(t, channels, values)


def small_int_dtype(values: np.ndarray):
    """The narrowest of int8 / int16 / int32 holding `values` (integers), else float64. Output values
    are stored this narrow on purpose: the gather from an int8 table is ~4x faster than from float32
    (cache footprint), and every consumer casts to its own compute dtype exactly."""
    for dt in (np.int8, np.int16, np.int32):
        if np.iinfo(dt).min <= values.min() and values.max() <= np.iinfo(dt).max:
            return dt
    return np.float64


def threshold_table(thr: np.ndarray, channels: int, values: np.ndarray) -> ThresholdTable:
    """The table of thresholds `thr` ((C, S) or (1, S) broadcast) whose count n maps to values[n]
    (integers), stored as small_int_dtype(values)."""
    out_dtype = small_int_dtype(np.asarray(values))
    t = np.asarray(thr, dtype=np.float64)
    t = np.repeat(t, channels, axis=0) if t.shape[0] == 1 and channels != 1 else t
    t = np.sort(np.ceil(t), axis=1)  # a count does not depend on the order of its thresholds
    lo, hi = t[:, 0] - 1, t[:, -1]
    size = (hi - lo + 1).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(size)[:-1]])
    shift = starts - lo
    span = max(np.abs(lo).max(), np.abs(hi).max()) + np.abs(shift).max() + size.sum()
    dtype = np.float32 if span < F32_EXACT else np.float64
    if size.sum() <= MAX_TABLE:
        # every channel's window at once: position p of channel c holds x = p - shift_c, and its
        # count #{k : T[c, k] <= x} is #{shifted thresholds <= p} minus the earlier channels' S each:
        # a running sum of the (integer) shifted thresholds' positions
        keys = (t + shift[:, None]).ravel().astype(np.int64)  # all inside [0, size.sum())
        channel = np.repeat(np.arange(len(t)), size)
        count = np.cumsum(np.bincount(keys, minlength=int(size.sum()))) - channel * t.shape[1]
        table = np.asarray(values)[count].astype(out_dtype)
        return ThresholdTable(lo.astype(dtype), hi.astype(dtype), shift.astype(dtype), table, None, None, dtype)
    keys = (t + shift[:, None]).ravel()  # channel windows are disjoint and ascending: one sorted array
    firsts = np.arange(len(t)) * t.shape[1]
    return ThresholdTable(lo.astype(dtype), hi.astype(dtype), shift.astype(dtype),
                          np.asarray(values, dtype=out_dtype), keys.astype(dtype), firsts, dtype)
