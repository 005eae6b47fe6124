"""Bit-exact values of a dataflow model over a batch, in plain numpy (no onnxruntime, no per-sample loop).

    outputs = execute_dataflow(model, {"global_in": x_int})   # x_int: (N, ...) integer-valued

By default the model is compiled once into a plan of per-node fast kernels (hw/emulator/plan.py);
`compiled=False` runs each node's `execute` in topological order, the definition the plan is tested
against.

Values are kept as the ops return them (float64 or int64, exact); nothing is rounded to float32.
Timing is not here: the timing graph of a model (build_timing_graph, apply_fifo_depths) is in
hw/emulator/model_graph.py, the engine in hw/emulator/timing.py.

BLAS runs single-threaded while the nodes execute. The products are many and mid-sized (a conv MVAU
is one GEMM per feature-map row), and a multi-threaded OpenBLAS spin-waits for its threads at every
call: on a machine whose cores are busy (other jobs, DSE worker processes) that made the values 5-100x
slower (CNV MVAU_1's product for 64 frames on 2 cores: 0.08 s idle, 7.5 to 57 s with both cores busy;
single-threaded 0.1 s idle, 0.5 s busy).
Exact integer sums do not depend on the summation order, so the results are the same.

A large batch runs in chunks of frames, so that no tensor of a chunk holds more than `max_values`
values (a CNV im2col of 1,000 frames would otherwise take several GiB of float64).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hw.emulator.graph import TimingGraphError
from hw.emulator.model_graph import _check_domain
from hw.emulator.plan import compile_plan, frame_values, node_order

__all__ = ["execute_dataflow", "frame_values", "node_order", "single_threaded_blas"]

MAX_CHUNK_VALUES = 1 << 24  # values of the largest tensor per chunk (128 MiB of float64)


@lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def execute_dataflow(model: ModelWrapper, inputs: dict[str, np.ndarray],
                     max_values: int = MAX_CHUNK_VALUES, compiled: bool = True) -> dict[str, np.ndarray]:
    """The graph outputs by name for a batch: the compiled plan (default) or every node's execute."""
    n = min((len(v) for v in inputs.values()), default=0)
    step = max(1, max_values // max(frame_values(model), 1))
    if compiled:
        run = compile_plan(model)
    else:
        def run(part):
            return _execute(model, part)
    with single_threaded_blas():
        if n <= step:
            return run(inputs)
        parts = [run({k: v[i:i + step] for k, v in inputs.items()}) for i in range(0, n, step)]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def single_threaded_blas():
    """A context in which BLAS runs on one thread (see the module docstring for why)."""
    return _blas_controller().limit(limits=1, user_api="blas")


def _execute(model: ModelWrapper, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
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
