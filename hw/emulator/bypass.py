"""Depths of the FIFOs on reconvergent paths (a residual bypass), found by simulation.

A fork (DuplicateStreams) writes every word to all its outputs at once; the join (AddStreams) reads
one word from each input at once. While the long branch (SWG + MVAU: it buffers rows of the image
before its first output) fills, the bypass must hold every word the fork has written meanwhile. A
depth-2 bypass FIFO fills, the fork stops, the long branch starves: the design deadlocks (FINN sizes
these FIFOs by RTL simulation for the same reason, finn/transformation/fpgadataflow/set_fifo_depths.py
InsertAndSetFIFODepths; docs/finn.md §4.4).

Both uses below run the design with the named FIFOs unbounded and every other capacity as it is: if
that run completes, it is the very run the design makes with those FIFOs as deep as their high-water
marks (a capacity that is never reached never delays an event), so those marks are depths that let the
design run -- no guess, a proof by the same simulation.
"""

from __future__ import annotations

from typing import Iterable, Optional

from hw.emulator.deadlock import Deadlock, Wait
from hw.emulator.fifo_sizing import MIN_DEPTH
from hw.emulator.graph import SimConfig, TimingGraph
from hw.emulator.timing import simulate


def fork_edges(graph: TimingGraph) -> list[str]:
    """The FIFO edges leaving a node with more than one stream output (a fork)."""
    outs: dict[str, list[str]] = {}
    for e in graph.edges:
        if e.src is not None:
            outs.setdefault(e.src, []).append(e.name)
    return [name for names in outs.values() if len(names) > 1 for name in names]


def unblocking_depths(graph: TimingGraph, fifos: Iterable[str], config: SimConfig) -> Optional[dict[str, int]]:
    """Depths of `fifos` (their high-water marks, at least 2) with which the design runs, the other
    capacities unchanged; None when it deadlocks even with these FIFOs unbounded."""
    fifos = list(fifos)
    run = simulate(graph.with_capacities({n: None for n in fifos}), config)
    if run.deadlock is not None:
        return None
    marks = run.hwm()
    return {n: max(marks[n], MIN_DEPTH) for n in fifos}


def sufficient_depths(graph: TimingGraph, candidates: Iterable[str], config: SimConfig) -> Optional[dict[str, int]]:
    """New depths for some of `candidates` with which the design runs, every other FIFO as it is:
    None when even unbounded candidates deadlock. Candidates whose current depth turns out to suffice
    (e.g. the promptly read long branch of a fork) are left out, one at a time, each removal proven by
    a run; the rest get the high-water marks of a run with only them unbounded."""
    depths = unblocking_depths(graph, candidates, config)
    if depths is None:
        return None
    current = {e.name: e.capacity for e in graph.edges}
    depths = {n: d for n, d in depths.items() if current[n] is not None and d > current[n]}
    for name in sorted(depths, key=lambda n: depths[n]):
        trial = {n: d for n, d in depths.items() if n != name}
        if simulate(graph.with_capacities(trial), config).deadlock is None:
            depths = trial
    return unblocking_depths(graph, depths, config) or depths


def bypass_depths(graph: TimingGraph, config: SimConfig = SimConfig(frames=3)) -> dict[str, int]:
    """Depths of the fork-output FIFOs (a residual bypass) that let the design run, only where the
    current depth does not; {} when the design has no fork or deadlocks for another reason."""
    forks = fork_edges(graph)
    return (sufficient_depths(graph, forks, config) or {}) if forks else {}


def deadlock_fix(graph: TimingGraph, deadlock: Deadlock, config: SimConfig) -> Optional[dict[str, int]]:
    """Depths for the full FIFOs of a deadlock's waiting cycle with which the design runs (the other
    FIFOs as they are), or None when deepening them alone does not help."""
    full = [s.fifo for s in deadlock.cycle if s.wait is Wait.FULL]
    return (sufficient_depths(graph, full, config) or None) if full else None


def describe_fix(fix: Optional[dict[str, int]]) -> str:
    """The sentence the deadlock error ends with."""
    if not fix:
        return "; deepening the full FIFOs alone does not fix it: run with --size-fifos"
    named = ", ".join(f"{n} to depth {d}" for n, d in sorted(fix.items()))
    return f"; fix: deepen {named} (or run with --size-fifos)"
