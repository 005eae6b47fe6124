"""`hil run DESIGN --inputs x.npy --target T`: the host side of every target.

    result = run_design("dataflow.onnx", "x.npy", "tcp://127.0.0.1:7800", token=..., out="y.npy")

The inputs are what `hil emulate --inputs` takes: the source model's raw inputs, mapped to the
dataflow's integer stream by the host steps the lowering recorded (toolchain.inputs, as
toolchain.emulate.run_values maps them); without a hil_source, the dataflow's own integer inputs. They
go to the target in batches of `batch` samples; the target's integer outputs are compared with the
local emulator's on the same integers (toolchain.equality.compare, exact) and decoded through the
design's output contract (hil_io) for printing or --out.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

import numpy as np

from toolchain.errors import UserError
from toolchain.targets.base import Design, Target, Timing

DEFAULT_BATCH = 1000
MAX_BATCH = 1 << 20


def stream_of(design: Design, path: Path):
    """x (raw inputs of the design's source, or its own integers) -> the dataflow's integer stream."""
    from toolchain.contract import read_io, source_path
    from toolchain.inputs import check_sample_shape, integer_inputs, stream_inputs
    from toolchain.onnxio import load_model

    model = design.model
    io, src_path = read_io(model), source_path(model, path)
    if src_path is None:
        io = replace(io, input_scale=1.0, input_dtype=None)
        return lambda x: integer_inputs(model, x, io, source_layout=False)
    from toolchain.passes.cleanup import import_cleanup

    src = import_cleanup(load_model(src_path))  # as `hil lower` verified it
    if io.input_steps:
        return lambda x: stream_inputs(src, model, check_sample_shape(src, x)).astype(np.float64)
    return lambda x: integer_inputs(model, x, io, source_layout=True)


def run_batches(target: Target, x_int: np.ndarray, batch: int) -> tuple[np.ndarray, Timing]:
    parts, timings = [], []
    for i in range(0, len(x_int), batch):
        y, t = target.run(x_int[i:i + batch])
        parts.append(y)
        timings.append(t)
    return np.concatenate(parts), Timing.combine(timings)


def run_design(design_path: str | Path, inputs: str | Path, target_spec: str = "emulator", *,
               token: Optional[str] = None, out: Optional[str | Path] = None, batch: int = DEFAULT_BATCH,
               target: Optional[Target] = None) -> dict:
    """Run the inputs on the target and on the local emulator; the `hil run --json` object. `target`:
    an already constructed target (the sweep's), else made from `target_spec`."""
    from toolchain.contract import read_io
    from toolchain.equality import compare
    from toolchain.fileio import atomic_path
    from toolchain.inputs import load_inputs
    from toolchain.targets import make_target
    from toolchain.targets.emulator import EmulatorTarget

    if not 1 <= batch <= MAX_BATCH:
        raise UserError(f"--batch must be in 1..{MAX_BATCH}, got {batch}")
    design_path = Path(design_path)
    design = Design.from_file(design_path)
    x = load_inputs(inputs, mmap=True)
    x_int = stream_of(design, design_path)(np.asarray(x))
    reference = EmulatorTarget()
    reference.load(design)
    owned = target is None
    target = make_target(target_spec, token=token) if owned else target
    try:
        target.load(design)
        y, timing = run_batches(target, x_int, batch)
        described = target.describe()
    finally:
        if owned:
            target.close()
    y_ref, ref_timing = run_batches(reference, x_int, batch)
    equality = compare(y, y_ref)
    io = read_io(design.model)
    shown = io.decode(y)
    result = {"design": str(design_path), "digest": design.digest, "target": target_spec, "describe": described,
              "samples": int(len(x_int)), "batch": batch, "mismatches": equality.mismatches,
              "reference": "emulator (local)", "equality": equality.to_json(), "timing": timing.to_json(),
              "reference_timing": ref_timing.to_json(), "out": None if out is None else str(out)}
    if out is not None:
        with atomic_path(out) as tmp, open(tmp, "wb") as f:
            np.save(f, shown, allow_pickle=False)
    else:
        result["outputs"] = np.asarray(shown).tolist()
    from toolchain.schemas import versioned

    return versioned(result, UNITS)


# the units of `hil run --json` (toolchain/schemas: every verb's object carries schema_version and units)
UNITS = {"samples": "samples", "batch": "samples per request", "mismatches": "samples",
         "timing.samples_per_second": "samples per second (wall clock, transport included)",
         "timing.interval_cycles": "clock cycles per frame", "timing.throughput_fps": "frames per second"}


def summary(result: dict) -> str:
    """The human lines of `hil run` without --json."""
    t = result["timing"]
    rate = t["samples_per_second"]
    lines = []
    if result.get("outputs") is not None:
        lines.append(np.array2string(np.asarray(result["outputs"]), threshold=60, precision=6))
    cycles = (f", {t['kind']} interval {t['interval_cycles']:g} cycles ({t['throughput_fps']:,.0f} fps)"
              if t.get("interval_cycles") else "")
    lines.append(f"{result['target']}: {result['samples']} samples, {result['mismatches']} mismatches against the "
                 f"local emulator, {rate:,.0f} samples/s{cycles}" + (f" -> {result['out']}" if result["out"] else ""))
    return "\n".join(lines)
