"""`hil emulate`: bit-exact values and cycle-accurate timing of a dataflow.onnx, without RTL.

    result = emulate("dataflow.onnx", inputs="x.npy", frames=3, size=True, dma_bits=64)

Timing: hw.emulator (max-plus event engine, reference/emulator.md §5.2) over every node's token
schedule, `frames` frames, the DMA source as fast as the design accepts. Values (with --inputs): each
node's execute over the batch, compared with qonnx execute_onnx of the source QONNX (metadata
"hil_source"), inputs and outputs mapped through metadata "hil_io":
  * inputs are the source model's float inputs; x_int = x / input_scale must be integral and inside
    input_dtype (else refused: the dataflow only sees the integer grid); NCHW inputs are transposed
    to the dataflow's channels-last layout;
  * "values" outputs: a sample mismatches when any element of y_int·scale + bias differs from y_src
    (exactly: the scales are powers of two);
  * "labels" outputs: a sample mismatches unless the dataflow's K labels are distinct and select K
    largest source outputs (so ties may be broken either way).
Without "hil_source", --inputs are the dataflow's integer inputs and nothing is compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from toolchain.errors import DeadlockError, UserError

DEFAULT_FRAMES = 3
DEFAULT_CLOCK_NS = 10.0


class EmulationDeadlock(DeadlockError):
    """A DeadlockError carrying the JSON result, so `--json` can still print it."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class IOMap:
    input_scale: float = 1.0
    input_dtype: Optional[str] = None
    output_scale: float = 1.0
    output_bias: float = 0.0
    output_kind: str = "values"


def _io_map(model) -> IOMap:
    raw = model.get_metadata_prop("hil_io")
    if not raw:
        return IOMap()
    try:
        data = json.loads(raw)
        io = IOMap(**{k: data[k] for k in IOMap.__dataclass_fields__ if k in data})
    except (ValueError, TypeError) as err:
        raise UserError(f"metadata hil_io is not valid: {err}") from None
    if io.output_kind not in ("values", "labels"):
        raise UserError(f"metadata hil_io: output_kind must be values or labels, got {io.output_kind!r}")
    return io


def _pipeline_defaults(model, dma_bits: Optional[int], clock_ns: Optional[float]) -> tuple[Optional[int], float]:
    """Explicit options, else the lowering's part / clock metadata, else one word per cycle at 10 ns."""
    part = model.get_metadata_prop("hil_part")
    device = None
    if part:
        from hw.devices import get_device

        try:
            device = get_device(part)
        except LookupError:
            device = None
    if dma_bits is None and device is not None:
        dma_bits = device.dma_bits
    if clock_ns is None:
        meta = model.get_metadata_prop("hil_clock_ns")
        clock_ns = float(meta) if meta else (device.default_clock_ns if device else DEFAULT_CLOCK_NS)
    return dma_bits, clock_ns


def _load_inputs(path: Path) -> np.ndarray:
    if not Path(path).exists():
        raise UserError(f"inputs file not found: {path}")
    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise UserError(f"{path} is not a .npy array ({err})") from None
    if not isinstance(x, np.ndarray) or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise UserError(f"{path}: inputs must be a float or integer array, got dtype {getattr(x, 'dtype', type(x))}")
    if x.ndim < 1 or len(x) == 0:
        raise UserError(f"{path}: inputs must hold at least one sample (shape (N, ...)), got shape {x.shape}")
    return x


def _shape(model, name: str) -> tuple[int, ...]:
    return tuple(int(d) for d in model.get_tensor_shape(name))


def _to_dataflow_layout(x: np.ndarray, src_shape: tuple[int, ...], df_shape: tuple[int, ...],
                        nhwc: bool = False) -> np.ndarray:
    """Source-layout inputs in the dataflow's layout; `nhwc` (metadata hil_layout) says the lowering
    moved channels last, which the shapes alone cannot tell when C == H == W."""
    if x.shape[1:] == df_shape[1:] and not (nhwc and x.ndim == 4 and x.shape[1:] == tuple(src_shape[1:])):
        return x
    if len(src_shape) == 4 and x.shape[1:] == src_shape[1:] and df_shape[1:] == (src_shape[2], src_shape[3], src_shape[1]):
        return x.transpose(0, 2, 3, 1)
    raise UserError(f"inputs have shape {x.shape}; expected (N, {', '.join(map(str, src_shape[1:]))})")


def _integer_inputs(model, x: np.ndarray, io: IOMap, src_shape: tuple[int, ...]) -> np.ndarray:
    from qonnx.core.datatype import DataType

    iname = model.graph.input[0].name
    x = _to_dataflow_layout(x, src_shape, _shape(model, iname), model.get_metadata_prop("hil_layout") == "NHWC")
    xi = x.astype(np.float64) / io.input_scale
    if not np.array_equal(xi, np.round(xi)):
        bad = int(np.flatnonzero((xi != np.round(xi)).reshape(len(xi), -1).any(axis=1))[0])
        raise UserError(f"inputs: sample {bad} is not on the input grid (x / {io.input_scale} must be integral); "
                        "quantize the inputs first")
    dt = DataType[io.input_dtype] if io.input_dtype else model.get_tensor_datatype(iname)
    if dt is not None and xi.size and (xi.min() < dt.min() or xi.max() > dt.max()):
        raise UserError(f"inputs: x / {io.input_scale} spans [{xi.min()}, {xi.max()}], outside {dt.name}")
    if dt is not None and dt.name == "BIPOLAR" and not np.all(np.abs(xi) == 1):
        raise UserError(f"inputs: x / {io.input_scale} must be -1 or +1 (BIPOLAR)")
    return xi


