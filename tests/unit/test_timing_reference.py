"""The timing engine against an independent, plain, cycle-stepped simulator.

The reference below steps cycle by cycle and applies the hardware rules directly; it knows nothing
of max-plus recurrences, worklists or idle-firing compression. Rules (one clock, integer cycles):
  FIFO:   a word written in cycle t can be read from cycle t+1; a write in cycle t needs a free slot,
          where slots count words written so far minus words read in cycles < t; capacity C or none.
  node:   firing f issues in cycle t if t >= (cycle of firing f-1) + II, every input word it reads was
          written before t, and, if it writes, fewer than P of its write events are outstanding
          (issued and not written in a cycle < t). It reads its words in cycle t.
          Its oldest outstanding write event is written in cycle t if t >= issue + L, t > its previous
          write, and every FIFO it writes has a free slot; all its ports are written in cycle t.
  source: input word k is written in cycle t if t >= arrival(k), t >= (cycle of word k-1) + gap(k),
          and its FIFO has a free slot (several words may go in one cycle when gap is 0).
  sink:   a node with one read per firing and II = sink_ii.
A design whose words stop moving for longer than any gap in the stimulus is deadlocked.
"""

from __future__ import annotations

import numpy as np
import pytest

from hw.emulator import kernel as K
from hw.emulator.compile import compile_graph
from hw.emulator.graph import SimConfig, TimingEdge, TimingGraph, TimingNode
from hw.emulator.timing import simulate
from hw.schedule import TokenSchedule, streaming


# ---------------------------------------------------------------- the reference simulator
class Fifo:
    def __init__(self, cap, n):
        self.cap, self.tw, self.tr = cap, [], []
        self.n = n

    def readable(self, t):  # next word written before t?
        return len(self.tr) < len(self.tw) and self.tw[len(self.tr)] <= t - 1

    def has_slot(self, t):
        if self.cap is None:
            return True
        freed = sum(1 for r in self.tr if r <= t - 1)
        return len(self.tw) - freed < self.cap

    def occupancy(self, t):
        return sum(1 for w in self.tw if w <= t) - sum(1 for r in self.tr if r <= t - 1)


class Node:
    def __init__(self, reads, writes, ii, lat, pinf, ins, outs):
        self.reads, self.writes = reads, writes  # (ports, firings over all frames)
        self.ii, self.lat, self.pinf, self.ins, self.outs = ii, lat, pinf, ins, outs
        self.f, self.last_x, self.pending, self.wtimes = 0, None, [], []

    def step(self, t):
        moved = False
        if self.f < self.reads.shape[1] and (self.last_x is None or t >= self.last_x + self.ii):
            f = self.f
            rd = [p for p in range(self.reads.shape[0]) if self.reads[p, f]]
            wr = [p for p in range(self.writes.shape[0]) if self.writes[p, f]]
            ok = all(self.ins[p].readable(t) for p in rd)
            if wr:
                outstanding = len(self.pending) + sum(1 for w in self.wtimes if w >= t)
                ok = ok and outstanding < self.pinf
            if ok:
                for p in rd:
                    self.ins[p].tr.append(t)
                if wr:
                    self.pending.append((t, wr))
                self.last_x, self.f, moved = t, f + 1, True
        if self.pending:
            x, wr = self.pending[0]
            if t >= x + self.lat and (not self.wtimes or t > self.wtimes[-1]) and \
                    all(self.outs[p].has_slot(t) for p in wr):
                for p in wr:
                    self.outs[p].tw.append(t)
                self.wtimes.append(t)
                self.pending.pop(0)
                moved = True
        return moved

    def done(self):
        return self.f == self.reads.shape[1] and not self.pending


class Source:
    def __init__(self, arrival, gap, fifo):
        self.arrival, self.gap, self.fifo, self.k, self.last = arrival, gap, fifo, 0, None

    def step(self, t):
        moved = False
        while self.k < len(self.arrival) and t >= self.arrival[self.k] and \
                (self.last is None or t >= self.last + self.gap[self.k]) and self.fifo.has_slot(t):
            self.fifo.tw.append(t)
            self.last, self.k, moved = t, self.k + 1, True
        return moved

    def done(self):
        return self.k == len(self.arrival)


