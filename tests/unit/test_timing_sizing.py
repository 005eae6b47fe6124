"""FIFO sizing: high-water marks of a throttled unbounded run, proven by re-simulation."""

import numpy as np

from hw.emulator.fifo_sizing import DepthRounding, finn_optimize_depth, size_fifos
from hw.emulator.graph import SimConfig
from hw.emulator.timing import simulate
from test_timing_reference import chain, fork_join, mvau, random_chain
from hw.schedule import streaming


def test_sizing_proves_full_throughput_on_random_chains():
    rng = np.random.default_rng(3)
    for _ in range(40):
        graph, config = random_chain(rng)
        sizing = size_fifos(graph, SimConfig(frames=3, dma_bits=config.dma_bits, sink_ii=config.sink_ii))
        assert sizing.full_throughput, sizing.describe()
        assert sizing.interval_sized == sizing.interval_unbounded
        # the proof is a real simulation with exactly those depths
        again = simulate(graph.with_capacities(sizing.depths), SimConfig(frames=3, dma_bits=config.dma_bits,
                                                                          sink_ii=config.sink_ii))
        assert again.interval == sizing.interval_unbounded and again.deadlock is None


def test_sizing_fixes_fork_join_bypass():
    rng = np.random.default_rng(11)
    for k in (0, 2, 5):
        graph = fork_join(k, 1, rng, words=12)
        assert (simulate(graph, SimConfig(frames=2)).deadlock is None) == (k == 0)
        sizing = size_fifos(graph)
        assert sizing.full_throughput
        assert sizing.depths["bypass"] >= k + 1


def test_slow_consumer_fifo_stays_bounded_with_throttle():
    # a fast producer in front of a slow consumer: unthrottled, the FIFO would grow with the run
    fast, slow = mvau(4, 1, 8, np.random.default_rng(0)), streaming(8, 8, ii=16)
    fast = type(fast)(fast.reads, fast.writes, fast.repeats, 1, 2, 4)
    graph = chain([fast, slow], capacity=None)
    growing = [simulate(graph, SimConfig(frames=f)).hwm()["e1"] for f in (2, 4, 8)]
    assert growing[0] < growing[1] < growing[2]
    sizing = size_fifos(graph, SimConfig(frames=4))
    assert sizing.source_interval == 128
    assert sizing.depths["e1"] <= 8 and sizing.full_throughput


def test_finn_rounding():
    assert [finn_optimize_depth(d) for d in (1, 2, 3, 32, 33)] == [2, 2, 32, 32, 33]
    graph = chain([streaming(16, 16), streaming(16, 16)], capacity=None)
    sizing = size_fifos(graph, rounding=DepthRounding.FINN)
    assert set(sizing.depths.values()) <= {2, 32} and sizing.full_throughput


def test_shrink_finds_smaller_proven_depths():
    # the FIFO in front of the bottleneck fills without costing throughput: marks overstate it
    fast, slow = mvau(4, 1, 8, np.random.default_rng(0)), streaming(8, 8, ii=16)
    fast = type(fast)(fast.reads, fast.writes, fast.repeats, 1, 2, 4)
    graph = chain([fast, slow], capacity=None)
    plain = size_fifos(graph, SimConfig(frames=4))
    small = size_fifos(graph, SimConfig(frames=4), shrink=True)
    assert plain.depths["e1"] > 2 and small.depths["e1"] == 2
    assert small.full_throughput and small.interval_sized == plain.interval_unbounded
