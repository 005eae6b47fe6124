"""Timing engine bookkeeping: stall attribution, DMA rates, throttling, latency definitions."""

import numpy as np
import pytest

from hw.emulator.graph import SimConfig, TimingEdge, TimingGraph, TimingGraphError, TimingNode, dma_gaps
from hw.emulator.timing import simulate
from hw.schedule import streaming
from test_timing_reference import chain, random_chain


def test_firing_time_identity_busy_plus_stalls():
    """x(last) = II·(index of the last firing) + stall_in + stall_out, for every node of random chains."""
    rng = np.random.default_rng(9)
    for _ in range(30):
        graph, config = random_chain(rng)
        r = simulate(graph, config)
        for n in graph.nodes:
            s, t = n.schedule, r.nodes[n.name]
            active = np.flatnonzero(s.reads.any(0) | s.writes.any(0))
            last = (config.frames - 1) * s.firings + (s.repeats - 1) * s.period + active[-1]
            assert t.last_fire[-1] == s.ii * last + t.stall_in + t.stall_out
            assert t.busy == s.firings * config.frames * s.ii


def test_dma_gaps():
    assert dma_gaps(5, 8, 64).tolist() == [1, 0, 0, 0, 0]
    assert dma_gaps(5, 32, 64).tolist() == [1, 0, 1, 0, 1]
    assert dma_gaps(3, 100, 64).tolist() == [2, 2, 2]
    assert dma_gaps(3, 8, None).tolist() == [1, 1, 1]


def test_narrow_dma_sets_the_interval():
    graph = chain([streaming(10, 10)], capacity=4)
    graph = TimingGraph(graph.nodes, tuple(TimingEdge(e.name, e.src, 0, e.dst, 0, 4, 200) for e in graph.edges))
    assert simulate(graph, SimConfig(frames=3, dma_bits=64)).interval == 40.0  # ceil(200/64) = 4 cycles/word
    assert simulate(graph, SimConfig(frames=3, dma_bits=512)).interval == 10.0


def test_throttled_source_sets_interval_and_latency():
    graph = chain([streaming(10, 10, latency=3), streaming(10, 10)], capacity=2)
    r = simulate(graph, SimConfig(frames=4, source_interval=50))
    assert r.interval == 50.0
    assert len(set(r.latency.tolist())) == 1
    # first word written at 0, read at 1, written at 4, ... the last word leaves the sink at:
    # node0 fires 1..10, writes 4..13; node1 fires 5..14, writes 7..16; sink reads 8..17
    assert r.latency_cycles == 17


def test_sink_rate_limits():
    graph = chain([streaming(12, 12)], capacity=2)
    assert simulate(graph, SimConfig(frames=3, sink_ii=3)).interval == 36.0


def test_occupancy_matches_high_water_mark():
    graph = chain([streaming(8, 8, ii=3)], capacity=None)
    r = simulate(graph, SimConfig(frames=2))
    f = r.fifos["e0"]
    _, occ = f.occupancy()
    # the DMA writes words 0..15 in cycles 0..15; the node reads in cycles 1, 4, 7, 10, 13 before 15
    assert occ.max() == f.hwm == 16 - 5


def test_bad_graphs_are_refused():
    s = streaming(4, 4)
    with pytest.raises(TimingGraphError, match="reads 4"):
        simulate(TimingGraph((TimingNode("a", streaming(4, 8)), TimingNode("b", s)),
                             (TimingEdge("i", None, 0, "a", 0), TimingEdge("ab", "a", 0, "b", 0),
                              TimingEdge("o", "b", 0, None, 0))))
    with pytest.raises(TimingGraphError, match="no edge"):
        simulate(TimingGraph((TimingNode("a", s),), (TimingEdge("i", None, 0, "a", 0),)))
    with pytest.raises(TimingGraphError, match="depth 0"):
        simulate(chain([s], capacity=0))
    with pytest.raises(TimingGraphError, match="frames"):
        SimConfig(frames=0)


def test_single_frame_has_no_interval():
    r = simulate(chain([streaming(4, 4)], capacity=2), SimConfig(frames=1))
    assert r.interval is None and r.throughput_fps(10.0) is None and r.latency_cycles > 0


def test_interpreted_kernel_leaves_the_state_numba_does():
    """Small runs take the interpreted kernel (hw.emulator.kernel.PY_MAX_FIRINGS: no numba start-up in a
    fresh `hil emulate`): the same function, so every event time and counter must equal numba's, on
    random chains and on deadlocking fork-joins."""
    from hw.emulator import kernel as K
    from hw.emulator.compile import compile_graph
    from test_timing_reference import fork_join

    rng = np.random.default_rng(17)
    cases = [random_chain(rng) for _ in range(8)] + [(fork_join(3, c, rng, words=16), SimConfig(frames=2))
                                                     for c in (2, 6)]
    statuses = set()
    for graph, config in cases:
        runs = []
        for jit in (False, True):
            c = compile_graph(graph, config)
            runs.append((K.run_kernel(*c.kernel_args(), jit=jit), c))
        (s_py, py), (s_jit, jit) = runs
        statuses.add(s_py)
        assert s_py == s_jit
        for a, b in zip(py.kernel_args(), jit.kernel_args()):
            assert np.array_equal(a, b)
    assert statuses == {0, 1}  # both outcomes exercised
