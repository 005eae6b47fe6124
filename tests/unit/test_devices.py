"""Devices: every YAML loads, lookups by part/board/name, FINN platform totals, DSP family."""

import pytest

from hw.cost.finn import dsp_block
from hw.cost.resources import Resources
from hw.devices import UnknownDeviceError, all_devices, get_device


def test_lookup_by_part_board_and_name():
    assert get_device("Pynq-Z2") is get_device("xc7z020clg400-1") is get_device("pynq-z1")
    assert get_device("zcu104").part == "xczu7ev-ffvc1156-2-e"
    assert get_device("VP9P") is get_device("xcvu9p-flga2104-2L-e")


def test_lookup_by_xilinx_device():
    """The device alone, as `hil synth DIR --part xc7z020` is written: the part up to its package."""
    assert get_device("xc7z020") is get_device("xc7z020clg400-1")
    assert get_device("XCU250") is get_device("xcu250-figd2104-2L-e")
    assert get_device("xczu3eg") is get_device("Ultra96")
    for prefix in ("xc7", "xc7z0", "xczu3", "xcu2"):  # not a device: no guessing from a prefix
        with pytest.raises(UnknownDeviceError):
            get_device(prefix)


def test_unknown_part_lists_known_names():
    with pytest.raises(UnknownDeviceError, match=r"unknown FPGA part or board 'xc7z999'.*xc7z020clg400-1.*U250"):
        get_device("xc7z999")


@pytest.mark.parametrize("name,totals,dma", [
    ("Pynq-Z1", (53200, 106400, 280, 0, 220), 64),          # FINN platforms.py Zynq7020
    ("Ultra96", (71000, 142000, 412, 0, 360), 128),          # ZU3EG
    ("ZCU104", (230000, 460000, 610, 92, 1728), 128),        # ZU7EV
    ("ZCU102", (274000, 548000, 1824, 0, 2520), 128),        # ZU9EG
    ("U250", (4 * 375000, 4 * 750000, 4 * 1152, 4 * 320, 4 * 2880), 512),
    ("U55C", (386000 + 364000 + 381000, 773000 + 729000 + 763000, 1200 + 1152 + 1200, 960, 2664 + 2784 + 2856), 512),
    ("VU9P", (1182240, 2364480, 4320, 960, 6840), 512),
    ("KU115", (663360, 1326720, 4320, 0, 5520), 512),
])
def test_totals(name, totals, dma):
    d = get_device(name)
    assert (d.LUT, d.FF, d.BRAM_18K, d.URAM, d.DSP) == totals
    assert d.dma_bits == dma


def test_every_yaml_is_consistent():
    devs = all_devices()
    assert len(devs) == 8
    for d in devs.values():
        assert d.dsp_block == dsp_block(d.part)
        assert d.default_clock_ns > 0


def test_utilization_and_fit():
    d = get_device("Pynq-Z2")
    used = Resources(LUT=26600, BRAM_18K=280, DSP=0)
    util = d.utilization(used)
    assert util["LUT"] == 0.5 and util["BRAM_18K"] == 1.0 and d.fits(used)
    assert not d.fits(Resources(URAM=1)) and d.utilization(Resources(URAM=1))["URAM"] == float("inf")
