"""FIFO sizing by simulation (docs/finn.md §4.4, docs/timing.md §5.2).

1. Run with unbounded FIFOs and the source as fast as accepted: the reference interval (the best the
   design can do; the slowest node, or the DMA, sets it).
2. Run with unbounded FIFOs and the source throttled to one frame every max(max node cycles,
   reference interval) cycles, for >= 2 frames (FINN's large-FIFO method without its artefact: an
   unthrottled source makes FIFOs in front of slow nodes grow with the run length). Each FIFO's
   high-water mark is the smallest depth that never stalled its producer on that run.
3. Depths := high-water marks, optionally rounded like FINN's optimize_depth (≤2 → 2, ≤32 → 32;
   finn set_fifo_depths.py) -- `DepthRounding.FINN`. The default, `EXACT`, keeps the mark itself but
   never below 2 (depth-1 Q_srl FIFOs are invalid, FINN PR #1284; 2 is also what an edge without a
   FIFO node offers, graph.DEFAULT_EDGE_CAPACITY).
4. Re-run with those depths and the source as fast as accepted. The sizing is proven when that run
   has no deadlock and the same interval as step 1. Otherwise the FIFOs the run filled (high-water
   mark == depth, or the FIFOs named by the deadlock) are doubled and step 4 repeats, at most
   `max_rounds` times; `full_throughput` says whether the proof succeeded.
5. Optional (`shrink=True`): the marks are sufficient, not necessary -- a FIFO in front of the
   bottleneck node may fill without costing throughput (FINN caps SWG->MVAU FIFOs for the same
   reason, CapConvolutionFIFODepths). Each FIFO, deepest first, is binary-searched down to the
   smallest depth that keeps the interval and no deadlock, the others held at their current depths
   (more capacity never delays an event, so the search is sound; the final run re-proves the set).
   Costs about log2(depth) simulations per FIFO.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace

from hw.emulator.deadlock import Wait
from hw.emulator.graph import SimConfig, TimingGraph
from hw.emulator.timing import TimingResult, simulate


MIN_DEPTH = 2


class DepthRounding(enum.Enum):
    EXACT = "exact"
    FINN = "finn"


def finn_optimize_depth(depth: int) -> int:
    """finn set_fifo_depths.py:optimize_depth: Q_srl FIFOs gain nothing below 32 words."""
    if depth <= 2:
        return 2
    if depth <= 32:
        return 32
    return depth


@dataclass(frozen=True)
class FifoSizing:
    depths: dict[str, int]  # chosen depth per FIFO edge
    hwm: dict[str, int]  # high-water marks of the throttled unbounded run
    source_interval: int  # the throttle used for the marks
    interval_unbounded: float  # step 1
    interval_sized: float | None  # step 4 (None if it still deadlocks)
    full_throughput: bool
    rounds: int  # re-simulations in step 4
    result: TimingResult  # the final verifying run

    def describe(self) -> str:
        state = "full throughput" if self.full_throughput else "NOT full throughput"
        return (f"FIFO depths {self.depths}: interval {self.interval_sized} vs {self.interval_unbounded} "
                f"unbounded ({state}, {self.rounds} verification runs)")


class FifoSizingError(RuntimeError):
    """The design cannot run even with unbounded FIFOs (a node schedule deadlocks by itself)."""


def size_fifos(graph: TimingGraph, config: SimConfig = SimConfig(frames=3),
               rounding: DepthRounding = DepthRounding.EXACT, max_rounds: int = 8, shrink: bool = False) -> FifoSizing:
    frames = max(config.frames, 2)
    free = replace(config, frames=frames, source_interval=None, arrivals=None)
    unbounded = graph.with_capacities(unbounded=True)
    ref = simulate(unbounded, free)
    if ref.deadlock is not None:
        raise FifoSizingError(f"deadlock with unbounded FIFOs: {ref.deadlock.describe()}")
    throttle = max(graph.max_node_cycles(), math.ceil(ref.interval))
    marks = simulate(unbounded, replace(free, source_interval=throttle)).hwm()
    pick = finn_optimize_depth if rounding is DepthRounding.FINN else (lambda d: max(d, MIN_DEPTH))
    depths = {name: pick(h) for name, h in marks.items()}
    rounds = 0
    while True:
        rounds += 1
        run = simulate(graph.with_capacities(depths), free)
        ok = run.deadlock is None and run.interval <= ref.interval
        if ok or rounds >= max_rounds:
            break
        if run.deadlock is not None:
            grow = {s.fifo for s in run.deadlock.cycle if s.wait is Wait.FULL}
        else:
            grow = {n for n, f in run.fifos.items() if f.capacity is not None and f.hwm >= f.capacity}
        if not grow:
            break
        depths = {n: (2 * d if n in grow else d) for n, d in depths.items()}
    if ok and shrink:
        depths = _shrink(graph, depths, free, ref.interval)
        depths = {n: pick(d) for n, d in depths.items()}
        run = simulate(graph.with_capacities(depths), free)
        ok = run.deadlock is None and run.interval <= ref.interval
        rounds += 1
    return FifoSizing(depths=depths, hwm=marks, source_interval=throttle, interval_unbounded=ref.interval,
                      interval_sized=run.interval, full_throughput=ok, rounds=rounds, result=run)


def _shrink(graph: TimingGraph, depths: dict[str, int], config: SimConfig, interval: float) -> dict[str, int]:
    depths = dict(depths)
    for name in sorted(depths, key=lambda n: -depths[n]):
        lo, hi = MIN_DEPTH, depths[name]  # hi is known to keep the interval
        while lo < hi:
            mid = (lo + hi) // 2
            r = simulate(graph.with_capacities({**depths, name: mid}), config)
            if r.deadlock is None and r.interval <= interval:
                hi = mid
            else:
                lo = mid + 1
        depths[name] = hi
    return depths
