"""The timing engine: exact stream-transaction times of a dataflow design (docs/timing.md §5.2).

    result = simulate(graph, SimConfig(frames=3, dma_bits=64))

returns a `TimingResult`: per-frame latency (first input word written by the DMA to last output word
read by the sink, in cycles), the steady-state frame interval, per node busy / stall_in / stall_out
cycles, per FIFO high-water marks, and the event arrays (every word's write and read cycle on every
FIFO; every node's first and last firing per frame) for plots. A deadlocked design gives a result
whose `deadlock` names the waiting cycle and whose timing fields are None: never a hang.

Definitions (all integers are cycles):
* busy = firings · II (issue slots, idle firings included); stall_in = cycles a firing waited past
  x(f-1)+II for an input word (including the wait for the first word); stall_out = cycles it waited
  for the in-flight bound, i.e. for its own outputs to leave (output backpressure, or L > P·II);
  write_block = cycles write events waited past max(x+L, w-1+1) for a FIFO slot.
* HWM of a FIFO = max over cycles t of (#words written at <= t) - (#words read at < t): the slots
  occupied as the capacity rule sees them (a slot freed in cycle t is reusable from t+1). It is the
  smallest capacity that would never have stalled the producer on this run. (Counting reads at
  <= t instead, an end-of-cycle count, is one lower whenever a read shares the cycle of a write, and
  would size a full-rate FIFO to 1, which halves its throughput; docs/timing.md §5.2.)
* interval = (end(F-1) - end(h)) / (F-1-h), h = (F-1)//2, end(n) = cycle of frame n's last output
  word: the mean over the second half of the run; None with one frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from hw.emulator import kernel as K
from hw.emulator.compile import Compiled, compile_graph
from hw.emulator.deadlock import Deadlock, find_deadlock
from hw.emulator.graph import SimConfig, TimingGraph


@dataclass(frozen=True)
class NodeTiming:
    name: str
    firings: int  # over all frames
    ii: int
    busy: int
    stall_in: int
    stall_out: int
    write_block: int
    first_fire: np.ndarray = field(repr=False)  # per frame: cycle of the frame's first active firing
    last_fire: np.ndarray = field(repr=False)  # per frame: cycle of the frame's last active firing


@dataclass(frozen=True)
class FifoTiming:
    name: str
    src: str
    dst: str
    capacity: Optional[int]
    hwm: int
    writes: np.ndarray = field(repr=False)  # cycle each word was written (-1: never)
    reads: np.ndarray = field(repr=False)  # cycle each word was read (-1: never)

    def occupancy(self) -> tuple[np.ndarray, np.ndarray]:
        """Step function (cycles, occupied slots from that cycle on), slots as in `hwm`."""
        w = self.writes[self.writes >= 0]
        r = self.reads[self.reads >= 0] + 1  # a slot read in t is free from t+1
        t = np.concatenate([w, r])
        d = np.concatenate([np.ones(w.size, np.int64), -np.ones(r.size, np.int64)])
        o = np.argsort(t, kind="stable")
        t, occ = t[o], np.cumsum(d[o])
        last = np.r_[t[1:] != t[:-1], True]
        return t[last], occ[last]


@dataclass(frozen=True)
class TimingResult:
    frames: int
    nodes: dict[str, NodeTiming]
    fifos: dict[str, FifoTiming]
    deadlock: Optional[Deadlock]
    latency: Optional[np.ndarray]  # per frame
    frame_end: Optional[np.ndarray]  # per frame: cycle the sink read the frame's last word
    interval: Optional[float]

    @property
    def latency_cycles(self) -> Optional[int]:
        """First frame's latency."""
        return None if self.latency is None else int(self.latency[0])

    @property
    def total_cycles(self) -> Optional[int]:
        return None if self.frame_end is None else int(self.frame_end[-1]) + 1

    def throughput_fps(self, clock_ns: float) -> Optional[float]:
        if not self.interval:
            return None
        return 1e9 / (clock_ns * self.interval)

    def gantt(self, frames: int = 2) -> list[tuple[str, int, int, int]]:
        """(node, frame, first firing cycle, last firing cycle) of the first `frames` frames."""
        return [(n.name, f, int(n.first_fire[f]), int(n.last_fire[f]))
                for n in self.nodes.values() for f in range(min(frames, self.frames)) if n.first_fire[f] >= 0]

    def hwm(self) -> dict[str, int]:
        return {name: f.hwm for name, f in self.fifos.items()}


def high_water_mark(writes: np.ndarray, reads: np.ndarray) -> int:
    """max_k (k+1) - #{reads < writes[k]} over the words written (both arrays are nondecreasing)."""
    n = int(np.count_nonzero(writes >= 0))
    if n == 0:
        return 0
    r = reads[reads >= 0]
    k = np.arange(n)
    return int(np.max(k + 1 - np.searchsorted(r, writes[:n], side="left")))


def simulate(graph: TimingGraph, config: SimConfig = SimConfig()) -> TimingResult:
    c = compile_graph(graph, config)
    status = K.run_kernel(*c.kernel_args())
    return _result(graph, c, deadlocked=status != 0)


def _result(graph: TimingGraph, c: Compiled, deadlocked: bool) -> TimingResult:
    nodes = {}
    for v, n in enumerate(graph.nodes):
        s = n.schedule
        nodes[n.name] = NodeTiming(
            name=n.name, firings=s.firings * c.frames, ii=s.ii, busy=s.firings * c.frames * s.ii,
            stall_in=int(c.st[v, K.STALL_IN]), stall_out=int(c.st[v, K.STALL_OUT]),
            write_block=int(c.st[v, K.WBLOCK]), first_fire=c.ffirst[v].copy(), last_fire=c.flast[v].copy())
    fifos = {}
    for j, e in enumerate(graph.edges):
        w, r = c.edge_times(j)
        fifos[e.name] = FifoTiming(name=e.name, src=c.names[c.edge_ends[j][0]], dst=c.names[c.edge_ends[j][1]],
                                   capacity=e.capacity, hwm=high_water_mark(w, r), writes=w, reads=r)
    if deadlocked:
        return TimingResult(frames=c.frames, nodes=nodes, fifos=fifos, deadlock=find_deadlock(c),
                            latency=None, frame_end=None, interval=None)
    start = c.ffirst[c.sources].min(axis=0)
    end = c.flast[c.sinks].max(axis=0) if c.sinks else c.flast[: c.n_graph].max(axis=0)
    f = c.frames
    h = (f - 1) // 2
    interval = float(end[f - 1] - end[h]) / (f - 1 - h) if f > 1 else None
    return TimingResult(frames=f, nodes=nodes, fifos=fifos, deadlock=None, latency=end - start,
                        frame_end=end.copy(), interval=interval)
