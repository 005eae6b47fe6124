"""`hil emulate`: bit-exact values and cycle-accurate timing of a dataflow.onnx, without RTL.

    result = emulate("dataflow.onnx", inputs="x.npy", frames=3, size=True, dma_bits=64)

Timing: hw.emulator (max-plus event engine, docs/timing.md §5.2) over every node's token
schedule, `frames` frames, the DMA source as fast as the design accepts. Values (with --inputs): each
node's execute over the batch, compared with qonnx execute_onnx of the source QONNX (metadata
"hil_source"), inputs and outputs mapped through metadata "hil_io" (toolchain.contract):
  * inputs are the source model's raw float inputs, mapped by the host steps the lowering recorded
    ("input_steps": preprocessing and the input quantizer, toolchain/hoststeps.py); a design
    without them: x_int = x / input_scale must be integral and inside input_dtype; NCHW inputs are
    transposed to the dataflow's channels-last layout when hil_layout says so (toolchain.inputs);
  * outputs are decoded through the contract (output steps, or y_int·scale + bias) and compared by
    toolchain.equality.compare_design, the one definition of equal that `hil lower` uses (exact, or
    the stated tolerance of float host steps; labels: the K labels must be distinct and select K
    largest source outputs).
Without "hil_source", --inputs are the dataflow's integer inputs and nothing is compared.

With `run_dir`, the result is also written to run_dir/emulate.json and the event arrays the report
plots (per node first/last firing per frame, FIFO occupancy over time) to run_dir/emulate_timeline.json,
so `hil report` never simulates again.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from toolchain.contract import read_io, source_path
from toolchain.defaults import known_device, resolve_clock
from toolchain.errors import DeadlockError, UserError
from toolchain.inputs import check_sample_shape, integer_inputs, load_inputs, stream_inputs
from toolchain.schemas import versioned

DEFAULT_FRAMES = 3
RESULT, TIMELINE = "emulate.json", "emulate_timeline.json"
TIMELINE_FRAMES = 3  # frames drawn by the report's Gantt chart
TIMELINE_POINTS = 1000  # occupancy points kept per FIFO (per-bin maxima beyond that)
UNITS = {
    "frames": "frames timed", "clock_ns": "ns", "dma_bits": "bits per clock cycle",
    "latency_cycles": "clock cycles (first input word to last output word of frame 0)", "latency_ns": "ns",
    "interval_cycles": "clock cycles per frame (steady state)", "throughput_fps": "frames per second",
    "total_cycles": "clock cycles (all timed frames)", "max_node_cycles": "clock cycles per frame",
    "per_layer.*.busy_per_frame": "clock cycles per frame (mean over the timed frames)",
    "per_layer.*.stall_in_per_frame": "clock cycles per frame waiting for input (mean)",
    "per_layer.*.stall_out_per_frame": "clock cycles per frame waiting for output space (mean)",
    "per_layer.*.write_block_per_frame": "clock cycles per frame with a write blocked (mean)",
    "per_layer.*.firings_per_frame": "firings per frame (mean)",
    "fifo_depths": "words", "fifos.*.capacity": "words", "fifos.*.hwm": "words (high-water mark)",
    "samples": "input samples compared", "mismatches": "samples",
    "fifo_sizing.source_interval": "clock cycles between frames at the source while sizing",
    "fifo_sizing.interval_unbounded": "clock cycles per frame with unbounded FIFOs", "fifo_sizing.hwm": "words",
}


class EmulationDeadlock(DeadlockError):
    """A DeadlockError carrying the JSON result, so `--json` can still print it."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


def _pipeline_defaults(model, dma_bits: Optional[int], clock_ns: Optional[float]) -> tuple[Optional[int], float]:
    """Explicit options, else the lowering's part / clock metadata (toolchain.defaults); without a
    known part, one word per cycle."""
    part = model.get_metadata_prop("hil_part")
    device = known_device(part)
    if dma_bits is None and device is not None:
        dma_bits = device.dma_bits
    return dma_bits, resolve_clock(clock_ns, model, part)


