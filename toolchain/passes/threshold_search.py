"""Exact thresholds by construction: evaluate the source model's own float path on integers.

An activation chain maps an integer tensor a (an accumulator, or any integer stream) through
elementwise float ops (Mul, Add, BatchNormalization, Relu, ...) into a quantizer whose output takes
one of n+1 levels. Per channel this is a monotone step function of a, so it is exactly

    level(a) = #{k : a >= T[c, k]}          (FINN MultiThreshold semantics)

with T[c, k] = the smallest integer a whose level is >= k+1. We find every T[c, k] by a vectorized
binary search over the integer range [lo_c, hi_c], evaluating the chain with qonnx execute_onnx
(onnxruntime's float32 BatchNormalization, qonnx's Quant with its rounding mode) — the same code
that executes the source model — instead of a formula such as FINN's T = s/2 + s·t, which is
half-up and so wrong at the round-half-even ties that power-of-two scales make real.

The result is then checked: on every integer of the range at every spatial position when that is
small (8-bit pixels of an integer graph input: 256 values); else at every threshold and the integer
below it in the full spatial shape (position independence), and against the chain on every integer
of the range when the range is small, else on a random sample. A chain that disagrees is refused
(it would not be monotone).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model

from toolchain.errors import UserError

EXHAUSTIVE_BUDGET = 2**22  # chain evaluations for a check of every integer in the range
SAMPLES = 2**14  # random points per channel otherwise
CHUNK = 2**20  # elements per chain evaluation


@dataclass
class Chain:
    """src (integer tensor) -> nodes (elementwise ops, then the quantizer) -> quantizer output."""

    src: str
    nodes: list
    consts: dict[str, np.ndarray]
    opset: list
    channels: int
    spatial: tuple[int, ...]  # (H, W) of an NCHW source tensor, () for (N, C)
    levels: np.ndarray  # the quantizer's integer outputs, ascending
    scale: np.ndarray  # the quantizer's scale (as given to it)
    name: str  # for messages: the quantizer's name
    _models: dict = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return len(self.levels) - 1

    def _model(self, shape: tuple[int, ...]) -> ModelWrapper:
        if shape not in self._models:
            out = self.nodes[-1].output[0]
            graph = helper.make_graph(
                [n for n in self.nodes], "chain",
                [helper.make_tensor_value_info(self.src, TensorProto.FLOAT, list(shape))],
                [helper.make_tensor_value_info(out, TensorProto.FLOAT, list(shape))],
                initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in self.consts.items()])
            model = ModelWrapper(qonnx_make_model(graph, opset_imports=self.opset))
            self._models[shape] = model.transform(InferShapes())
        return self._models[shape]

    def level_index(self, a: np.ndarray, spatial: bool = False) -> np.ndarray:
        """Level index of every entry of a (M, C) integer array; with spatial=True each value is
        broadcast over the source's spatial dims and the result is (M, C, *spatial)."""
        outs = []
        rows = max(1, CHUNK // max(1, a.shape[1] * (int(np.prod(self.spatial)) if spatial else 1)))
        for i in range(0, len(a), rows):
            part = a[i:i + rows].astype(np.float32)
            shape = part.shape + ((self.spatial if spatial else (1,) * len(self.spatial)))
            x = np.ascontiguousarray(np.broadcast_to(part.reshape(part.shape + (1,) * len(self.spatial)), shape))
            model = self._model(shape)
            y = execute_onnx(model, {self.src: x})[self.nodes[-1].output[0]]
            q = y.astype(np.float64) / np.broadcast_to(self.scale.astype(np.float64), y.shape)
            idx = np.searchsorted(self.levels, q)
            idx = np.clip(idx, 0, self.n_steps)
            if not np.array_equal(self.levels[idx], q):
                raise UserError(f"{self.name}: the quantizer output is not on its integer grid")
            outs.append(idx if spatial else idx.reshape(part.shape))
        return np.concatenate(outs)


def direction(chain: Chain, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """+1 where the level rises (or stays) from lo to hi, -1 where it falls, per channel."""
    ends = chain.level_index(np.stack([lo, hi]))
    return np.where(ends[1] >= ends[0], 1, -1).astype(np.int64)


def search(chain: Chain, lo: np.ndarray, hi: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """T (C, n_steps): per channel c and step k, the smallest a in [lo_c, hi_c] whose level
    f(sign_c·a) >= k+1, or hi_c + 1 if there is none."""
    n = chain.n_steps
    left = np.repeat(lo[:, None], n, axis=1).astype(np.int64)
    right = np.repeat(hi[:, None] + 1, n, axis=1).astype(np.int64)
    step = np.arange(1, n + 1)[None, :]
    while (left < right).any():
        active = left < right
        mid = np.minimum((left + right) // 2, hi[:, None])
        idx = chain.level_index((sign[:, None] * mid).T).T  # rows: steps; columns: channels
        ok = idx >= step
        right = np.where(active & ok, mid, right)
        left = np.where(active & ~ok, mid + 1, left)
    return left


def count(a: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """#{k : a[m, c] >= T[c, k]} for a of shape (M, C)."""
    return (a[:, :, None] >= thresholds[None, :, :]).sum(axis=-1)


def verify(chain: Chain, thresholds: np.ndarray, lo: np.ndarray, hi: np.ndarray, sign: np.ndarray,
           seed: int = 0) -> None:
    """UserError unless the thresholds reproduce the chain (see the module docstring). A small range
    (e.g. the 8-bit pixels of an integer graph input) is checked on every integer at every spatial
    position."""
    c = chain.channels
    width = hi - lo + 1
    n_every = int(width.max()) * c  # every integer of the range, per channel

    def every() -> np.ndarray:
        return np.minimum(lo[None, :] + np.arange(int(width.max()))[:, None], hi[None, :])

    if n_every * int(np.prod(chain.spatial)) <= EXHAUSTIVE_BUDGET:
        pts = every()
        _compare(chain, _levels_everywhere(chain, sign[None, :] * pts), count(pts, thresholds))
        return
    # the steps and the integers below them, in the real spatial shape
    pts = np.clip(np.concatenate([thresholds, thresholds - 1], axis=1), lo[:, None], hi[:, None]).T
    _compare(chain, _levels_everywhere(chain, sign[None, :] * pts), count(pts, thresholds))
    if n_every <= EXHAUSTIVE_BUDGET:
        pts = every()
    else:
        rng = np.random.default_rng(seed)
        offsets = (rng.random((SAMPLES, c)) * width[None, :]).astype(np.int64)
        pts = np.minimum(lo[None, :] + offsets, hi[None, :])
    _compare(chain, chain.level_index(sign[None, :] * pts), count(pts, thresholds))


def _levels_everywhere(chain: Chain, a: np.ndarray) -> np.ndarray:
    """Level index of a (M, C) with every value broadcast over the source's spatial positions;
    UserError if two positions disagree."""
    got = chain.level_index(a, spatial=True)
    if chain.spatial:
        if not (got == got[..., :1, :1]).all():
            raise UserError(f"{chain.name}: the activation differs between spatial positions for the same "
                            "integer input (float rounding depends on the position); cannot lower exactly")
        got = got[..., 0, 0]
    return got


def _compare(chain: Chain, got: np.ndarray, want: np.ndarray) -> None:
    bad = np.argwhere(got != want)
    if len(bad):
        m, ch = bad[0]
        raise UserError(f"{chain.name}: the activation is not a monotone step function of the integer input on "
                        f"channel {ch} (level {got[m, ch]} where thresholds give {want[m, ch]}); "
                        "it cannot be lowered to thresholds exactly")
