"""The Python API (`import hil`, the thin package beside this one): the verbs as functions that take
your model and numpy arrays and return typed results.

    import hil
    exported = hil.export(model, (1, 1, 8, 8), "model.onnx", x=x)      # nn.Module -> verified QONNX
    design = hil.lower("model.onnx", x=x, target_fps=100_000)            # or the nn.Module, a ModelProto, ...
    cost = hil.estimate(design, part="Pynq-Z2")
    run = hil.emulate(design, x)                                          # run.outputs, run.equality
    project = hil.build(design, "hls4ml", "prj", csim=100)

Each function calls the function its CLI verb calls (toolchain.export.export_module / export_run,
toolchain.lower.lower_file, toolchain.pipeline.estimate_model and build, toolchain.emulate.emulate):
one code path, so the API and `hil <verb>` give the same numbers and the same one-line errors
(toolchain.errors.UserError). Where a verb works on files, the API writes them into a workspace folder
of the result (a temporary folder removed with the object) unless you name the output.

Orchestration: above every stage, like toolchain.pipeline (tests/unit/test_stage_layering.py).
Heavy libraries (torch, brevitas, qonnx, hls4ml) are imported inside the functions.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from toolchain.equality import Equality
from toolchain.errors import UserError

__all__ = ["export", "lower", "estimate", "emulate", "build", "Exported", "Design", "Estimate", "Emulation",
           "Build", "Equality", "UserError"]

PathLike = Union[str, os.PathLike]


class _Workspace:
    """A temporary folder that lives as long as the result objects holding it."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="hil-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.path), True)


@dataclass(frozen=True)
class Exported:
    """A QONNX model verified against the PyTorch model it came from (`hil export`)."""

    path: Path  # the QONNX file
    equality: Equality  # torch ≡ QONNX on the verification samples (bit-exact: mismatches 0)
    nodes: dict[str, int]  # op type -> count
    result: dict[str, Any]  # the `hil export --json` object
    _workspace: Optional[_Workspace] = field(default=None, repr=False, compare=False)

    @property
    def model(self):
        """The QONNX model (a qonnx ModelWrapper, loaded from `path`)."""
        from toolchain.onnxio import load_model

        return load_model(self.path)


@dataclass(frozen=True)
class Design:
    """A dataflow design verified against its source QONNX (`hil lower`)."""

    path: Path  # dataflow.onnx
    source: Path  # the QONNX it was lowered from (metadata hil_source)
    equality: Equality  # dataflow ≡ QONNX: mismatches, verified float32 ties, label agreement
    io: Any  # toolchain.contract.IOContract: input scale and steps, output steps (the host's part)
    nodes: dict[str, int]  # op type -> count
    result: dict[str, Any]  # the `hil lower --json` object
    _workspace: Any = field(default=None, repr=False, compare=False)

    @property
    def model(self):
        """The dataflow graph (a qonnx ModelWrapper of hw.ops nodes, loaded from `path`)."""
        from toolchain.onnxio import load_model

        return load_model(self.path)


@dataclass(frozen=True)
class Estimate:
    """Cycles, throughput and resources of a design (`hil estimate`)."""

    part: str
    clock_ns: float
    cost_model: str
    fits: bool
    throughput_fps: Optional[float]
    latency_ns: float
    max_cycles: int
    total: dict[str, float]  # LUT, FF, DSP, BRAM_18K, URAM
    utilization: dict[str, float]  # fraction of the part, per resource
    layers: list[dict[str, Any]]  # per node: name, op, PE, SIMD, cycles, resources, energy_pj
    result: dict[str, Any]  # the `hil estimate --json` object


@dataclass(frozen=True)
class Emulation:
    """Cycle-accurate timing and bit-exact values of a design (`hil emulate`)."""

    latency_cycles: Optional[int]
    interval_cycles: Optional[float]
    throughput_fps: Optional[float]
    fifo_depths: dict[str, int]
    outputs: Optional[np.ndarray]  # the source model's outputs for x, computed by the design + host steps
    equality: Optional[Equality]  # emulator ≡ source QONNX on x (None without x)
    result: dict[str, Any]  # the `hil emulate --json` object


@dataclass(frozen=True)
class Build:
    """A generated project (`hil build`): hls4ml, FINN handoff or RTL."""

    backend: str
    dir: Path
    result: dict[str, Any]  # the `hil build --json` object (with "csim" / "cosim" when run)


# ---- arguments -----------------------------------------------------------------------------------

def _is_module(obj) -> bool:
    try:
        import torch
    except ImportError:
        return False
    return isinstance(obj, torch.nn.Module)