def run_values(model, path: Path, x: np.ndarray, out_file: Optional[Path] = None,
               source: Optional[Path] = None, engine: str = "auto",
               on_engine: Optional[Callable[[str, str], None]] = None):
    """toolchain.equality.Equality against the source QONNX (None without one); the user-facing outputs
    are written to `out_file` (.npy) when given. x (possibly a read-only memmap) is streamed in chunks
    (at most hw.emulator.plan.MAX_CHUNK_VALUES values per tensor) through the faster of the two exact
    values engines, the compiled plan and the generated ONNX graph under onnxruntime, measured on the
    first chunk (hw.emulator.engine; `engine` forces one), so memory stays bounded whatever len(x) is;
    a progress bar (rich, on a terminal) when there is more than one chunk. With a source, raw inputs
    go through the lowering's host steps (toolchain.inputs.stream_inputs) and outputs through its
    output steps, compared as `hil lower` compares. `on_engine(choice, why)` is told which engine ran
    ("plan" or "onnxruntime") and why, once it is chosen."""
    from hw.emulator.engine import compile_values
    from hw.emulator.values import single_threaded_blas
    from toolchain.onnxio import load_model

    if len(model.graph.input) != 1 or len(model.graph.output) != 1:
        raise UserError("--inputs needs a dataflow model with one input and one output")
    io, src_path = read_io(model), source_path(model, path, source)
    src = None
    if src_path is not None:
        from toolchain.contract import is_dataflow
        from toolchain.passes.cleanup import import_cleanup

        if not src_path.is_file():
            raise UserError(f"source QONNX {src_path} (metadata hil_source of {path}) not found")
        src = load_model(src_path)
        if is_dataflow(src):
            raise UserError(f"the source {src_path} of {path} is a dataflow model, not the QONNX it was lowered from")
        src = import_cleanup(src)  # as `hil lower` verified it
    else:
        io = replace(io, input_scale=1.0, input_dtype=None)

    def to_stream(part: np.ndarray) -> np.ndarray:
        if src is not None and io.input_steps:
            return stream_inputs(src, model, check_sample_shape(src, part)).astype(np.float64)
        return integer_inputs(model, part, io, source_layout=src is not None)

    from toolchain.equality import Equality, compare_design
    from toolchain.hoststeps import source_inputs

    values = compile_values(model, engine)
    oname = model.graph.output[0].name
    reference = QonnxReference(src) if src is not None else None
    parts, out = [], None
    with single_threaded_blas(), _progress(len(x), values.chunk_frames()) as advance:
        for start, raw, y in values.chunks(x, to_stream):
            shown = io.decode(y[oname])
            if src is not None:
                raw = np.asarray(raw)
                x_src = (source_inputs(io.input_steps, raw, io.input_has_quantizer) if io.input_steps
                         else raw.astype(np.float32))
                parts.append(compare_design(io, y[oname], reference(x_src)))
            if out_file is not None:
                if out is None:
                    out = np.lib.format.open_memmap(out_file, mode="w+", dtype=shown.dtype,
                                                    shape=(len(x),) + shown.shape[1:])
                out[start:start + len(shown)] = shown
            advance(len(raw))
    if out is not None:
        out.flush()
        del out
    if on_engine is not None and values.choice is not None:
        on_engine(values.choice, values.why)
    return Equality.combine(parts) if src is not None else None


class QonnxReference:
    """The source QONNX run by qonnx's reference executor (execute_onnx, as toolchain.onnxio.run_qonnx
    runs it): an execution independent of the emulator. One call per chunk of the plan, the whole
    chunk as one batch, and the batch-resized model kept per chunk length: qonnx builds an
    onnxruntime session per standard node per call, so 512-sample calls cost more in sessions than
    in arithmetic (10,000 jet-mlp samples: 20 calls, ~0.5 s, vs one call, ~0.05 s); the plan's chunk
    (MAX_CHUNK_VALUES values per tensor) bounds the memory of a call."""

    def __init__(self, model):
        self.model = model
        self.batched: dict[int, object] = {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        from qonnx.core.onnx_exec import execute_onnx
        from qonnx.transformation.change_batchsize import ChangeBatchSize
        from qonnx.transformation.infer_shapes import InferShapes

        if len(x) not in self.batched:
            if len(self.batched) >= 2:  # a run has at most two chunk lengths (full chunks, the last one)
                self.batched.clear()
            self.batched[len(x)] = self.model.transform(ChangeBatchSize(len(x))).transform(InferShapes())
        m = self.batched[len(x)]
        return execute_onnx(m, {m.graph.input[0].name: x})[m.graph.output[0].name]


@contextmanager
def _progress(total: int, chunk: int):
    """advance(n) of a rich progress bar on stderr when stderr is a terminal and x takes several chunks."""
    if total <= chunk or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("values", total=total)
        yield lambda n: bar.advance(task, n)


# bytes the event engine keeps per node firing: its firing time, and the write and read time of the
# word(s) it moves on its edges (int64 each), with the copies the result takes (hw/emulator/timing.py)
BYTES_PER_FIRING = 64


def _check_frames(graph, frames: int) -> None:
    """The memory --frames would take, refused before the simulation allocates it (limits.py)."""
    from toolchain.limits import check_bytes

    per_frame = sum(n.schedule.firings for n in graph.nodes)
    check_bytes(f"--frames {frames:,} ({per_frame:,} node firings per frame)",
                float(BYTES_PER_FIRING) * max(frames, 2) * per_frame)


def _read_depths(path: Optional[Path]) -> Optional[dict[str, int]]:
    if path is None:
        return None
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"--fifo-depths {path}: not a readable JSON file ({err})") from None
    if not isinstance(raw, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw.values()):
        raise UserError(f"--fifo-depths {path}: expected a JSON object FIFO name -> integer depth")
    return raw


