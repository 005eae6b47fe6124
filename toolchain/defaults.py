"""Defaults every stage shares, and the resolution of part and clock from options, model metadata and
the device table (hw/devices). One place, so that lower, estimate, emulate and build agree.

    part = resolve_part(None, model)            # --part, else the model's hil_part, else DEFAULT_PART
    clock = resolve_clock(None, model, part)    # --clock-ns, else hil_clock_ns, else the part's, else 10 ns

DEFAULT_CLOCK_NS is the 100 MHz of the default part's boards (Pynq-Z1/Z2, hw/devices/pynq-z1-z2.yaml),
used only where neither an option, the model's metadata nor a known part gives a clock.
"""

from __future__ import annotations

import math
import re
from typing import Optional

from hw.devices import DEFAULT_DEVICE, Device, UnknownDeviceError, get_device
from toolchain.errors import UserError

DEFAULT_CLOCK_NS = 10.0
DEFAULT_PART = DEFAULT_DEVICE

_XILINX_PART = re.compile(r"x[a-z]{1,3}\w+(-\w+)*")


def resolve_device(part: Optional[str]) -> Device:
    """The device of `part` (board, part or device name), DEFAULT_PART when None; UserError if unknown."""
    try:
        return get_device(part or DEFAULT_PART)
    except UnknownDeviceError as err:
        raise UserError(str(err)) from None


def known_device(part: Optional[str]) -> Optional[Device]:
    """The device of `part`, or None when `part` is empty or not in the table (no error)."""
    if not part:
        return None
    try:
        return get_device(part)
    except UnknownDeviceError:
        return None


def resolve_part(part: Optional[str], model=None) -> str:
    """--part, else the model's "hil_part", else DEFAULT_PART, as a part number: a known device/board
    name -> its part; an explicit Xilinx part string not in the table is kept as given."""
    part = part or (model.get_metadata_prop("hil_part") if model is not None else None) or DEFAULT_PART
    try:
        return get_device(part).part
    except UnknownDeviceError as err:
        if _XILINX_PART.fullmatch(part.lower()):
            return part
        raise UserError(str(err)) from None


def resolve_clock(clock_ns: Optional[float], model=None, part: Optional[str] = None) -> float:
    """--clock-ns, else the model's "hil_clock_ns", else the part's default clock, else DEFAULT_CLOCK_NS."""
    if clock_ns is None and model is not None and model.get_metadata_prop("hil_clock_ns"):
        raw = model.get_metadata_prop("hil_clock_ns")
        try:
            clock_ns = float(raw)
        except ValueError:
            raise UserError(f"metadata hil_clock_ns is not a number: {raw!r}") from None
    if clock_ns is None:
        device = known_device(part)
        clock_ns = device.default_clock_ns if device is not None else DEFAULT_CLOCK_NS
    check_clock(clock_ns)
    return float(clock_ns)


def check_clock(clock_ns: float) -> None:
    if not (clock_ns > 0 and math.isfinite(clock_ns)):  # NaN and inf too: they would print "nan fps"
        raise UserError(f"clock period must be a finite positive number, got {clock_ns} ns")