def _array(x, what: str = "x") -> np.ndarray:
    """numpy inputs (N, ...); a toolchain.data.Dataset gives its x."""
    x = getattr(x, "x", x)
    try:
        x = np.asarray(x)
    except (TypeError, ValueError):
        raise UserError(f"{what} must be a numpy array (N, ...)") from None
    if x.ndim < 1 or len(x) == 0 or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise UserError(f"{what} must be a numeric array with at least one sample (N, ...), got shape {x.shape}")
    return x


def _save_model(model, path: Path) -> Path:
    """An onnx.ModelProto or qonnx ModelWrapper saved as a file (the verbs read files)."""
    import onnx

    proto = getattr(model, "model", model)
    if not isinstance(proto, onnx.ModelProto):
        raise UserError(f"expected an nn.Module, onnx.ModelProto, qonnx ModelWrapper or a path, got "
                        f"{type(model).__name__}")
    onnx.save(proto, str(path))
    return path


def _model_file(model, folder: Path, name: str, input_shape=None, x=None) -> Path:
    """Any accepted model as a file: a path as it is; an Exported / Design its file; a ModelProto or
    ModelWrapper saved as folder/name.onnx; an nn.Module exported there (needs input_shape)."""
    if isinstance(model, (Exported, Design)):
        return model.path
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.is_file():
            raise UserError(f"model file not found: {path}")
        return path
    if _is_module(model):
        if input_shape is None:
            raise UserError("an nn.Module needs input_shape (e.g. (1, 1, 8, 8)) to be exported first")
        return export(model, input_shape, folder / f"{name}.onnx", x=x).path
    return _save_model(model, folder / f"{name}.onnx")


def _equality(data: Optional[dict]) -> Optional[Equality]:
    if data is None:
        return None
    keys = ("samples", "mismatches", "ties", "max_abs_diff", "label_agreement", "tolerance")
    return Equality(**{k: data[k] for k in keys if k in data})


# ---- the verbs -----------------------------------------------------------------------------------

def export(module, input_shape: Sequence[int] | str, output: Optional[PathLike] = None, *, x=None,
           samples: int = 1000, seed: int = 0, calibrate=None, input_dtype: Optional[str] = None) -> Exported:
    """A Brevitas model (torch.nn.Module) -> QONNX at `output` (a workspace file if None), verified
    bit-exact against the module on `x` (numpy (N, ...) or a toolchain.data.Dataset) or on `samples`
    standard-normal inputs of `input_shape` (batch first: (1, C, H, W) or (1, features)).
    `calibrate`: inputs for Brevitas' activation calibration before the export. `input_dtype`
    ("UINT8"): the graph input is that integer type (raw pixels). `hil export --module` calls the same
    function (toolchain.export.export_module)."""
    from toolchain.export import export_module

    if not _is_module(module):
        raise UserError(f"export needs a torch.nn.Module (a Brevitas model), got {type(module).__name__}")
    ws = None
    if output is None:
        ws = _Workspace()
        output = ws.path / "model.onnx"
    result = export_module(module, input_shape, Path(output), x=None if x is None else _array(x),
                           samples=samples, seed=seed, input_dtype=input_dtype,
                           calibrate_on=None if calibrate is None else _array(calibrate, "calibrate"))
    return Exported(path=Path(output), nodes=result["nodes"], result=result, _workspace=ws,
                    equality=_equality({**result, "ties": 0}))


def lower(model, output: Optional[PathLike] = None, *, x=None, input_shape=None, recipe: Optional[str] = None,
          samples: int = 500, seed: int = 0, folding=None, target_fps: Optional[float] = None,
          part: Optional[str] = None, clock_ns: Optional[float] = None, label_select: bool = False,
          strict: bool = False, input_type: Optional[str] = None, input_scale: Optional[float] = None) -> Design:
    """QONNX -> a folded dataflow design at `output` (a workspace file if None), verified against the
    QONNX on `x` (raw inputs of the source model, numpy (N, ...)), else on the recipe's data, else on
    `samples` random inputs on its input grid. `model`: a path, an onnx.ModelProto, a qonnx
    ModelWrapper, an Exported, or an nn.Module (exported first; give input_shape). The other options
    are `hil lower`'s; the same function runs (toolchain.lower.lower_file)."""
    from toolchain.contract import read_io
    from toolchain.defaults import DEFAULT_CLOCK_NS
    from toolchain.lower import lower_file
    from toolchain.onnxio import load_model

    ws = _Workspace() if output is None else None
    xs = None if x is None else _array(x)
    out = ws.path / "dataflow.onnx" if output is None else Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    # a model given as an object is saved beside the design, which refers to it (metadata hil_source)
    src = _model_file(model, out.parent, f"{out.stem}_source", input_shape, xs)
    result = lower_file(src, out, inputs=xs, recipe=recipe, samples=samples, seed=seed, strict=strict,
                        folding=folding, target_fps=target_fps, part=part,
                        clock_ns=DEFAULT_CLOCK_NS if clock_ns is None else clock_ns, label_select=label_select,
                        input_type=input_type, input_scale=input_scale)
    # the workspace, and an Exported given as the model: its (temporary) file is this design's source
    held = (ws, model) if isinstance(model, Exported) else ws
    return Design(path=out, source=src, equality=_equality(result), io=read_io(load_model(out)),
                  nodes=result["nodes"], result=result, _workspace=held)


