"""One question, asked of every target: run these inputs on this design, give me the outputs and the time.

    design = Design.from_file("dataflow.onnx")        # or Design.from_bytes(data) on a board agent
    target = EmulatorTarget(); target.load(design)
    y, timing = target.run(x_int)                     # (N, ...) integer IR inputs -> integer IR outputs
    target.describe()                                 # {"target": "emulator", "design": sha256, ...}

A target works on the dataflow's integer streams: inputs are the dataflow input's integers in its
layout (what `hil lower`'s host steps produce, toolchain.inputs), outputs the dataflow output's
integers (labels for a LabelSelect). Host steps on both sides stay on the host (toolchain.targets.run),
so a board sees exactly what FINN's driver feeds the accelerator. `run` checks the inputs before any
target sees them (shape, integral values inside the input DataType), so a board agent refuses bad
inputs with the same message a local target gives.
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, replace
from typing import ClassVar, Optional

import numpy as np

from toolchain.errors import UserError

DESIGN_LIMIT = 64 * 1024 * 1024  # bytes of a dataflow.onnx a target accepts (CNV-w1a1's is ~2 MiB)


@dataclass(frozen=True)
class Timing:
    """How long a target took for `samples` samples. `seconds`: wall time on the target's side (the
    C-sim's loop, the board's execute, the emulator's values pass); `round_trip_seconds`: as the client
    saw it (remote targets: network and (de)serialization included). The cycle numbers are the
    emulator's cycle-level model (kind "emulated") or a board's measurement (kind "measured"); None when
    the target has none (the C-sim is untimed)."""

    samples: int
    seconds: float
    kind: str = "wall"
    latency_cycles: Optional[float] = None
    interval_cycles: Optional[float] = None
    throughput_fps: Optional[float] = None
    round_trip_seconds: Optional[float] = None

    @property
    def samples_per_second(self) -> Optional[float]:
        wall = self.round_trip_seconds if self.round_trip_seconds is not None else self.seconds
        return self.samples / wall if wall > 0 else None

    def to_json(self) -> dict:
        return {**asdict(self), "samples_per_second": self.samples_per_second}

    @classmethod
    def from_json(cls, data: dict) -> "Timing":
        if not isinstance(data, dict):
            raise ValueError("timing is not an object")
        def num(key: str, cast=float):
            v = data.get(key)
            return None if v is None else cast(v)

        return cls(samples=int(data["samples"]), seconds=float(data["seconds"]), kind=str(data.get("kind", "wall")),
                   latency_cycles=num("latency_cycles"), interval_cycles=num("interval_cycles"),
                   throughput_fps=num("throughput_fps"), round_trip_seconds=num("round_trip_seconds"))

    @staticmethod
    def combine(parts: "list[Timing]") -> "Timing":
        """Consecutive batches: samples and seconds add; the design's cycle numbers are the first's."""
        first = parts[0]
        trips = [p.round_trip_seconds for p in parts]
        return replace(first, samples=sum(p.samples for p in parts), seconds=sum(p.seconds for p in parts),
                       round_trip_seconds=None if None in trips else sum(trips))


@dataclass(frozen=True)
class Design:
    """A dataflow.onnx (`hil lower`'s output): its bytes, their sha256, the parsed model and its stream shapes."""

    data: bytes
    digest: str
    model: object  # qonnx ModelWrapper
    input_shape: tuple[int, ...]  # per sample (batch axis dropped), dataflow layout
    output_shape: tuple[int, ...]
    input_dtype: str  # qonnx DataType name of the input stream

    @classmethod
    def from_file(cls, path) -> "Design":
        from pathlib import Path

        path = Path(path)
        if not path.is_file():
            raise UserError(f"design not found: {path} (a dataflow.onnx from `hil lower`)")
        if path.stat().st_size > DESIGN_LIMIT:
            raise UserError(f"{path}: {path.stat().st_size} bytes, over the {DESIGN_LIMIT}-byte design limit")
        return cls.from_bytes(path.read_bytes(), str(path))

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "design") -> "Design":
        """Parse and check a design received from anywhere (a file, a client of the agent): an ONNX
        protobuf (never pickle), every node a hw.ops dataflow node (checked before any node's domain is
        used: qonnx imports a node's domain as a Python module), no external tensor data (which would
        name files on the machine that loads it), one input and one output."""
        import onnx
        from google.protobuf.message import DecodeError
        from qonnx.core.modelwrapper import ModelWrapper

        from hw.ops.base import DOMAIN

        if len(data) > DESIGN_LIMIT:
            raise UserError(f"{where}: {len(data)} bytes, over the {DESIGN_LIMIT}-byte design limit")
        try:
            proto = onnx.load_model_from_string(bytes(data))
        except (DecodeError, ValueError, RuntimeError) as err:
            raise UserError(f"{where} is not an ONNX model ({type(err).__name__})") from None
        g = proto.graph
        if not g.node or len(g.input) != 1 or len(g.output) != 1:
            raise UserError(f"{where}: a design has nodes, one input and one output (a dataflow.onnx from `hil lower`)")
        foreign = next((n for n in g.node if n.domain != DOMAIN), None)
        if foreign is not None:
            raise UserError(f"{where}: node {foreign.name or foreign.op_type} is not a {DOMAIN} dataflow node; "
                            "targets run dataflow graphs (`hil lower`'s output)")
        tensors = list(g.initializer) + [a.t for n in g.node for a in n.attribute if a.HasField("t")]
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in tensors):
            raise UserError(f"{where}: tensors with external data are not accepted (save the model in one file)")
        from hw.ops import op_class

        unknown = next((n for n in g.node if op_class(n.op_type) is None), None)
        if unknown is not None:
            raise UserError(f"{where}: unknown dataflow op {unknown.op_type} (node {unknown.name})")
        model = ModelWrapper(proto)
        try:
            ishape = tuple(int(d) for d in model.get_tensor_shape(g.input[0].name))
            oshape = tuple(int(d) for d in model.get_tensor_shape(g.output[0].name))
            idt = model.get_tensor_datatype(g.input[0].name)
        except Exception as err:  # noqa: BLE001 - any malformed annotation is the sender's error
            raise UserError(f"{where}: the input/output shapes or datatype cannot be read ({err})") from None
        if len(ishape) < 2 or len(oshape) < 2 or min(ishape + oshape) < 1:
            raise UserError(f"{where}: input {ishape} / output {oshape} are not (1, ...) stream shapes")
        return cls(bytes(data), hashlib.sha256(data).hexdigest(), model, ishape[1:], oshape[1:], idt.name)

    def describe(self) -> dict:
        return {"design": self.digest, "input_shape": list(self.input_shape), "input_dtype": self.input_dtype,
                "output_shape": list(self.output_shape)}


