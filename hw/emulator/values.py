"""Bit-exact values of a dataflow model: each hw.ops node's `execute` over the whole batch, in
topological order, in plain numpy (no onnxruntime, no per-sample loop).

    outputs = execute_dataflow(model, {"global_in": x_int})   # x_int: (N, ...) integer-valued

Values are kept as the ops return them (float64 or int64, exact); nothing is rounded to float32.
`build_timing_graph` (the same model as the timing engine's graph) is re-exported here.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hw.emulator.graph import TimingGraphError
from hw.emulator.model_graph import _check_domain, apply_fifo_depths, build_timing_graph

__all__ = ["execute_dataflow", "build_timing_graph", "apply_fifo_depths", "node_order"]


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


def execute_dataflow(model: ModelWrapper, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run every node's execute over the batch; returns the graph outputs by name."""
    _check_domain(model)
    missing = [i.name for i in model.graph.input if i.name not in inputs and model.get_initializer(i.name) is None]
    if missing:
        raise TimingGraphError(f"no value given for graph input {missing[0]}")
    context = dict(inputs)
    for node in node_order(model):
        args = []
        for t in node.input:
            if not t:
                continue
            init = model.get_initializer(t)
            args.append(context[t] if init is None else init)
        outs = getCustomOp(node).execute(args)
        if len(outs) != len(node.output):
            raise TimingGraphError(f"{node.name}: execute returned {len(outs)} outputs, the node has {len(node.output)}")
        context.update(zip(node.output, outs))
    return {o.name: context[o.name] for o in model.graph.output}
