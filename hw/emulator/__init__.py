"""RTL-free, cycle-accurate emulation of dataflow designs (docs/timing.md §5).

    from hw.emulator import SimConfig, build_timing_graph, simulate, size_fifos
    graph = build_timing_graph(model)                 # dataflow.onnx -> nodes + FIFO edges
    result = simulate(graph, SimConfig(frames=3))     # TimingResult (latency, interval, stalls, HWMs)
    sizing = size_fifos(graph)                        # FifoSizing (depths proven by re-simulation)

Modules: graph (TimingGraph, SimConfig), kernel (numba max-plus worklist), compile (graph -> arrays),
timing (simulate, results), deadlock (waiting-cycle report), fifo_sizing, model_graph (ONNX <->
graph), values (bit-exact execution), plan (the compiled numpy values plan), onnx_graph (the values as
a generated integer-exact ONNX graph under onnxruntime), engine (per design the faster of the two).
"""

from hw.emulator.deadlock import Deadlock, Wait, WaitStep
from hw.emulator.fifo_sizing import DepthRounding, FifoSizing, size_fifos
from hw.emulator.graph import SimConfig, TimingEdge, TimingGraph, TimingGraphError, TimingNode
from hw.emulator.model_graph import apply_fifo_depths, build_timing_graph
from hw.emulator.timing import FifoTiming, NodeTiming, TimingResult, simulate
from hw.emulator.values import execute_dataflow

__all__ = ["Deadlock", "Wait", "WaitStep", "DepthRounding", "FifoSizing", "size_fifos", "SimConfig", "TimingEdge",
           "TimingGraph", "TimingGraphError", "TimingNode", "apply_fifo_depths", "build_timing_graph", "FifoTiming",
           "NodeTiming", "TimingResult", "simulate", "execute_dataflow"]
