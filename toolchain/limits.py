"""The one resource guard: before allocating anything whose size follows from a user's number
(--samples, --csim, --cosim, --frames) or a file's header (.npy shape, graph dimensions), estimate its
bytes and refuse with a line that says how much it would take.

    check_bytes("--samples 1000000000 verification inputs", n * per_sample * 4)

The limit is half the machine's physical memory, or HIL_MEMORY_LIMIT_GB when set (a CI runner or a
shared machine can lower it; a large machine can raise it).
"""

from __future__ import annotations

import math
import os

import numpy as np

from toolchain.errors import UserError

ENV = "HIL_MEMORY_LIMIT_GB"
GiB = 2**30


def memory_limit() -> int:
    """Bytes any single allocation driven by user input may take."""
    raw = os.environ.get(ENV)
    if raw:
        try:
            value = float(raw)
        except ValueError:
            raise UserError(f"{ENV} must be a number of GiB, got {raw!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise UserError(f"{ENV} must be a finite positive number of GiB, got {raw!r}")
        return int(value * GiB)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: a conservative fixed limit
        total = 8 * GiB
    return total // 2


def human(nbytes: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", GiB), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:,.1f} {unit}"
    return f"{int(nbytes)} B"


def check_bytes(what: str, nbytes: float) -> None:
    """UserError when `what` would take more than memory_limit() bytes."""
    limit = memory_limit()
    if not nbytes <= limit:  # also refuses NaN
        raise UserError(f"{what} would take {human(nbytes)} of memory, more than the limit of {human(limit)} "
                        f"(half the RAM; set {ENV} to change it)")


def check_elements(what: str, count: float, itemsize: int = 8) -> None:
    """check_bytes for `count` elements of `itemsize` bytes (float64 by default)."""
    check_bytes(what, float(count) * itemsize)


def sample_elements(model) -> float:
    """Elements one sample occupies across every tensor of a (Q)ONNX graph with static shapes
    (inputs, outputs, intermediate values): what executing or comparing it layer by layer holds."""
    graph = model.graph
    total = 0.0
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        dims = vi.type.tensor_type.shape.dim
        values = [d.dim_value for d in dims if d.HasField("dim_value")]
        if values:
            total += float(np.prod([max(v, 1) for v in values[1:]], dtype=np.float64))
    return total


def check_graph(model, what: str) -> None:
    """A graph whose declared dimensions alone (one sample, float32) exceed the limit is refused
    before anything is executed or generated for it."""
    check_bytes(f"{what}: one sample through its declared tensor shapes", sample_elements(model) * 4)


def check_samples(model, n: int, what: str, bytes_per_element: int = 8) -> None:
    """n samples through every tensor of `model` (float64, as the reference executions keep them)."""
    check_bytes(f"{what} ({n:,} samples through every tensor)", float(n) * sample_elements(model) * bytes_per_element)