def _timing_json(timing, clock_ns: float, dma_bits: Optional[int], sizing, graph) -> dict:
    depths = sizing.depths if sizing is not None else timing.hwm()
    out = {
        "frames": timing.frames, "clock_ns": clock_ns, "dma_bits": dma_bits,
        "latency_cycles": timing.latency_cycles,
        "latency_ns": None if timing.latency is None else timing.latency_cycles * clock_ns,
        "interval_cycles": timing.interval, "throughput_fps": timing.throughput_fps(clock_ns),
        "total_cycles": timing.total_cycles, "max_node_cycles": graph.max_node_cycles(),
        # per frame: the totals over the timed frames divided by their count (issue 18: a figure
        # whose frame count the reader has to know is easy to misread)
        "per_layer": {n.name: {"busy_per_frame": n.busy / timing.frames, "stall_in_per_frame": n.stall_in / timing.frames,
                               "stall_out_per_frame": n.stall_out / timing.frames,
                               "write_block_per_frame": n.write_block / timing.frames,
                               "firings_per_frame": n.firings / timing.frames} for n in timing.nodes.values()},
        "fifo_depths": depths,
        "fifos": {f.name: {"src": f.src, "dst": f.dst, "capacity": f.capacity, "hwm": f.hwm}
                  for f in timing.fifos.values()},
        "deadlock": False if timing.deadlock is None else timing.deadlock.to_json(),
    }
    if sizing is not None:
        out["fifo_sizing"] = {"full_throughput": sizing.full_throughput, "source_interval": sizing.source_interval,
                              "interval_unbounded": sizing.interval_unbounded, "runs": sizing.rounds,
                              "hwm": sizing.hwm}
    return out


def emulate(model_path: str | Path, inputs: Optional[Path] = None, frames: Optional[int] = None, size: bool = False,
            dma_bits: Optional[int] = None, clock_ns: Optional[float] = None, output: Optional[Path] = None,
            fifo_depths: Optional[Path] = None, rounding: str = "exact", write_model: Optional[Path] = None,
            shrink: bool = False, run_dir: Optional[Path] = None, impl: str = "hls",
            source: Optional[Path] = None) -> dict:
    """Emulate a dataflow model; returns the `hil emulate --json` object (also written to
    run_dir/emulate.json, with the timeline beside it). `impl` is the timing profile: hls (default)
    or rtl (hw/ops/rtl templates). Raises UserError on bad input and EmulationDeadlock (exit 3) when
    the design deadlocks."""
    from hw.emulator.fifo_sizing import DepthRounding
    from toolchain.fileio import atomic_path
    from toolchain.onnxio import load_model

    frames = DEFAULT_FRAMES if frames is None else frames
    if frames < 1:
        raise UserError(f"--frames must be >= 1, got {frames}")
    if dma_bits is not None and dma_bits < 1:
        raise UserError(f"--dma-bits must be >= 1, got {dma_bits}")
    if clock_ns is not None and not clock_ns > 0:
        raise UserError(f"--clock-ns must be > 0, got {clock_ns}")
    try:
        rounding_mode = DepthRounding(rounding)
    except ValueError:
        raise UserError(f"--rounding must be exact or finn, got {rounding!r}") from None
    if output is not None and inputs is None:
        raise UserError("-o needs --inputs (the outputs are computed from them)")
    if (write_model is not None or shrink) and not size:
        raise UserError(f"{'--write-model' if write_model is not None else '--shrink'} needs --size-fifos")
    model = load_model(model_path)
    x = load_inputs(inputs, mmap=True) if inputs is not None else None
    dma_bits, clock_ns = _pipeline_defaults(model, dma_bits, clock_ns)
    with ExitStack() as outputs:  # -o is streamed to a temporary file, renamed only on success
        out_tmp = outputs.enter_context(atomic_path(output)) if output is not None else None
        return _emulate(model, model_path, x, out_tmp, frames, size, dma_bits, clock_ns, fifo_depths, rounding_mode,
                        write_model, shrink, run_dir, impl, source)


