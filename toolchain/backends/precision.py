"""Typed precisions for the HLS backends: the one place where a qonnx DataType becomes an HLS type.

A tensor of the dataflow IR travels through the HLS project in one of two encodings:

* ``Enc.INT``: the integer value itself, in ``ap_int<b>`` / ``ap_uint<b>`` (INTb, UINTb, BINARY,
  TERNARY ...);
* ``Enc.BIT``: a BIPOLAR tensor (values -1/+1) as one bit, 0 <-> -1 and 1 <-> +1 (FINN's hardware
  encoding of BIPOLAR streams).

Strings such as ``ap_int<4>`` exist only at the edge (`IntType.hls`), for hls4ml's config.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from qonnx.core.datatype import DataType


class PrecisionError(ValueError):
    """A datatype with no exact HLS integer representation (the message says which)."""


class Enc(Enum):
    INT = "int"
    BIT = "bit"  # BIPOLAR as a bit: hw = (v + 1) / 2

    def to_hw(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        return (values + 1.0) / 2.0 if self is Enc.BIT else values

    def from_hw(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        return 2.0 * values - 1.0 if self is Enc.BIT else values


@dataclass(frozen=True)
class IntType:
    """An arbitrary-precision integer type: ap_int<bits> (signed) or ap_uint<bits>."""

    bits: int
    signed: bool

    def __post_init__(self):
        if self.bits < 1:
            raise PrecisionError(f"invalid integer width {self.bits}")

    @property
    def lo(self) -> int:
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1

    def covers(self, lo: float, hi: float) -> bool:
        return self.lo <= lo and hi <= self.hi

    @property
    def hls(self) -> str:
        return f"ap_int<{self.bits}>" if self.signed else f"ap_uint<{self.bits}>"

    @classmethod
    def covering(cls, lo: float, hi: float) -> "IntType":
        """The narrowest type holding every integer in [lo, hi] (unsigned when lo >= 0)."""
        lo, hi = int(lo), int(hi)
        if lo >= 0:
            return cls(max(1, int(hi).bit_length()), False)
        bits = max((-lo - 1).bit_length(), max(hi, 0).bit_length()) + 1
        return cls(bits, True)

    @classmethod
    def of_values(cls, values: np.ndarray) -> "IntType":
        values = np.asarray(values)
        if values.size == 0:
            return cls(1, False)
        return cls.covering(values.min(), values.max())


@dataclass(frozen=True)
class TensorType:
    """How one IR tensor is carried: its IR datatype, the HLS type and the encoding."""

    dtype: str  # qonnx DataType name, e.g. "INT4", "BIPOLAR"
    hw: IntType
    enc: Enc

    @property
    def lo(self) -> int:
        return int(DataType[self.dtype].min())

    @property
    def hi(self) -> int:
        return int(DataType[self.dtype].max())


def _integer(dt: DataType, what: str) -> DataType:
    if not dt.is_integer():
        raise PrecisionError(f"{what} has datatype {dt.name}, which is not an integer type; the dataflow IR must "
                             "carry integers (re-run the lowering so scales are absorbed into thresholds)")
    return dt


def stream_type(dt: DataType | str, what: str = "tensor") -> TensorType:
    """The HLS type of an activation stream of IR datatype `dt`."""
    dt = _integer(DataType[dt] if isinstance(dt, str) else dt, what)
    if dt == DataType["BIPOLAR"]:
        return TensorType(dt.name, IntType(1, False), Enc.BIT)
    return TensorType(dt.name, IntType.covering(dt.min(), dt.max()), Enc.INT)


def value_type(dt: DataType | str, what: str = "value") -> IntType:
    """The HLS type holding the values of datatype `dt` as they are (BIPOLAR weights: -1/+1 in ap_int<2>)."""
    dt = _integer(DataType[dt] if isinstance(dt, str) else dt, what)
    return IntType.covering(dt.min(), dt.max())


def check_integral(values: np.ndarray, what: str) -> np.ndarray:
    """Integer-valued float arrays as int64 (refused when a value is not an integer)."""
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)) or not np.array_equal(values, np.round(values)):
        raise PrecisionError(f"{what} holds non-integer values")
    return values.astype(np.int64)