def _design_file(design, ws: _Workspace, input_shape=None) -> Path:
    """A Design, a path (dataflow or QONNX), a model object or an nn.Module (exported) as a file."""
    return _model_file(design, ws.path, "model", input_shape)


def estimate(design, *, part: Optional[str] = None, clock_ns: Optional[float] = None, cost: str = "finn",
             folding=None, input_shape=None, impl: str = "hls", rtl_dir=None) -> Estimate:
    """Cycles, throughput, latency and resources per layer of a design (a QONNX model is lowered first,
    a folding applied first), as `hil estimate` (toolchain.pipeline.estimate_model). `fits` is False
    when the design does not fit the part; nothing is raised for that. `impl` (with cost="calibrated"):
    "hls" costs FINN's HLS kernels, "rtl" the RTL of `hil build --backend rtl` (`--impl`). `rtl_dir`
    (with cost="synth"): the RTL project whose synth.json `hil synth` wrote (`--rtl`)."""
    from toolchain.onnxio import load_model
    from toolchain.pipeline import estimate_model

    ws = _Workspace()
    r = estimate_model(load_model(_design_file(design, ws, input_shape)), part=part, clock_ns=clock_ns, cost=cost,
                       folding=folding, impl=impl, rtl_dir=None if rtl_dir is None else Path(rtl_dir))
    net = r["network"]
    return Estimate(part=r["part"], clock_ns=r["clock_ns"], cost_model=r["cost_model"], fits=bool(r["fits"]),
                    throughput_fps=net["estimated_throughput_fps"], latency_ns=net["estimated_latency_ns"],
                    max_cycles=net["max_cycles"], total=r["total"], utilization=r["utilization"], layers=r["layers"],
                    result=r)


def emulate(design, x=None, *, frames: Optional[int] = None, size_fifos: bool = False,
            dma_bits: Optional[int] = None, clock_ns: Optional[float] = None, impl: str = "hls") -> Emulation:
    """Emulate a dataflow design: cycles, interval, FIFO depths; with `x` (raw inputs of the source
    model, numpy (N, ...)) also the outputs, computed by the design and the host steps it records, and
    their equality with the source QONNX. `hil emulate --inputs` runs the same function
    (toolchain.emulate.emulate). Raises toolchain.errors.DeadlockError when the design deadlocks."""
    from toolchain.emulate import emulate as run

    ws = _Workspace()
    path = _design_file(design, ws)
    inputs = outputs = None
    if x is not None:
        inputs, outputs = ws.path / "x.npy", ws.path / "y.npy"
        np.save(inputs, _array(x))
    r = run(path, inputs=inputs, frames=frames, size=size_fifos, dma_bits=dma_bits, clock_ns=clock_ns,
            output=outputs, impl=impl)
    y = np.load(outputs) if outputs is not None else None
    return Emulation(latency_cycles=r["latency_cycles"], interval_cycles=r["interval_cycles"],
                     throughput_fps=r["throughput_fps"], fifo_depths=dict(r["fifo_depths"]), outputs=y,
                     equality=_equality(r.get("equality")), result=r)


def build(design, backend: str = "hls4ml", output: Optional[PathLike] = None, *, csim: int = 0, cosim: int = 0,
          folding=None, part: Optional[str] = None, clock_ns: Optional[float] = None, hls_backend: str = "Vitis",
          seed: int = 0) -> Build:
    """Generate the backend's project (hls4ml, finn, rtl) in `output` (required: a project is meant to
    be kept), as `hil build` (toolchain.pipeline.build). `csim` N (hls4ml): g++ C-simulation of N
    samples through the host steps, compared with the emulator layer by layer and with the source."""
    from toolchain.pipeline import build as run

    if output is None:
        raise UserError("build needs an output folder (output=...)")
    ws = _Workspace()
    r = run(_design_file(design, ws), backend, Path(output), folding=folding, part=part, clock_ns=clock_ns,
            csim=csim, hls_backend=hls_backend, seed=seed, cosim=cosim)
    return Build(backend=backend, dir=Path(output), result=r)
