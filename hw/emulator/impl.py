"""Timing profiles per implementation (`hil emulate --impl`): the same token schedules, each
implementation's pipeline parameters.

* `hls` (default): finn-hlslib's pipelined loops as hw.schedule documents them (DEFAULT_LATENCY 2,
  DEFAULT_IN_FLIGHT 4; docs/timing.md).
* `rtl`: the templates of hw/ops/rtl (toolchain --backend rtl). Each fires its schedule one firing per
  cycle into a registered 2-word output queue (hil_fifo, DEPTH 2): a result pushed in cycle x is
  visible from x+1 (latency 1) and a writing firing needs a free queue slot, i.e. result e-2 gone by
  x-1 (in flight 2). The schedule's reads/writes are unchanged: the RTL was written to fire exactly
  them (it is the RTL that was made to agree with the schedule, not the other way round), and the
  co-simulation (toolchain/backends/rtl_cosim.py) checks every handshake cycle against this profile.
"""

from __future__ import annotations

from dataclasses import replace

from hw.emulator.graph import TimingGraph, TimingGraphError

RTL_II = 1
RTL_LATENCY = 1
RTL_IN_FLIGHT = 2
IMPLS = ("hls", "rtl")


def with_impl(graph: TimingGraph, impl: str = "hls") -> TimingGraph:
    """The graph with every node's pipeline parameters of implementation `impl`."""
    if impl == "hls":
        return graph
    if impl != "rtl":
        raise TimingGraphError(f"unknown implementation profile {impl!r}; choose one of: {', '.join(IMPLS)}")
    nodes = tuple(replace(n, schedule=replace(n.schedule, ii=RTL_II, latency=RTL_LATENCY, in_flight=RTL_IN_FLIGHT))
                  for n in graph.nodes)
    return replace(graph, nodes=nodes)
