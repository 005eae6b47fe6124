"""Exact-arithmetic thresholds for activation chains with float scales (not --strict).

When the source's float32 path is not reproducible by our integer graph (a float weight or input
scale moved past a MatMul/Conv, a float bias the source summed inside its Gemm; options.py), the
thresholds are those of the quantized network in EXACT real arithmetic: per channel, the chain
a -> Mul/Div/Add/Sub/BatchNormalization/Relu/Clip -> Quant is a composition of monotone maps, so its
level is a monotone step function of the integer a and

    T[c, k] = min {a : level_exact(a) >= k + 1}.

Found in two stages: a vectorized binary search evaluating the chain in float64 (fast, and correct
except within ~1e-16 relative of a rounding boundary), then a proof at every threshold with Python
Fractions: level_exact(T) >= k + 1 and level_exact(T - 1) < k + 1 (moving T until both hold), which by
monotonicity is the whole step function. The float32 constants are exact rationals; BatchNorm's
sqrt(var + eps) is exact when var + eps is a rational square, else taken to 60 digits, and a value
within 1e-45 of a rounding boundary is refused (ambiguous). FINN's own streamlining computes its
thresholds from the float32 graph (finn streamline/absorb.py AbsorbSignBiasIntoMultiThreshold,
round_thresholds), i.e. it inherits the float rounding this avoids.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
from onnx import helper

from toolchain.errors import UserError
from toolchain.passes.threshold_search import Chain, search

ROUNDINGS = ("ROUND", "HALF_EVEN", "CEIL", "FLOOR", "ROUND_TO_ZERO")
SQRT_DIGITS = 60
AMBIGUOUS = Fraction(1, 10**45)


def _attrs(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class ExactChain:
    """The chain of `Chain`, evaluated in float64 (level_index, for the search) and in Fractions."""

    def __init__(self, chain: Chain):
        self.chain = chain
        self.nodes = chain.nodes
        for n in self.nodes[:-1]:
            if n.op_type not in ("Mul", "Div", "Add", "Sub", "BatchNormalization", "Relu", "Clip"):
                raise UserError(f"{chain.name}: {n.name} ({n.op_type}) cannot be evaluated exactly")
        q = self.nodes[-1]
        mode = _attrs(q).get("rounding_mode", b"ROUND")
        self.rounding = (mode.decode() if isinstance(mode, bytes) else mode).upper()
        if q.op_type == "Quant" and self.rounding not in ROUNDINGS:
            raise UserError(f"{chain.name}: rounding mode {self.rounding} is not supported with float scales")
        self.levels = chain.levels
        self.n_steps = chain.n_steps

    # ---- constants per channel ----
    def _const(self, name: str) -> np.ndarray:
        """A constant as a per-channel float64 vector (C,), or a scalar broadcast to (C,)."""
        v = np.asarray(self.chain.consts[name], dtype=np.float64)
        c = self.chain.channels
        if v.size == 1:
            return np.full(c, float(v.ravel()[0]))
        if v.size != c:
            raise UserError(f"{self.chain.name}: constant {name} of shape {v.shape} is not per-channel; cannot "
                            "evaluate exactly")
        return v.ravel()

    def _data(self, node) -> tuple[str, str]:
        """(data input, constant input) of a binary node."""
        a, b = node.input[0], node.input[1]
        return (a, b) if b in self.chain.consts else (b, a)

    # ---- float64 ----
    def level_index(self, a: np.ndarray, spatial: bool = False) -> np.ndarray:
        y = np.asarray(a, dtype=np.float64)
        for n in self.nodes[:-1]:
            y = self._f64(n, y)
        return self._levels64(y)

    def _f64(self, n, y: np.ndarray) -> np.ndarray:
        op = n.op_type
        if op in ("Mul", "Add", "Sub", "Div"):
            x, c = self._data(n)
            k = self._const(c)[None, :]
            if op == "Sub":
                return y - k if x == n.input[0] else k - y
            if op == "Div":
                if x != n.input[0]:
                    raise UserError(f"{self.chain.name}: {n.name} divides a constant by the activation")
                return y / k
            return y * k if op == "Mul" else y + k
        if op == "BatchNormalization":
            g, b, m, v = (self._const(t)[None, :] for t in n.input[1:5])
            eps = float(np.float32(_attrs(n).get("epsilon", 1e-5)))
            return (y - m) / np.sqrt(v + eps) * g + b
        if op == "Relu":
            return np.maximum(y, 0.0)
        lo, hi = self._clip_bounds(n)
        return np.clip(y, lo, hi)

    def _clip_bounds(self, n) -> tuple[float, float]:
        at = _attrs(n)
        lo = float(at.get("min", -np.inf))
        hi = float(at.get("max", np.inf))
        if len(n.input) > 1 and n.input[1]:
            lo = float(np.asarray(self.chain.consts[n.input[1]]).ravel()[0])
        if len(n.input) > 2 and n.input[2]:
            hi = float(np.asarray(self.chain.consts[n.input[2]]).ravel()[0])
        return lo, hi

    def _quant_params(self):
        q = self.nodes[-1]
        s = self._const(q.input[1])
        z = self._const(q.input[2]) if q.op_type == "Quant" else np.zeros_like(s)
        return s, z

    def _levels64(self, y: np.ndarray) -> np.ndarray:
        q = self.nodes[-1]
        s, z = self._quant_params()
        if q.op_type == "BipolarQuant" or len(self.levels) == 2 and self.levels[0] == -1 and self.levels[1] == 1:
            return (y >= 0).astype(np.int64)
        r = y / s[None, :] + z[None, :]
        r = np.clip(r, self.levels[0], self.levels[-1])
        r = {"CEIL": np.ceil, "FLOOR": np.floor, "ROUND_TO_ZERO": np.trunc}.get(self.rounding, np.round)(r)
        return (r - self.levels[0]).astype(np.int64)

    # ---- exact ----
    def level_exact(self, c: int, a: int) -> int:
        y = Fraction(int(a))
        for n in self.nodes[:-1]:
            y = self._fr(n, c, y)
        q = self.nodes[-1]
        s, z = (Fraction(float(v[c])) for v in self._quant_params())
        if q.op_type == "BipolarQuant" or len(self.levels) == 2 and self.levels[0] == -1 and self.levels[1] == 1:
            if abs(y) < AMBIGUOUS and y != 0 and isinstance(y, Fraction) and self._approx:
                raise UserError(f"{self.chain.name}: channel {c} at {a} is within 1e-45 of the sign boundary")
            return int(y >= 0)
        r = y / s + z
        r = min(max(r, Fraction(int(self.levels[0]))), Fraction(int(self.levels[-1])))
        if self._approx and self.rounding in ("ROUND", "HALF_EVEN"):
            if abs(r - math.floor(r) - Fraction(1, 2)) < AMBIGUOUS:
                raise UserError(f"{self.chain.name}: channel {c} at {a} is within 1e-45 of a rounding tie")
        if self.rounding == "CEIL":
            k = math.ceil(r)
        elif self.rounding == "FLOOR":
            k = math.floor(r)
        elif self.rounding == "ROUND_TO_ZERO":
            k = math.trunc(r)
        else:
            k = round(r)  # Fraction.__round__: half to even, as numpy/qonnx ROUND
        return int(k - int(self.levels[0]))

    _approx = False

    def _fr(self, n, c: int, y: Fraction) -> Fraction:
        op = n.op_type
        if op in ("Mul", "Add", "Sub", "Div"):
            x, cn = self._data(n)
            k = Fraction(float(self._const(cn)[c]))
            if op == "Sub":
                return y - k if x == n.input[0] else k - y
            return {"Mul": y * k, "Add": y + k, "Div": y / k}[op]
        if op == "BatchNormalization":
            g, b, m, v = (Fraction(float(self._const(t)[c])) for t in n.input[1:5])
            eps = Fraction(float(np.float32(_attrs(n).get("epsilon", 1e-5))))
            return (y - m) / self._sqrt(v + eps) * g + b
        if op == "Relu":
            return max(y, Fraction(0))
        lo, hi = self._clip_bounds(n)
        if math.isfinite(lo):
            y = max(y, Fraction(lo))
        if math.isfinite(hi):
            y = min(y, Fraction(hi))
        return y

    def _sqrt(self, v: Fraction) -> Fraction:
        rn, rd = math.isqrt(v.numerator), math.isqrt(v.denominator)
        if rn * rn == v.numerator and rd * rd == v.denominator:
            return Fraction(rn, rd)
        self._approx = True
        with localcontext() as ctx:
            ctx.prec = SQRT_DIGITS
            return Fraction((Decimal(v.numerator) / Decimal(v.denominator)).sqrt())


def exact_thresholds(chain: Chain, lo: np.ndarray, hi: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """T (C, n_steps) for the exact chain (see the module docstring); sign as threshold_search."""
    ex = ExactChain(chain)
    t = search(ex, lo, hi, sign)
    for c in range(chain.channels):
        for k in range(chain.n_steps):
            t[c, k] = _prove(ex, c, k, int(t[c, k]), int(lo[c]), int(hi[c]), int(sign[c]))
    return t


def _prove(ex: ExactChain, c: int, k: int, t: int, lo: int, hi: int, sign: int) -> int:
    """The exact threshold near the float64 one t: the smallest a in [lo, hi] with level >= k+1, or hi+1."""
    def reached(a: int) -> bool:
        return ex.level_exact(c, sign * a) >= k + 1

    for _ in range(64):
        if t <= hi and not reached(t):
            t += 1
        elif t > lo and reached(t - 1):
            t -= 1
        else:
            return t
    raise UserError(f"{ex.chain.name}: the float64 threshold of channel {c}, step {k} is far from the exact one")