def _emulate(model, model_path, x, out_tmp, frames, size, dma_bits, clock_ns, fifo_depths, rounding_mode,
             write_model, shrink, run_dir, impl, source=None) -> dict:
    from hw.emulator.fifo_sizing import FifoSizingError, size_fifos
    from hw.emulator.graph import SimConfig, TimingGraphError
    from hw.emulator.timing import simulate
    from hw.emulator.model_graph import apply_fifo_depths, build_timing_graph
    from hw.ops.base import OpError
    from toolchain.fileio import atomic_path, write_json

    try:
        engine: dict = {}
        equality = (run_values(model, Path(model_path), x, out_tmp, source,
                               on_engine=lambda choice, why: engine.update(choice=choice, why=why))
                    if x is not None else None)
        from hw.emulator.impl import with_impl  # timing profile: hls (default) or rtl (hw/ops/rtl templates)

        graph = with_impl(build_timing_graph(model, _read_depths(fifo_depths)), impl)
        _check_frames(graph, frames)
        config = SimConfig(frames=frames, dma_bits=dma_bits)
        sizing = (size_fifos(graph, replace(config, frames=max(frames, 2)), rounding_mode, shrink=shrink)
                  if size else None)
        if sizing is not None:
            graph = graph.with_capacities(sizing.depths)
        timing = simulate(graph, config)
    except (TimingGraphError, OpError) as err:
        raise UserError(str(err).splitlines()[0]) from None
    except FifoSizingError as err:
        raise DeadlockError(str(err)) from None
    result = {"model": str(model_path), **_timing_json(timing, clock_ns, dma_bits, sizing, graph),
              "samples": None if x is None else int(len(x)),
              "mismatches": None if equality is None else equality.mismatches,
              **({"equality": equality.to_json()} if equality is not None else {}),
              **({"values_engine": engine} if engine else {})}
    if timing.deadlock is not None:  # name the depths that fix it (hw/emulator/bypass.py)
        from hw.emulator.bypass import deadlock_fix, describe_fix

        result["deadlock"]["fix"] = deadlock_fix(graph, timing.deadlock, config)
    versioned(result, UNITS)
    if run_dir is not None:
        write_json(Path(run_dir) / RESULT, result)
        write_json(Path(run_dir) / TIMELINE, timeline_json(timing))
    if timing.deadlock is not None:
        raise EmulationDeadlock(timing.deadlock.describe() + describe_fix(result["deadlock"]["fix"]), result)
    if write_model is not None:
        apply_fifo_depths(model, graph, sizing.depths)
        with atomic_path(write_model) as tmp:
            model.save(str(tmp))
    return result


def timeline_json(timing, frames: int = TIMELINE_FRAMES, points: int = TIMELINE_POINTS) -> dict:
    """What the report plots, from this run: per node the (first, last) firing cycle of each of the
    first `frames` frames (-1: no firing), per FIFO its occupancy step function (cycle, words from that
    cycle on), reduced to at most `points` steps by keeping each bin's maximum (the peaks stay)."""
    shown = min(frames, timing.frames)
    nodes = {n.name: [[int(a), int(b)] for a, b in zip(n.first_fire[:shown], n.last_fire[:shown])]
             for n in timing.nodes.values()}
    fifos = {}
    for f in timing.fifos.values():
        t, occ = f.occupancy()
        if t.size > points:
            bins = np.linspace(0, t.size, points + 1).astype(np.int64)
            t, occ = t[bins[:-1]], np.maximum.reduceat(occ, bins[:-1])
        fifos[f.name] = {"src": f.src, "dst": f.dst, "hwm": int(f.hwm), "cycle": t.tolist(), "words": occ.tolist()}
    return {"frames": shown, "nodes": nodes, "fifos": fifos}


def summary(result: dict) -> str:
    """One human line for `hil emulate` without --json."""
    fps = result["throughput_fps"]
    text = (f"latency {result['latency_cycles']} cycles, interval {result['interval_cycles']} cycles"
            + (f" ({fps:,.0f} fps at {result['clock_ns']} ns)" if fps else " (one frame: no steady state)"))
    if result["mismatches"] is not None:
        text += f", {result['mismatches']} mismatches on {result['samples']} samples"
    return text