def _mismatches(y_int: np.ndarray, y_src: np.ndarray, io: IOMap) -> int:
    n = len(y_int)
    yi = y_int.reshape(n, -1).astype(np.float64)
    ys = y_src.reshape(n, -1).astype(np.float64)
    if io.output_kind == "labels" and ys.shape[1] != yi.shape[1]:
        k = yi.shape[1]
        if yi.min(initial=0) < 0 or yi.max(initial=0) >= ys.shape[1]:
            return n
        picked = np.take_along_axis(ys, yi.astype(np.int64), axis=1)
        best = -np.sort(-ys, axis=1)[:, :k]
        distinct = np.array([len(set(r)) == k for r in yi.astype(np.int64)])
        return int((~(np.all(np.sort(picked, axis=1)[:, ::-1] == best, axis=1) & distinct)).sum())
    if ys.shape != yi.shape:
        raise UserError(f"dataflow output shape {y_int.shape} does not match the source output {y_src.shape}")
    if io.output_kind == "labels":
        return int((ys != yi).any(axis=1).sum())
    # exact: power-of-two scales make y_int·scale + bias representable, so no tolerance is needed
    return int(((yi * io.output_scale + io.output_bias) != ys).any(axis=1).sum())


def run_values(model, path: Path, x: np.ndarray) -> tuple[np.ndarray, Optional[int], np.ndarray]:
    """(dataflow integer outputs, mismatches or None, user-facing outputs)."""
    from hw.emulator.values import execute_dataflow
    from toolchain.onnxio import load_model

    if len(model.graph.input) != 1 or len(model.graph.output) != 1:
        raise UserError("--inputs needs a dataflow model with one input and one output")
    io, source = _io_map(model), model.get_metadata_prop("hil_source")
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    if source:
        src = load_model(Path(path).parent / source)
        src_shape = _shape(src, src.graph.input[0].name)
        xi = _integer_inputs(model, x, io, src_shape)
    else:
        if x.shape[1:] != _shape(model, iname)[1:]:
            raise UserError(f"inputs have shape {x.shape}; expected (N, {', '.join(map(str, _shape(model, iname)[1:]))})")
        xi = _integer_inputs(model, x, IOMap(), _shape(model, iname))
    y_int = execute_dataflow(model, {iname: xi})[oname]
    shown = y_int if io.output_kind == "labels" else y_int * io.output_scale + io.output_bias
    if not source:
        return y_int, None, shown
    from toolchain.export import run_qonnx

    y_src = run_qonnx(src, x.astype(np.float32))
    return y_int, _mismatches(y_int, y_src, io), shown


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
        "per_layer": {n.name: {"busy": n.busy, "stall_in": n.stall_in, "stall_out": n.stall_out,
                               "write_block": n.write_block, "firings": n.firings} for n in timing.nodes.values()},
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
            shrink: bool = False, impl: str = "hls") -> dict:
    """Emulate a dataflow model; returns the `hil emulate --json` object. Raises UserError on bad
    input and EmulationDeadlock (exit 3) when the design deadlocks."""
    from dataclasses import replace

    from hw.emulator.fifo_sizing import DepthRounding, FifoSizingError, size_fifos
    from hw.emulator.graph import SimConfig, TimingGraphError
    from hw.emulator.timing import simulate
    from hw.emulator.values import apply_fifo_depths, build_timing_graph
    from hw.ops.base import OpError
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
    x = _load_inputs(inputs) if inputs is not None else None
    dma_bits, clock_ns = _pipeline_defaults(model, dma_bits, clock_ns)
    try:
        values = run_values(model, Path(model_path), x) if x is not None else None
        from hw.emulator.impl import with_impl  # timing profile: hls (default) or rtl (hw/ops/rtl templates)

        graph = with_impl(build_timing_graph(model, _read_depths(fifo_depths)), impl)
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
              "samples": None if values is None else int(len(x)),
              "mismatches": None if values is None else values[1]}
    if timing.deadlock is not None:
        raise EmulationDeadlock(timing.deadlock.describe(), result)
    if output is not None:
        with atomic_path(output) as tmp, open(tmp, "wb") as fh:
            np.save(fh, values[2])
    if write_model is not None:
        apply_fifo_depths(model, graph, sizing.depths)
        with atomic_path(write_model) as tmp:
            model.save(str(tmp))
    return result


def summary(result: dict) -> str:
    """One human line for `hil emulate` without --json."""
    fps = result["throughput_fps"]
    text = (f"latency {result['latency_cycles']} cycles, interval {result['interval_cycles']} cycles"
            + (f" ({fps:,.0f} fps at {result['clock_ns']} ns)" if fps else " (one frame: no steady state)"))
    if result["mismatches"] is not None:
        text += f", {result['mismatches']} mismatches on {result['samples']} samples"
    return text