def reference(graph: TimingGraph, config: SimConfig):
    """Per-cycle simulation. Returns ({edge: (writes, reads)}, {edge: hwm}, deadlocked)."""
    c = compile_graph(graph, config)  # only for the source arrival and DMA-gap stimulus
    words = {e.name: int(c.ed[j, K.NTOK]) for j, e in enumerate(graph.edges)}
    fifos = {e.name: Fifo(e.capacity, words[e.name]) for e in graph.edges}
    actors, hwm = [], {e: 0 for e in fifos}
    for n in graph.nodes:
        r, w = n.schedule.expanded()
        r, w = np.tile(r, (1, config.frames)), np.tile(w, (1, config.frames))
        ins = [next(fifos[e.name] for e in graph.edges if e.dst == n.name and e.dst_port == p) for p in range(r.shape[0])]
        outs = [next(fifos[e.name] for e in graph.edges if e.src == n.name and e.src_port == p) for p in range(w.shape[0])]
        s = n.schedule
        actors.append(Node(r, w, s.ii, s.latency, s.in_flight, ins, outs))
    for i, e in enumerate(e for e in graph.edges if e.src is None):
        so = c.nd[c.sources[i], K.SRC_OFF]
        n = words[e.name]
        actors.insert(0, Source(c.src_arr[so:so + n], c.src_gap[so:so + n], fifos[e.name]))
    for e in graph.edges:
        if e.dst is None:
            n = words[e.name]
            actors.append(Node(np.ones((1, n), bool), np.zeros((1, n), bool), config.sink_ii, 0, 1,
                               [fifos[e.name]], []))
    patience = int(c.src_arr.max()) + int(c.src_gap.max()) + 100
    t, idle = 0, 0
    while not all(a.done() for a in actors):
        moved = [a.step(t) for a in actors]
        for name, f in fifos.items():
            hwm[name] = max(hwm[name], f.occupancy(t))
        idle = 0 if any(moved) else idle + 1
        if idle > patience:
            break
        t += 1
    deadlocked = not all(a.done() for a in actors)
    times = {name: (np.array(f.tw + [-1] * (f.n - len(f.tw))), np.array(f.tr + [-1] * (f.n - len(f.tr))))
             for name, f in fifos.items()}
    return times, hwm, deadlocked


# ---------------------------------------------------------------- random designs
def mvau(sf, nf, vec, rng):
    f = np.arange(sf * nf)
    return TokenSchedule(reads=(f < sf)[None], writes=(f % sf == sf - 1)[None], repeats=vec, **pipeline(rng))


def window(k, n, rng):
    """Output o needs input o+k (a sliding-window look-ahead)."""
    f = np.arange(n + k)
    return TokenSchedule(reads=(f < n)[None], writes=(f >= k)[None], **pipeline(rng))


def pipeline(rng):
    return dict(ii=int(rng.integers(1, 4)), latency=int(rng.integers(0, 7)), in_flight=int(rng.integers(1, 6)))


def divisor(n, rng):
    return int(rng.choice([d for d in range(1, n + 1) if n % d == 0]))


