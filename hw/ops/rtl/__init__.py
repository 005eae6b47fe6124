"""SystemVerilog templates of the dataflow ops and what an op's `rtl_module` returns.

Each op's `rtl_module(node, model)` (hw/ops/<op>.py) names its template here (hil_<op>.sv), fills its
parameters and packs its initializers into $readmemh files; toolchain/backends/rtl.py wires the
instances into a top level. Every template fires like its op's `token_schedule()`: one firing per
cycle when its input word is there (if the firing reads) and its 2-word output queue has room (if
it writes) -- the `rtl` timing profile of hw/emulator/impl.py (latency 1, in flight 2).

Stream encoding (FINN's): element i of a word at bits [i*bits +: bits], two's complement for signed
types, BIPOLAR as one bit (1 = +1, 0 = -1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np
from qonnx.core.datatype import DataType

TEMPLATE_DIR = Path(__file__).parent
COMMON_SOURCES = ("hil_pkg.sv", "hil_fifo.sv")  # every project needs these (package, queue/edge FIFO)
UNSIGNED, SIGNED, BIPOLAR = 0, 1, 2  # hil_pkg element modes


class RtlUnsupported(ValueError):
    """The op's configuration has no RTL template; the message names the node and what to change."""


@dataclass(frozen=True)
class RtlModule:
    """One op instance: its template module, parameter values and memory-initialization files."""

    module: str  # SystemVerilog module name (the template file is <module>.sv)
    params: dict[str, Union[int, str]]
    in_widths: tuple[int, ...]  # bits per word of each stream input
    out_widths: tuple[int, ...]
    mem_files: dict[str, str] = field(default_factory=dict)  # file name -> $readmemh text

    @property
    def source(self) -> str:
        return f"{self.module}.sv"


def mode(dt: DataType) -> int:
    """hil_pkg element mode of a datatype."""
    if dt == DataType["BIPOLAR"]:
        return BIPOLAR
    return SIGNED if dt.signed() else UNSIGNED


def element_bits(dt: DataType) -> int:
    return dt.bitwidth()


def encode(values: np.ndarray, dt: DataType) -> np.ndarray:
    """Integer values -> their unsigned bit patterns (object array of Python ints)."""
    v = np.asarray(values)
    if dt == DataType["BIPOLAR"]:
        return (v > 0).astype(object) * 1
    bits = dt.bitwidth()
    return np.vectorize(lambda x: int(x) & ((1 << bits) - 1), otypes=[object])(v)


def decode(patterns: np.ndarray, dt: DataType) -> np.ndarray:
    """Bit patterns -> integer values (float64, as the emulator's tensors)."""
    p = np.asarray(patterns, dtype=object)
    if dt == DataType["BIPOLAR"]:
        return np.where(p.astype(np.int64) > 0, 1.0, -1.0)
    bits = dt.bitwidth()
    if dt.signed():
        return np.vectorize(lambda x: float(x - (1 << bits) if x >> (bits - 1) else x), otypes=[float])(p)
    return p.astype(np.float64)


def pack(words: np.ndarray, bits: int) -> list[int]:
    """(n_words, lanes) bit patterns -> one integer per word, lane i at bits [i*bits +: bits]."""
    out = []
    for row in np.asarray(words, dtype=object).reshape(len(words), -1):
        word = 0
        for i, x in enumerate(row):
            word |= int(x) << (i * bits)
        out.append(word)
    return out


def unpack(words: list[int], bits: int, lanes: int) -> np.ndarray:
    mask = (1 << bits) - 1
    return np.array([[(w >> (i * bits)) & mask for i in range(lanes)] for w in words], dtype=object)


def memh(words: list[int], width: int) -> str:
    """$readmemh text: one word per line, zero-padded hex."""
    digits = max(1, -(-width // 4))
    return "".join(f"{w:0{digits}x}\n" for w in words)


def signed_bits(lo: float, hi: float) -> int:
    """Smallest two's-complement width holding [lo, hi]."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def signed_patterns(values: np.ndarray, bits: int) -> np.ndarray:
    mask = (1 << bits) - 1
    return np.vectorize(lambda x: int(x) & mask, otypes=[object])(np.asarray(values))
