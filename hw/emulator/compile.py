"""Lower a TimingGraph + SimConfig to the flat int64 arrays the numba kernel runs on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hw.emulator import kernel as K
from hw.emulator.graph import MAX_PORTS, SimConfig, TimingGraph, TimingGraphError, check_graph, dma_gaps

UNBOUNDED_IN_FLIGHT = 1 << 40
# Event arrays hold two int64 times per FIFO word over all frames; refuse runs that would need more.
MAX_EVENT_BYTES = 4 << 30


@dataclass
class Compiled:
    """Kernel arrays plus the index maps needed to read the results back."""

    names: list[str]  # kernel node index -> display name (graph nodes, then sources, then sinks)
    n_graph: int  # the first n_graph kernel nodes are graph nodes
    sources: list[int]  # kernel node indices of the DMA sources
    sinks: list[int]
    edge_names: list[str]
    edge_ends: list[tuple[int, int]]  # kernel (producer, consumer) node index of each edge
    order: np.ndarray
    nd: np.ndarray
    st: np.ndarray
    ed: np.ndarray
    in_edge: np.ndarray
    out_edge: np.ndarray
    act_pos: np.ndarray
    act_rm: np.ndarray
    act_wm: np.ndarray
    tw: np.ndarray
    tr: np.ndarray
    src_arr: np.ndarray
    src_gap: np.ndarray
    xr: np.ndarray
    mr: np.ndarray
    wr_ring: np.ndarray
    ffirst: np.ndarray
    flast: np.ndarray
    frames: int
    nbr_off: np.ndarray
    nbr: np.ndarray

    def kernel_args(self) -> tuple:
        return (self.order, self.nd, self.st, self.ed, self.in_edge, self.out_edge, self.act_pos, self.act_rm,
                self.act_wm, self.tw, self.tr, self.src_arr, self.src_gap, self.xr, self.mr, self.wr_ring,
                self.ffirst, self.flast, self.frames, self.nbr_off, self.nbr)

    def edge_times(self, e: int) -> tuple[np.ndarray, np.ndarray]:
        """(write times, read times) of every word of edge e, as views."""
        off, n = self.ed[e, K.OFF], self.ed[e, K.NTOK]
        return self.tw[off:off + n], self.tr[off:off + n]


def _masks(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    out = np.zeros(cols.shape[0], dtype=np.int64)
    for p in range(rows.shape[0]):
        out |= rows[p, cols].astype(np.int64) << p
    return out


def compile_graph(graph: TimingGraph, config: SimConfig) -> Compiled:
    topo = check_graph(graph)
    frames = config.frames
    src_edges = [e for e in graph.edges if e.src is None]
    sink_edges = [e for e in graph.edges if e.dst is None]
    if not src_edges:
        raise TimingGraphError("the graph has no input edge (src=None) for the DMA source")
    if config.arrivals is not None and len(src_edges) != 1:
        raise TimingGraphError("explicit arrivals need exactly one graph input")
    idx = {n.name: i for i, n in enumerate(graph.nodes)}
    n_graph = len(graph.nodes)
    names = [n.name for n in graph.nodes] + [f"source:{e.name}" for e in src_edges] + \
            [f"sink:{e.name}" for e in sink_edges]
    nk = len(names)
    eidx = {e.name: j for j, e in enumerate(graph.edges)}
    nd = np.zeros((nk, K.N_ND), dtype=np.int64)
    in_edge = np.full((nk, MAX_PORTS), -1, dtype=np.int64)
    out_edge = np.full((nk, MAX_PORTS), -1, dtype=np.int64)
    pos, rms, wms, src_arr, src_gap = [], [], [], [], []
    n_act = n_ring = n_src = 0

    def add_node(v, reads, writes, repeats, ii, lat, pinf, kind=0):
        nonlocal n_act, n_ring
        active = np.flatnonzero(reads.any(axis=0) | writes.any(axis=0))
        n_events = int(writes.any(axis=0).sum()) * repeats * frames
        ring = 1 << int(max(1, min(pinf, n_events)) - 1).bit_length()  # a power of two >= min(P, events)
        nd[v] = 0
        nd[v, [K.KIND, K.II, K.LAT, K.PINF, K.AOFF, K.ACNT, K.PERIOD, K.REPEATS, K.ROFF, K.RLEN]] = \
            [kind, ii, lat, pinf, n_act, active.size, reads.shape[1], repeats, n_ring, ring]
        pos.append(active.astype(np.int64))
        rms.append(_masks(reads, active))
        wms.append(_masks(writes, active))
        n_act += active.size
        n_ring += ring

    for n in graph.nodes:
        s = n.schedule
        add_node(idx[n.name], s.reads, s.writes, s.repeats, s.ii, s.latency, s.in_flight)
    edge_ends = [(-1, -1)] * len(graph.edges)
    one_w, one_r = np.ones((1, 1), dtype=bool), np.zeros((1, 1), dtype=bool)
    sources, sinks = [], []
    for i, e in enumerate(src_edges):
        v = n_graph + i
        words = graph.node(e.dst).schedule.words_in(e.dst_port)
        add_node(v, one_r[:0].reshape(0, 1), one_w, words, 1, 0, UNBOUNDED_IN_FLIGHT, kind=K.SOURCE)
        nd[v, K.SRC_OFF] = n_src
        if config.arrivals is not None:
            arr = np.asarray(config.arrivals, dtype=np.int64).ravel()
            if arr.size != words * frames:
                raise TimingGraphError(f"arrivals: need {words * frames} times (frames x words), got {arr.size}")
        else:
            arr = np.repeat(np.arange(frames, dtype=np.int64) * (config.source_interval or 0), words)
        src_arr.append(arr)
        src_gap.append(np.tile(dma_gaps(words, e.width_bits, config.dma_bits), frames))
        n_src += arr.size
        out_edge[v, 0] = eidx[e.name]
        sources.append(v)
    for i, e in enumerate(sink_edges):
        v = n_graph + len(src_edges) + i
        words = graph.node(e.src).schedule.words_out(e.src_port)
        add_node(v, one_w, one_r, words, config.sink_ii, 0, UNBOUNDED_IN_FLIGHT)
        in_edge[v, 0] = eidx[e.name]
        sinks.append(v)
    ed = np.zeros((len(graph.edges), K.N_ED), dtype=np.int64)
    off = 0
    for j, e in enumerate(graph.edges):
        prod = idx[e.src] if e.src is not None else sources[src_edges.index(e)]
        cons = idx[e.dst] if e.dst is not None else sinks[sink_edges.index(e)]
        if e.src is not None:
            out_edge[prod, e.src_port] = j
            words = graph.node(e.src).schedule.words_out(e.src_port)
        else:
            words = graph.node(e.dst).schedule.words_in(e.dst_port)
        if e.dst is not None:
            in_edge[cons, e.dst_port] = j
        edge_ends[j] = (prod, cons)
        ed[j, K.CAP] = -1 if e.capacity is None else e.capacity
        ed[j, K.OFF] = off
        ed[j, K.NTOK] = words * frames
        off += words * frames
    if 16 * off > MAX_EVENT_BYTES:
        raise TimingGraphError(f"{frames} frames move {off:,} FIFO words: {16 * off / 2**30:.1f} GiB of event "
                               f"times (limit {MAX_EVENT_BYTES / 2**30:.0f} GiB); simulate fewer frames")
    order = np.array(sources + [idx[n] for n in topo] + sinks, dtype=np.int64)
    st, _ = K.new_state(nk, len(graph.edges))
    st[:, K.XPREV] = -nd[:, K.II]
    nbrs = [set() for _ in range(nk)]
    for prod, cons in edge_ends:
        nbrs[prod].add(cons)
        nbrs[cons].add(prod)
    nbr_off = np.cumsum([0] + [len(x) for x in nbrs]).astype(np.int64)
    nbr = np.array([u for x in nbrs for u in sorted(x)], dtype=np.int64)
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)  # noqa: E731
    return Compiled(
        names=names, n_graph=n_graph, sources=sources, sinks=sinks, edge_names=[e.name for e in graph.edges],
        edge_ends=edge_ends, order=order, nd=nd, st=st, ed=ed, in_edge=in_edge, out_edge=out_edge,
        act_pos=cat(pos), act_rm=cat(rms), act_wm=cat(wms),
        tw=np.full(off, -1, dtype=np.int64), tr=np.full(off, -1, dtype=np.int64),
        src_arr=cat(src_arr), src_gap=cat(src_gap),
        xr=np.zeros(n_ring, dtype=np.int64), mr=np.zeros(n_ring, dtype=np.int64),
        wr_ring=np.zeros(n_ring, dtype=np.int64),
        ffirst=np.full((nk, frames), -1, dtype=np.int64), flast=np.full((nk, frames), -1, dtype=np.int64),
        frames=frames, nbr_off=nbr_off, nbr=nbr)
