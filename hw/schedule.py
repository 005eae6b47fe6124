"""Token schedules: the contract between the dataflow ops and the timing engine.

A node executes one frame as a fixed sequence of *firings* (loop iterations of its finn-hlslib loop
nest), one firing per `ii` cycles at best. Firing f reads at most one word from each input stream and
writes at most one word to each output stream. A firing's write becomes visible `latency` cycles after
the firing issues; at most `in_flight` writes may be outstanding (the pipeline depth bound of
docs/timing.md §5.2).

Schedules are stored compactly as a `pattern` repeated `repeats` times, because MVAUs repeat the same
NF·SF pattern for every input vector and a CNV frame has tens of millions of firings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Documented defaults for the per-node pipeline (docs/timing.md §5.2). An HLS loop with
# `#pragma HLS pipeline II=1` reads in cycle t and writes its result a few cycles later; 2 cycles of
# read-to-write latency and room for 4 results in flight sustain II=1 ((L+1)/II <= P).
DEFAULT_II = 1
DEFAULT_LATENCY = 2
DEFAULT_IN_FLIGHT = 4


@dataclass(frozen=True)
class TokenSchedule:
    """One frame of a node's firings.

    reads:  bool array (n_inputs, period): firing f of the pattern reads one word from input i.
    writes: bool array (n_outputs, period): firing f of the pattern writes one word to output o.
    repeats: the pattern is executed this many times per frame.
    """

    reads: np.ndarray
    writes: np.ndarray
    repeats: int = 1
    ii: int = DEFAULT_II
    latency: int = DEFAULT_LATENCY
    in_flight: int = DEFAULT_IN_FLIGHT

    def __post_init__(self) -> None:
        if self.reads.ndim != 2 or self.writes.ndim != 2:
            raise ValueError("reads and writes must be 2-D (streams x firings)")
        if self.reads.shape[1] != self.writes.shape[1]:
            raise ValueError("reads and writes must cover the same firings")
        if self.repeats < 1 or self.ii < 1 or self.latency < 0 or self.in_flight < 1:
            raise ValueError("repeats, ii, in_flight must be >= 1 and latency >= 0")

    @property
    def period(self) -> int:
        return int(self.reads.shape[1])

    @property
    def firings(self) -> int:
        """Firings per frame."""
        return self.period * self.repeats

    def words_in(self, port: int = 0) -> int:
        """Words read from input `port` per frame."""
        return int(self.reads[port].sum()) * self.repeats

    def words_out(self, port: int = 0) -> int:
        """Words written to output `port` per frame."""
        return int(self.writes[port].sum()) * self.repeats

    def expanded(self) -> tuple[np.ndarray, np.ndarray]:
        """Full per-firing (reads, writes) arrays for one frame. Memory grows with firings."""
        return np.tile(self.reads, (1, self.repeats)), np.tile(self.writes, (1, self.repeats))


def streaming(n_words_in: int, n_words_out: int, n_inputs: int = 1, n_outputs: int = 1, **pipeline) -> TokenSchedule:
    """Schedule of a node that reads and writes in lock-step with II=1 over max(in, out) firings,
    evenly spreading the smaller side (DWC, Thresholding, AddStreams, DuplicateStreams...)."""
    n = max(n_words_in, n_words_out, 1)

    def placed(k: int, last: bool) -> np.ndarray:
        # k words evenly over n firings: a read at the first firing of its group, a write at the
        # last one, so a word is never written before the read it depends on.
        mask = np.zeros(n, dtype=bool)
        if k:
            idx = np.arange(k)
            mask[((idx + 1) * n) // k - 1 if last else (idx * n) // k] = True
        return mask

    reads = np.repeat(placed(n_words_in, last=False)[None, :], n_inputs, axis=0)
    writes = np.repeat(placed(n_words_out, last=True)[None, :], n_outputs, axis=0)
    return TokenSchedule(reads=reads, writes=writes, **pipeline)