def random_stage(words, rng):
    kind = rng.integers(0, 5)
    if kind == 0:  # MVAU: SF reading firings in the first of NF passes, one write every SF firings
        sf = divisor(words, rng)
        s = mvau(sf, int(rng.integers(1, 4)), words // sf, rng)
    elif kind == 1:  # up-converter: r reads, one write
        r = divisor(words, rng)
        s = streaming(words, words // r, **pipeline(rng))
    elif kind == 2 and words <= 16:  # down-converter: one read, r writes
        s = streaming(words, words * int(rng.integers(2, 4)), **pipeline(rng))
    elif kind == 3:
        s = window(int(rng.integers(0, 4)), words, rng)
    else:
        s = streaming(words, words, **pipeline(rng))
    return s, s.words_out()


def cap(rng):
    return None if rng.random() < 0.15 else int(rng.integers(1, 6))


def random_config(rng, words):
    frames = int(rng.integers(1, 4))
    arrivals = None
    if rng.random() < 0.4:
        arrivals = np.cumsum(rng.integers(0, 4, size=frames * words))
    return SimConfig(frames=frames, arrivals=arrivals, source_interval=int(rng.integers(0, 30)),
                     dma_bits=int(rng.choice([8, 16, 64, 128])) if rng.random() < 0.5 else None,
                     sink_ii=int(rng.integers(1, 4)))


def random_chain(rng):
    w0 = int(rng.choice([1, 2, 4, 6, 8, 12, 16]))
    words, nodes, edges, prev = w0, [], [], None
    for i in range(int(rng.integers(1, 6))):
        s, out = random_stage(words, rng)
        nodes.append(TimingNode(f"n{i}", s))
        edges.append(TimingEdge(f"e{i}", prev, 0, f"n{i}", 0, cap(rng), width_bits=int(rng.choice([8, 32, 100]))))
        prev, words = f"n{i}", out
    edges.append(TimingEdge("out", prev, 0, None, 0, cap(rng)))
    return TimingGraph(tuple(nodes), tuple(edges)), random_config(rng, w0)


def fork_join(k, c_bypass, rng, words=8):
    """source -> Dup -> (window K -> [extra]) | bypass FIFO c_bypass -> Add -> sink."""
    dup = streaming(words, words, n_outputs=2, **pipeline(rng))
    add = streaming(words, words, n_inputs=2, **pipeline(rng))
    nodes = [TimingNode("dup", dup), TimingNode("win", window(k, words, rng)), TimingNode("add", add)]
    edges = [TimingEdge("in", None, 0, "dup", 0, cap(rng)), TimingEdge("dup_win", "dup", 0, "win", 0, cap(rng)),
             TimingEdge("bypass", "dup", 1, "add", 1, c_bypass), TimingEdge("out", "add", 0, None, 0, cap(rng))]
    if rng.random() < 0.5:
        nodes.append(TimingNode("extra", streaming(words, words, **pipeline(rng))))
        edges += [TimingEdge("win_x", "win", 0, "extra", 0, cap(rng)), TimingEdge("x_add", "extra", 0, "add", 0, cap(rng))]
    else:
        edges.append(TimingEdge("win_add", "win", 0, "add", 0, cap(rng)))
    return TimingGraph(tuple(nodes), tuple(edges))


def assert_same(graph, config):
    times, hwm, deadlocked = reference(graph, config)
    result = simulate(graph, config)
    assert (result.deadlock is not None) == deadlocked
    for name, (w, r) in times.items():
        f = result.fifos[name]
        np.testing.assert_array_equal(f.writes, w, err_msg=f"writes of {name}")
        np.testing.assert_array_equal(f.reads, r, err_msg=f"reads of {name}")
        assert f.hwm == hwm[name], name
    return result


# ---------------------------------------------------------------- tests
def test_random_multirate_chains_match_reference():
    rng = np.random.default_rng(20240605)
    for _ in range(220):
        graph, config = random_chain(rng)
        assert_same(graph, config)


def test_random_fork_join_graphs_match_reference():
    rng = np.random.default_rng(7)
    outcomes = set()
    for _ in range(60):
        k, c_b = int(rng.integers(0, 5)), int(rng.integers(1, 7))
        graph = fork_join(k, c_b, rng)
        result = assert_same(graph, random_config(rng, 8))
        assert (result.deadlock is not None) == (c_b < k + 1)
        outcomes.add(result.deadlock is None)
    assert outcomes == {True, False}


@pytest.mark.parametrize("k", [0, 1, 3, 7])
def test_fork_join_deadlocks_iff_bypass_shallower_than_lookahead_plus_one(k):
    rng = np.random.default_rng(k)
    for c_b in range(1, k + 4):
        result = simulate(fork_join(k, c_b, rng, words=16), SimConfig(frames=2))
        assert (result.deadlock is not None) == (c_b < k + 1), (k, c_b)
        if result.deadlock is not None:
            assert (result.deadlock.node, result.deadlock.fifo, result.deadlock.wait.value) == ("dup", "bypass", "full")
            assert {s.node for s in result.deadlock.cycle} >= {"dup", "add", "win"}
            assert result.latency is None and result.interval is None


def chain(schedules, capacity):
    nodes = tuple(TimingNode(f"n{i}", s) for i, s in enumerate(schedules))
    names = [None] + [n.name for n in nodes] + [None]
    edges = tuple(TimingEdge(f"e{i}", names[i], 0, names[i + 1], 0, capacity) for i in range(len(nodes) + 1))
    return TimingGraph(nodes, edges)


def test_balanced_chain_interval_is_max_node_cycles():
    # MVAU-like stages (SF, NF, vectors), a DWC and a thresholding stage; FIFOs deep enough
    rng = np.random.default_rng(0)
    schedules = [mvau(8, 4, 3, rng), streaming(12, 6), mvau(2, 5, 3, rng), streaming(15, 15, ii=2)]
    schedules = [TokenSchedule(s.reads, s.writes, s.repeats, ii, 2, 4) for s, ii in zip(schedules, (1, 1, 1, 2))]
    graph = chain(schedules, capacity=64)
    result = simulate(graph, SimConfig(frames=6))
    assert graph.max_node_cycles() == 96
    assert result.interval == 96.0
    assert result.deadlock is None


def test_fifo_capacity_one_halves_throughput():
    stages = [streaming(32, 32, latency=1, in_flight=2)] * 3
    full = simulate(chain(stages, capacity=2), SimConfig(frames=4))
    half = simulate(chain(stages, capacity=1), SimConfig(frames=4))
    assert full.interval == 32.0
    assert half.interval == 64.0
    assert max(full.hwm().values()) == 2 and max(half.hwm().values()) == 1


def test_in_flight_bound_limits_rate():
    # docs/timing.md §5.3: sustaining II needs P >= (L+1)/II; L = 3: P=1 -> 4 cycles/word
    for p, per_word in ((1, 4), (2, 2), (4, 1)):
        r = simulate(chain([streaming(30, 30, latency=3, in_flight=p)], None), SimConfig(frames=3))
        assert r.interval == 30 * per_word
