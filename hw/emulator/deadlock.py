"""Name the waiting cycle of a deadlocked evaluation.

When the kernel stops with values left, every unfinished kernel node is blocked: its next firing waits
for a word on an empty FIFO, or for one of its own outstanding writes (in-flight bound), or its next
write waits for a slot in a full FIFO. Each such wait points at another unfinished node (the producer
that has not written the word, the consumer that has not read the slot free), so following the waits
from any blocked node must close a cycle. The report names that cycle, leading with a node that waits
on a *full* FIFO, since deepening that FIFO is the usual fix (e.g. a residual bypass).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hw.emulator import kernel as K
from hw.emulator.compile import Compiled


class Wait(enum.Enum):
    EMPTY = "empty"  # waits to read a word its producer has not written
    FULL = "full"  # waits to write into a FIFO whose consumer has not freed a slot


@dataclass(frozen=True)
class WaitStep:
    node: str
    fifo: str
    wait: Wait
    word: int  # index (over all frames) of the word waited for, or of the word to be written
    capacity: int | None

    def describe(self) -> str:
        cap = "unbounded" if self.capacity is None else f"depth {self.capacity}"
        if self.wait is Wait.FULL:
            return f"{self.node} waits to write word {self.word} into full FIFO {self.fifo} ({cap})"
        return f"{self.node} waits for word {self.word} on empty FIFO {self.fifo}"


@dataclass(frozen=True)
class Deadlock:
    node: str  # the waiting node named first (one that waits on a full FIFO when the cycle has one)
    fifo: str  # the FIFO it waits on
    wait: Wait
    cycle: tuple[WaitStep, ...]  # the closed chain of waits, starting at `node`

    def describe(self) -> str:
        return "deadlock: " + "; ".join(s.describe() for s in self.cycle)

    def to_json(self) -> dict:
        return {"node": self.node, "fifo": self.fifo, "wait": self.wait.value,
                "cycle": [{"node": s.node, "fifo": s.fifo, "wait": s.wait.value, "word": s.word}
                          for s in self.cycle]}


def _waits(c: Compiled, v: int) -> list[tuple[int, WaitStep]]:
    """Every (node waited on, step) of a blocked kernel node v."""
    st, ed = c.st, c.ed
    out = []

    def step(e: int, wait: Wait) -> tuple[int, WaitStep]:
        prod, cons = c.edge_ends[e]
        cap = None if ed[e, K.CAP] < 0 else int(ed[e, K.CAP])
        if wait is Wait.FULL:
            return cons, WaitStep(c.names[v], c.edge_names[e], wait, int(ed[e, K.WR]), cap)
        return prod, WaitStep(c.names[v], c.edge_names[e], wait, int(ed[e, K.RD]), cap)

    if st[v, K.WED] < st[v, K.WEF] and st[v, K.WBE] >= 0:
        out.append(step(int(st[v, K.WBE]), Wait.FULL))
    if st[v, K.FBK] == K.BLK_EMPTY:
        out.append(step(int(st[v, K.FBE]), Wait.EMPTY))
    elif st[v, K.FBK] == K.BLK_FULL:  # a source
        out.append(step(int(st[v, K.FBE]), Wait.FULL))
    return out  # BLK_INFLIGHT: the pending write (first entry) is what it waits for


def find_deadlock(c: Compiled) -> Deadlock:
    total = c.nd[:, K.ACNT] * c.nd[:, K.REPEATS] * c.frames
    blocked = [v for v in range(len(c.names)) if c.st[v, K.FJ] < total[v] or c.st[v, K.WED] < c.st[v, K.WEF]]
    waits = {v: _waits(c, v) for v in blocked}
    start = next(v for v in blocked if waits[v])
    path, seen = [], {}
    v = start
    while v not in seen:
        seen[v] = len(path)
        nxt, s = waits[v][0]
        path.append(s)
        v = nxt
        if not waits.get(v):
            raise RuntimeError(f"deadlock analysis: {c.names[v]} is waited on but not blocked")
    cycle = path[seen[v]:]
    lead = next((i for i, s in enumerate(cycle) if s.wait is Wait.FULL), 0)
    cycle = tuple(cycle[lead:] + cycle[:lead])
    return Deadlock(node=cycle[0].node, fifo=cycle[0].fifo, wait=cycle[0].wait, cycle=cycle)