def check_inputs(design: Design, x) -> np.ndarray:
    """x as float64 (N, *input_shape), or UserError: a numeric array of that shape whose values are
    integers of the input DataType (BIPOLAR: -1 or +1)."""
    from qonnx.core.datatype import DataType

    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise UserError(f"inputs must be a numeric array, got dtype {x.dtype}")
    if x.ndim < 1 or len(x) == 0 or tuple(x.shape[1:]) != design.input_shape:
        raise UserError(f"inputs have shape {x.shape}; the design takes (N, {', '.join(map(str, design.input_shape))}) "
                        "with N >= 1")
    xf = x.astype(np.float64)
    dt = DataType[design.input_dtype]
    if not np.all(np.isfinite(xf)) or not np.array_equal(xf, np.round(xf)):
        raise UserError("inputs must be integers (the dataflow's input stream; host steps run on the host)")
    if dt.name == "BIPOLAR":
        if not np.all(np.abs(xf) == 1):
            raise UserError("inputs must be -1 or +1 (BIPOLAR input stream)")
    elif xf.min() < dt.min() or xf.max() > dt.max():
        raise UserError(f"inputs span [{xf.min():g}, {xf.max():g}], outside the input stream's {dt.name} "
                        f"[{dt.min():g}, {dt.max():g}]")
    return xf


class Target(ABC):
    """load(design) once, then run(inputs) any number of times; describe() says what answers."""

    name: ClassVar[str]

    def __init__(self) -> None:
        self.design: Optional[Design] = None

    def load(self, design: Design) -> None:
        self._load(design)
        self.design = design

    def run(self, x) -> tuple[np.ndarray, Timing]:
        """(outputs (N, *output_shape) as float64 integers, Timing)."""
        if self.design is None:
            raise UserError(f"target {self.name}: no design loaded")
        xf = check_inputs(self.design, x)
        t0 = time.perf_counter()
        y, timing = self._run(xf)
        y = np.asarray(y, dtype=np.float64)
        if timing is None:
            timing = Timing(samples=len(xf), seconds=time.perf_counter() - t0)
        want = (len(xf),) + self.design.output_shape
        if y.size != int(np.prod(want)):
            raise RuntimeError(f"target {self.name} returned {y.shape} for {want}")
        return y.reshape(want), timing

    def describe(self) -> dict:
        return {"target": self.name, **(self.design.describe() if self.design is not None else {})}

    def close(self) -> None:
        """Release what the target holds (a connection, a loaded library's buffers)."""

    @abstractmethod
    def _load(self, design: Design) -> None: ...

    @abstractmethod
    def _run(self, x: np.ndarray) -> tuple[np.ndarray, Optional[Timing]]: ...
