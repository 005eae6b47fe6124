"""The timing engine's view of a dataflow design: nodes with token schedules, joined by FIFOs.

A `TimingGraph` is a list of nodes (each a `hw.schedule.TokenSchedule`) and a list of edges. An edge
joins output port `src_port` of node `src` to input port `dst_port` of node `dst` through a registered
FIFO of `capacity` words (None = unbounded). An edge with `src=None` is fed by the input DMA (a graph
input); an edge with `dst=None` drains into the output sink (a graph output). Fan-out goes through an
explicit DuplicateStreams node: every port carries exactly one edge.

`SimConfig` holds what is not part of the design: frames, source throttling, DMA width, sink rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from hw.schedule import TokenSchedule

# Capacity of an edge the design gives no FIFO: FINN's default inFIFODepths/outFIFODepths = 2, which
# InsertFIFO realizes as a direct AXI-stream connection (a register slice, ~2 words). Under the
# registered-FIFO semantics, 2 is also the smallest capacity that sustains one word per cycle.
DEFAULT_EDGE_CAPACITY = 2
MAX_PORTS = 8  # stream inputs / outputs per node (port masks are int64 bit sets)


class TimingGraphError(ValueError):
    """The graph cannot be simulated as given; the message names the node or edge and the fix."""


@dataclass(frozen=True)
class TimingNode:
    name: str
    schedule: TokenSchedule


@dataclass(frozen=True)
class TimingEdge:
    name: str
    src: Optional[str]  # producing node, or None for a graph input (the DMA source)
    src_port: int
    dst: Optional[str]  # consuming node, or None for a graph output (the sink)
    dst_port: int
    capacity: Optional[int] = DEFAULT_EDGE_CAPACITY  # words; None = unbounded
    width_bits: int = 0  # stream word width, used for the input DMA rate


@dataclass(frozen=True)
class TimingGraph:
    nodes: tuple[TimingNode, ...]
    edges: tuple[TimingEdge, ...]

    def with_capacities(self, capacities: dict[str, Optional[int]] | None = None,
                        unbounded: bool = False) -> "TimingGraph":
        """A copy with some (or, with unbounded=True, all) FIFO capacities replaced."""
        capacities = capacities or {}
        unknown = set(capacities) - {e.name for e in self.edges}
        if unknown:
            raise TimingGraphError(f"no FIFO edge named {sorted(unknown)[0]!r}")
        edges = tuple(replace(e, capacity=None if unbounded else capacities.get(e.name, e.capacity))
                      for e in self.edges)
        return replace(self, edges=edges)

    def node(self, name: str) -> TimingNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def max_node_cycles(self) -> int:
        """max over nodes of firings·II per frame: the frame interval when no FIFO binds."""
        return max(n.schedule.firings * n.schedule.ii for n in self.nodes)


@dataclass(frozen=True)
class SimConfig:
    """frames: frames pushed through the design (each node repeats its schedule per frame).
    source_interval: the DMA starts frame n no earlier than n·source_interval (None: as fast as accepted).
    dma_bits: input DMA width; the source delivers dma_bits // width words per cycle, or one word every
        ceil(width / dma_bits) cycles (None: one word per cycle).
    sink_ii: the output sink accepts one word every sink_ii cycles.
    arrivals: explicit earliest cycle of every input word (frames × words per frame), replacing the
        frame throttle (traffic studies, tests); the DMA rate still applies."""

    frames: int = 2
    source_interval: Optional[int] = None
    dma_bits: Optional[int] = None
    sink_ii: int = 1
    arrivals: Optional[np.ndarray] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise TimingGraphError(f"frames must be >= 1, got {self.frames}")
        if self.source_interval is not None and self.source_interval < 0:
            raise TimingGraphError(f"source_interval must be >= 0, got {self.source_interval}")
        if self.dma_bits is not None and self.dma_bits < 1:
            raise TimingGraphError(f"dma_bits must be >= 1, got {self.dma_bits}")
        if self.sink_ii < 1:
            raise TimingGraphError(f"sink_ii must be >= 1, got {self.sink_ii}")


def dma_gaps(words: int, width_bits: int, dma_bits: Optional[int]) -> np.ndarray:
    """Minimum cycles between input word k-1 and word k within a frame (word 0: a new beat, 1).

    A DMA beat of dma_bits carries dma_bits // width words of one frame; a word wider than the DMA
    takes ceil(width / dma_bits) beats."""
    gaps = np.ones(words, dtype=np.int64)
    if dma_bits is None or width_bits <= 0:
        return gaps
    if dma_bits >= width_bits:
        per_beat = dma_bits // width_bits
        gaps[np.arange(words) % per_beat != 0] = 0
    else:
        gaps[:] = math.ceil(width_bits / dma_bits)
    return gaps


def check_graph(graph: TimingGraph) -> list[str]:
    """Validate the wiring and word counts; returns the node names in topological order."""
    names = [n.name for n in graph.nodes]
    if len(set(names)) != len(names):
        raise TimingGraphError("node names must be unique")
    by_name = {n.name: n for n in graph.nodes}
    enames = [e.name for e in graph.edges]
    if len(set(enames)) != len(enames):
        raise TimingGraphError("edge names must be unique")
    ins: dict[tuple[str, int], TimingEdge] = {}
    outs: dict[tuple[str, int], TimingEdge] = {}
    for e in graph.edges:
        if e.capacity is not None and e.capacity < 1:
            raise TimingGraphError(f"FIFO {e.name}: depth {e.capacity} is < 1; use a depth >= 1")
        for end, port, table in ((e.src, e.src_port, outs), (e.dst, e.dst_port, ins)):
            if end is None:
                continue
            if end not in by_name:
                raise TimingGraphError(f"edge {e.name} names an unknown node {end!r}")
            if (end, port) in table:
                raise TimingGraphError(f"{end}: port {port} carries two edges ({table[end, port].name}, "
                                       f"{e.name}); fan out through a DuplicateStreams node")
            table[end, port] = e
        if e.src is None and e.dst is None:
            raise TimingGraphError(f"edge {e.name} joins nothing")
    for n in graph.nodes:
        s = n.schedule
        if s.reads.shape[0] > MAX_PORTS or s.writes.shape[0] > MAX_PORTS:
            raise TimingGraphError(f"{n.name}: more than {MAX_PORTS} stream ports")
        for p in range(s.reads.shape[0]):
            if (n.name, p) not in ins:
                raise TimingGraphError(f"{n.name}: input port {p} has no edge")
        for p in range(s.writes.shape[0]):
            if (n.name, p) not in outs:
                raise TimingGraphError(f"{n.name}: output port {p} has no edge")
    for e in graph.edges:
        made = by_name[e.src].schedule.words_out(e.src_port) if e.src is not None else None
        used = by_name[e.dst].schedule.words_in(e.dst_port) if e.dst is not None else None
        if e.src is not None and e.src_port >= by_name[e.src].schedule.writes.shape[0]:
            raise TimingGraphError(f"edge {e.name}: {e.src} has no output port {e.src_port}")
        if e.dst is not None and e.dst_port >= by_name[e.dst].schedule.reads.shape[0]:
            raise TimingGraphError(f"edge {e.name}: {e.dst} has no input port {e.dst_port}")
        if made is not None and used is not None and made != used:
            raise TimingGraphError(f"edge {e.name}: {e.src} writes {made} words per frame but {e.dst} reads "
                                   f"{used}; the shapes or foldings of the two nodes disagree")
    return topological_order(graph)


def topological_order(graph: TimingGraph) -> list[str]:
    """Kahn order of the nodes (graph order among ready nodes); a cyclic graph keeps list order."""
    succ: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    indeg = {n.name: 0 for n in graph.nodes}
    for e in graph.edges:
        if e.src is not None and e.dst is not None:
            succ[e.src].append(e.dst)
            indeg[e.dst] += 1
    pos = {n.name: i for i, n in enumerate(graph.nodes)}
    ready = [n for n in indeg if indeg[n] == 0]
    order = []
    while ready:
        ready.sort(key=pos.__getitem__, reverse=True)
        v = ready.pop()
        order.append(v)
        for u in succ[v]:
            indeg[u] -= 1
            if indeg[u] == 0:
                ready.append(u)
    return order if len(order) == len(indeg) else [n.name for n in graph.nodes]
