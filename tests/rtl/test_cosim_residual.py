"""The deadlock acceptance case of issue 12: a residual fork (DuplicateStreams -> MVAU | bypass ->
AddStreams) whose bypass FIFO is too shallow deadlocks in RTL simulation exactly where the emulator
says (same handshakes up to the stall, the same FIFO full); with the FIFOs sized by the emulator
(rtl profile) it runs cycle-exact."""

import numpy as np
import pytest

from hw.emulator.fifo_sizing import size_fifos
from hw.emulator.graph import SimConfig
from hw.emulator.impl import with_impl
from hw.emulator.timing import simulate
from hw.emulator.model_graph import apply_fifo_depths, build_timing_graph
from tests.unit.test_emulator_model import residual
from toolchain.backends.rtl import build_rtl

BYPASS = "DuplicateStreams_0->AddStreams_0"


@pytest.mark.slow
def test_shallow_bypass_deadlocks_where_the_emulator_says(tmp_path):
    model, _ = residual()
    emu = simulate(with_impl(build_timing_graph(model), "rtl"), SimConfig(frames=20))
    assert emu.deadlock is not None and emu.deadlock.fifo == BYPASS
    c = build_rtl(model, tmp_path / "prj", cosim=20)["cosim"]
    assert c["rtl_deadlock"] and c["emulator_deadlock"]
    assert c["cycle_exact"] is True  # every handshake before the stall, at the same cycle
    assert c["fifo_high_water_equal"] is True
    edges = {e["name"]: e for e in c["edges"]}
    assert edges[BYPASS]["occupancy_at_end"] == edges[BYPASS]["depth"] == 2  # stuck full in RTL
    assert edges["MVAU_0->AddStreams_0"]["words"] == 0  # the MVAU never produced a word
    assert c["mismatches"] == 20  # no sample came out


@pytest.mark.slow
def test_sized_residual_cosimulates(tmp_path):
    model, w = residual()
    graph = with_impl(build_timing_graph(model), "rtl")
    sizing = size_fifos(graph)
    apply_fifo_depths(model, graph, sizing.depths)
    assert sizing.depths[BYPASS] > 2
    c = build_rtl(model, tmp_path / "prj", cosim=200, seed=3)["cosim"]
    assert c["mismatches"] == 0 and c["cycle_exact"] is True and c["fifo_high_water_equal"] is True
    assert not c["rtl_deadlock"] and np.isfinite(c["emulator_cycles"])
