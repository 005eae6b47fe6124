"""The compiled values path: one plan per dataflow model, a list of precompiled per-node closures over
integer-exact arrays (issue 17).

    plan = compile_plan(model)          # once per design
    y = plan({"global_in": x_int})      # (N, ...) integer-valued inputs -> graph outputs by name

Each node's closure is its op's `compile_values(model)` (hw/ops/*.py): the MVAU's is one BLAS GEMM in
float32 or float64 chosen from its proven accumulator bound (hw.ops.base.accumulator_range: float32
holds every integer below 2^24, float64 below 2^53; beyond, execute's int64 product) and a threshold
lookup table, the SWG's a strided window view; ops without a fast kernel run their `execute` (HWOp.compile_values), so each op's
semantics is defined once, by `execute`, and the fast kernels are checked equal to it
(tests/unit/test_values_plan.py). Running the plan is one Python call per node per chunk, no per-sample
or per-channel loop.

Values between nodes are kept in the narrowest dtype that holds them exactly (float32 for tensors
under 2^24, threshold outputs as int8 or int16); graph outputs are returned as float64 (int64 beyond
2^53), like `execute`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hw.emulator.graph import TimingGraphError
from hw.emulator.model_graph import _check_domain

__all__ = ["ValuesPlan", "compile_plan", "frame_values", "node_order", "MAX_CHUNK_VALUES"]

MAX_CHUNK_VALUES = 1 << 22  # values of the largest tensor per chunk (16 MiB of float32): bounded memory


@dataclass
class Step:
    name: str
    fn: Callable[[list[np.ndarray]], list[np.ndarray]]
    inputs: tuple[int, ...]  # slots read
    outputs: tuple[int, ...]  # slots written


@dataclass
class ValuesPlan:
    input_names: list[str]
    output_names: list[str]
    steps: list[Step]
    in_slots: tuple[int, ...]
    out_slots: tuple[int, ...]
    n_slots: int
    frame_values: int  # values per frame of the largest tensor (sets the chunk size)
    last_use: list[list[int]]  # per step, the slots no later step reads (freed right away)

    def chunk_frames(self, max_values: int | None = None) -> int:
        """Frames per chunk: the largest tensor of a chunk holds at most max_values (MAX_CHUNK_VALUES)."""
        max_values = MAX_CHUNK_VALUES if max_values is None else max_values
        return max(1, max_values // max(self.frame_values, 1))

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise TimingGraphError(f"no value given for graph input {missing[0]}")
        slots: list = [None] * self.n_slots
        for name, s in zip(self.input_names, self.in_slots):
            slots[s] = inputs[name]
        keep = set(self.out_slots)
        for step, dead in zip(self.steps, self.last_use):
            outs = step.fn([slots[i] for i in step.inputs])
            if len(outs) != len(step.outputs):
                raise TimingGraphError(f"{step.name}: execute returned {len(outs)} outputs, "
                                       f"the node has {len(step.outputs)}")
            for s, v in zip(step.outputs, outs):
                slots[s] = v
            for s in dead:  # drop intermediate tensors as soon as nothing reads them
                if s not in keep:
                    slots[s] = None
        return {n: _as_output(slots[s]) for n, s in zip(self.output_names, self.out_slots)}

    def chunks(self, x: np.ndarray, prepare: Callable[[np.ndarray], np.ndarray] = np.asarray,
               max_values: int | None = None) -> Iterator[tuple[int, np.ndarray, dict[str, np.ndarray]]]:
        """(start, the chunk's raw inputs, outputs) per chunk of the single-input model: memory is bounded
        by the chunk size whatever len(x) is (x may be a read-only memmap)."""
        (name,) = self.input_names
        step = self.chunk_frames(max_values)
        for i in range(0, len(x), step):
            raw = x[i:i + step]
            yield i, raw, self({name: prepare(raw)})


def node_order(model: ModelWrapper) -> list:
    """Nodes in topological order (graph order among ready nodes)."""
    g = model.graph
    made = {i.name for i in g.input} | {t.name for t in g.initializer} | {""}
    todo, order = list(g.node), []
    while todo:
        ready = next((n for n in todo if all(t in made for t in n.input)), None)
        if ready is None:
            raise TimingGraphError(f"node {todo[0].name} has inputs no node produces (or the graph is cyclic)")
        order.append(ready)
        made.update(ready.output)
        todo.remove(ready)
    return order


def frame_values(model: ModelWrapper) -> int:
    """Values per frame of the model's largest annotated tensor (batch axis dropped)."""
    g = model.graph
    infos = list(g.input) + list(g.value_info) + list(g.output)  # a tensor may be in two of these
    shapes = [[d.dim_value for d in v.type.tensor_type.shape.dim] for v in infos]
    return max((int(np.prod(s[1:])) for s in shapes if s), default=1)


def _as_output(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v)
    return v if v.dtype in (np.float64, np.int64) else v.astype(np.float64)


def compile_plan(model: ModelWrapper) -> ValuesPlan:
    """One closure per node (its op's compile_values), in topological order, with slot indices."""
    _check_domain(model)
    g = model.graph
    slot: dict[str, int] = {}

    def index(name: str) -> int:
        return slot.setdefault(name, len(slot))

    in_names = [i.name for i in g.input if model.get_initializer(i.name) is None]
    in_slots = tuple(index(n) for n in in_names)
    steps = []
    for node in node_order(model):
        streams = [t for t in node.input if t and model.get_initializer(t) is None]
        fn = getCustomOp(node).compile_values(model)
        steps.append(Step(node.name, fn, tuple(index(t) for t in streams), tuple(index(t) for t in node.output)))
    out_names = [o.name for o in g.output]
    out_slots = tuple(index(n) for n in out_names)
    last: dict[int, int] = {}
    for k, st in enumerate(steps):
        for s in st.inputs:
            last[s] = k
    last_use = [[s for s, k2 in last.items() if k2 == k] for k in range(len(steps))]
    return ValuesPlan(in_names, out_names, steps, in_slots, out_slots, len(slot), frame_values(model), last_use)
