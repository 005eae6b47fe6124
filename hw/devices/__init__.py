"""FPGA parts and boards as data: one YAML per part in this folder (docs/finn.md §3.6).

    get_device("Pynq-Z2") == get_device("xc7z020clg400-1") == get_device("xc7z020") == get_device("pynq-z1-z2")
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

from hw.cost.resources import KEYS, Resources

_DIR = Path(__file__).parent


class UnknownDeviceError(LookupError):
    """No device matches the name; the message lists the known names."""


@dataclass(frozen=True)
class Device:
    name: str
    part: str
    boards: tuple[str, ...]
    LUT: int
    FF: int
    BRAM_18K: int
    URAM: int
    DSP: int
    dma_bits: int
    default_clock_ns: float
    dsp_block: str
    source: str

    @property
    def resources(self) -> Resources:
        """Total resources of the part, as a Resources value."""
        return Resources(**{k: getattr(self, k) for k in KEYS})

    def utilization(self, used: Resources) -> dict[str, float]:
        """Used / available per resource (0 for a resource the part lacks and the design does not use;
        inf where the design needs a resource the part lacks)."""
        out = {}
        for key in KEYS:
            have, need = getattr(self, key), getattr(used, key)
            out[key] = need / have if have else (0.0 if need == 0 else float("inf"))
        return out

    def fits(self, used: Resources) -> bool:
        return all(u <= 1.0 for u in self.utilization(used).values())


def _load(path: Path) -> Device:
    import yaml

    raw = yaml.safe_load(path.read_text())
    names = {f.name for f in fields(Device)}
    missing = names - raw.keys()
    if missing:
        raise ValueError(f"{path.name}: missing {sorted(missing)}")
    raw["boards"] = tuple(raw["boards"])
    return Device(**{k: raw[k] for k in names})


@lru_cache(maxsize=1)
def all_devices() -> dict[str, Device]:
    """File stem -> Device, for every YAML in hw/devices."""
    return {p.stem: _load(p) for p in sorted(_DIR.glob("*.yaml"))}


# A Xilinx part number is device + package + speed grade (UG1099 / DS180 ordering information):
# xc7z020 clg400 -1, xcku115 -flvb2104 -2-e. What follows the device is a package code or a '-'.
_AFTER_DEVICE = re.compile(r"([a-z]{2,4}\d{3,4})?-.*|[a-z]{2,4}\d{3,4}")


def device_of(part: str) -> str:
    """The Xilinx device of a part number, the part up to its package (xc7z020clg400-1 -> xc7z020,
    xcu250-figd2104-2L-e -> xcu250): the shortest prefix that the rest reads as package and speed."""
    part = part.lower()
    for end in range(1, len(part) + 1):
        if _AFTER_DEVICE.fullmatch(part[end:]) and any(c.isdigit() for c in part[:end]):
            return part[:end]
    return part


def _index() -> dict[str, Device]:
    index: dict[str, Device] = {}
    for stem, dev in all_devices().items():
        for key in (stem, dev.name, dev.part, device_of(dev.part), *dev.boards):
            index[key.lower()] = dev
    return index


def get_device(name: str) -> Device:
    """A device by part number, Xilinx device (the part without package and speed: xc7z020), board name,
    device name or file stem (case-insensitive)."""
    dev = _index().get(str(name).strip().lower())
    if dev is None:
        known = ", ".join(f"{d.name} ({d.part})" for d in all_devices().values())
        raise UnknownDeviceError(f"unknown FPGA part or board '{name}'; known: {known}")
    return dev


DEFAULT_DEVICE = "xc7z020clg400-1"

__all__ = ["Device", "UnknownDeviceError", "get_device", "all_devices", "DEFAULT_DEVICE"]
