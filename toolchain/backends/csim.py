"""C-simulation of an hls4ml project (g++) compared with the emulator, sample by sample and layer by layer.

    result = run_csim(hmodel, plan, model, x_int)   # x_int: (N, ...) integer IR inputs

The project is compiled once with hls4ml's trace hooks (`TraceOutput`, code under #ifndef
__SYNTHESIS__), so one run gives the output of every layer. Each hls4ml layer whose output is an
IR tensor is compared with that tensor from hw.emulator.values.execute_dataflow (every node's
`execute` over the batch); a sample mismatches when any of its values differ. A LabelSelect at the
end runs on the host on the C-sim outputs (its op's `execute`), then the labels are compared.

Host steps: when the design's source QONNX is known, the C-sim is fed the source's raw inputs through
the design's host steps and its outputs are decoded through them (toolchain.hoststeps.to_stream /
from_stream, the functions the project's host.py carries and `hil emulate --inputs` applies), and the
decoded outputs are compared with the source QONNX (toolchain.equality.compare_design, as emulate).

    host = HostRun(source_model, raw_x, spec)      # raw inputs of the source model, hoststeps spec
    result = run_csim(hmodel, plan, model, host.stream(), host=host)
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import io
import time

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from toolchain.backends.plan import Plan


class HostRun:
    """Raw source inputs and the host steps of a design: the integer stream for the C-sim, and the
    source's own outputs to compare the decoded C-sim outputs with."""

    def __init__(self, source: ModelWrapper, raw: np.ndarray, io, spec: dict):
        self.source, self.raw, self.io, self.spec = source, np.asarray(raw, dtype=np.float32), io, spec

    def stream(self) -> np.ndarray:
        from toolchain.hoststeps import to_stream

        return to_stream(self.spec, self.raw).astype(np.float64)

    def compare(self, y_int: np.ndarray):
        """compare_design of the C-sim's integer outputs with the source QONNX on the raw inputs."""
        from toolchain.equality import compare_design
        from toolchain.hoststeps import source_inputs
        from toolchain.onnxio import run_qonnx

        steps = self.io.input_steps
        x_src = source_inputs(steps, self.raw, self.io.input_has_quantizer) if steps else self.raw
        return compare_design(self.io, y_int, run_qonnx(self.source, x_src))


def random_inputs(plan: Plan, n: int, seed: int = 0) -> np.ndarray:
    """n integer IR inputs drawn uniformly over the input datatype (BIPOLAR: -1/+1)."""
    rng = np.random.default_rng(seed)
    shape = (n,) + tuple(plan.layers[0].shape)
    if plan.input.enc.value == "bit":
        return rng.choice(np.array([-1.0, 1.0]), size=shape)
    return rng.integers(plan.input.lo, plan.input.hi, size=shape, endpoint=True).astype(np.float64)


def emulator_tensors(model: ModelWrapper, x: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """The emulator's values of the named tensors (graph outputs of a copy of the model)."""
    from onnx import helper

    from hw.emulator.values import execute_dataflow

    m = ModelWrapper(copy.deepcopy(model.model))
    have = {o.name for o in m.graph.output}
    for name in names:
        if name not in have:
            m.graph.output.append(helper.make_empty_tensor_value_info(name))
            have.add(name)
    return execute_dataflow(m, {model.graph.input[0].name: x})


def host_label_select(model: ModelWrapper, plan: Plan, y: np.ndarray) -> np.ndarray:
    node = next(n for n in model.graph.node if n.name == plan.host_label_select)
    return getCustomOp(node).execute([y])[0]


def _traced_predict(hmodel, x: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """hls4ml ModelGraph.trace without its recompilation (the library was built with tracing)."""

    class TraceData(ctypes.Structure):
        _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p)]

    top, ctype = hmodel._get_top_function(x)
    lib = hmodel._top_function_lib
    traced = {hl.name: hl.get_output_variable().shape for hl in hmodel.get_layers()
              if hl.get_attr("function_cpp", None) and hl.get_attr("trace", False)}
    lib.collect_trace_output.argtypes = [ctypes.POINTER(TraceData)]
    lib.allocate_trace_storage.argtypes = [ctypes.c_size_t]
    data = (TraceData * len(traced))()
    out_size = hmodel.get_output_variables()[0].size()
    outputs, layers = [], {name: [] for name in traced}
    lib.allocate_trace_storage(ctypes.sizeof(ctype))
    try:
        for sample in x:
            y = np.zeros(out_size, dtype=x.dtype)
            top(np.ascontiguousarray(sample), y)
            outputs.append(y)
            lib.collect_trace_output(data)
            for entry in data:
                name = entry.name.decode()
                arr = np.ctypeslib.as_array(ctypes.cast(entry.data, ctypes.POINTER(ctype)), shape=traced[name])
                layers[name].append(np.copy(arr))
    finally:
        lib.free_trace_storage()
    return np.asarray(outputs), {k: np.asarray(v) for k, v in layers.items()}


def _mismatching_samples(a: np.ndarray, b: np.ndarray) -> int:
    from toolchain.equality import compare

    return compare(a, b).mismatches  # a: the C-sim, b: the emulator's reference


def compile_project(hmodel) -> float:
    """write() + g++ of hls4ml's build_lib.sh; returns the seconds."""
    from toolchain.progress import step

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), step("C-sim: compiling the hls4ml project with g++"):
        hmodel.compile()
    return time.perf_counter() - t0


def reference(model: ModelWrapper, plan: Plan, x: np.ndarray) -> dict[str, np.ndarray]:
    """The emulator's values of every IR tensor the plan's layers produce, and of the graph output."""
    tensors = [layer.ir_tensor for layer in plan.layers[1:] if layer.ir_tensor]
    return emulator_tensors(model, x, tensors + [plan.ir_output])


def run_csim(hmodel, plan: Plan, model: ModelWrapper, x: np.ndarray, ref: dict | None = None,
             host: HostRun | None = None) -> dict:
    """Compile, run N samples, compare with the emulator. x: integer IR inputs (N, ...); ref: the
    emulator's tensors (reference(model, plan, x)) when already computed; host: the raw inputs x came
    from (HostRun.stream), so the decoded outputs are also compared with the source ("source")."""
    compile_s = compile_project(hmodel)
    n = len(x)
    x_hw = np.ascontiguousarray(plan.input.enc.to_hw(x).reshape(n, -1), dtype=np.float64)
    t0 = time.perf_counter()
    y_hw, traces = _traced_predict(hmodel, x_hw)
    run_s = time.perf_counter() - t0
    ref = reference(model, plan, x) if ref is None else ref
    per_layer = {}
    for layer in plan.layers[1:]:
        if layer.ir_tensor and layer.name in traces:
            got = layer.out.enc.from_hw(traces[layer.name])
            per_layer[layer.name] = _mismatching_samples(got, ref[layer.ir_tensor])
    y = plan.output.enc.from_hw(y_hw)
    if plan.host_label_select:
        y = host_label_select(model, plan, y.reshape((n,) + tuple(plan.layers[-1].shape)))
    out = {"samples": n, "mismatches": _mismatching_samples(y, ref[plan.ir_output]), "per_layer": per_layer,
           "compile_seconds": round(compile_s, 2), "run_seconds": round(run_s, 3), "host_steps": host is not None,
           "source": None}
    if host is not None:
        from toolchain.hoststeps import from_stream

        y = np.asarray(y).reshape(np.shape(ref[plan.ir_output]))
        out["source"] = host.compare(y).to_json()
        out["outputs"] = from_stream(host.spec, y)  # decoded, as host.post gives them; not JSON (popped)
    return out
