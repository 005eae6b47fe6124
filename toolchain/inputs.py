"""Input preparation shared by lower, emulate and the backends: loading a user's x.npy, the dataflow's
integer input stream for inputs of the source model, and random inputs on the source's input grid.

    x = load_inputs("x.npy")                       # (N, ...) float or integer, validated
    xi = stream_inputs(source, dataflow, x)        # via the source's own input quantizer (lower's check)
    xi = integer_inputs(dataflow, x)               # x / input_scale, which must be on the grid (emulate)
    x = grid_inputs(source, 500)                   # random inputs the quantizer maps to themselves

Layouts follow the one rule of toolchain.contract.to_dataflow_layout (hil_layout decides NCHW -> NHWC).
Below the stages: imports the input passes (toolchain/passes/inputs.py) and the contract, no stage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolchain.contract import IOContract, read_io, to_dataflow_layout
from toolchain.errors import UserError


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the .npy header alone, checked against the file's size, before anything
    the header's numbers would size is allocated."""
    from toolchain.limits import check_bytes

    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            offset = f.tell()
    except (ValueError, OSError, EOFError, SyntaxError) as err:
        raise UserError(f"{path} is not a .npy array ({str(err).splitlines()[0] if str(err) else type(err).__name__})"
                        ) from None
    if dtype.hasobject:
        raise UserError(f"{path}: inputs must be a float or integer array, got dtype {dtype} (objects are not read)")
    nbytes = float(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    size = path.stat().st_size
    if offset + nbytes > size:
        raise UserError(f"{path}: the header claims shape {shape} ({nbytes:,.0f} bytes) but the file holds "
                        f"{size - offset:,} bytes of data (truncated?)")
    check_bytes(f"{path} (shape {shape}, {dtype})", nbytes)
    return tuple(shape), dtype


def load_inputs(path: str | Path, mmap: bool = False) -> np.ndarray:
    """A user's inputs file: a float or integer .npy array (N, ...) with N >= 1 and finite values,
    or UserError. The header is read first (shape, dtype, against the file size and the memory
    limit). `mmap`: a read-only memmap, so a large file is read chunk by chunk, never all at once."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"inputs file not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder, expected a .npy file")
    shape, dtype = _npy_header(path)
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)) or dtype == np.bool_:
        raise UserError(f"{path}: inputs must be a float or integer array, got dtype {dtype}")
    if len(shape) < 1 or shape[0] == 0:
        raise UserError(f"{path}: inputs must hold at least one sample (shape (N, ...)), got shape {shape}")
    try:
        x = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (ValueError, OSError, EOFError) as err:
        raise UserError(f"{path} is not a .npy array ({err})") from None
    check_finite(x, str(path))
    return x


def check_finite(x: np.ndarray, what: str, chunk: int = 1 << 22) -> None:
    """UserError naming the first NaN or infinite input (sample and position), read in chunks so a
    memmap is never loaded whole."""
    if not np.issubdtype(x.dtype, np.floating):
        return
    flat = x.reshape(len(x), -1)
    rows = max(1, chunk // max(1, flat.shape[1]))
    for start in range(0, len(flat), rows):
        part = np.asarray(flat[start:start + rows])
        bad = ~np.isfinite(part)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            kind = "a NaN" if np.isnan(part[r, c]) else "an infinite value"
            raise UserError(f"{what}: NaN/infinite inputs: sample {start + r} holds {kind} at flat index {c} "
                            "(the first of them); such inputs have no fixed-point value")


def check_sample_shape(model, x: np.ndarray) -> np.ndarray:
    """x as float32, UserError unless it is (N, ...) of the model input's per-sample shape."""
    x = np.asarray(x, dtype=np.float32)
    shape = model.get_tensor_shape(model.graph.input[0].name)
    if x.ndim < 1 or list(x.shape[1:]) != list(shape[1:]):
        raise UserError(f"inputs have shape {x.shape}; expected (N, {', '.join(map(str, shape[1:]))})")
    return x


def stream_inputs(source, dataflow, x: np.ndarray) -> np.ndarray:
    """The dataflow's integer input for raw inputs x of the source model, in the dataflow's layout:
    the host steps recorded by the lowering (hil_io "input_steps": preprocessing and the input
    quantizer, toolchain/hoststeps.py), or for an integer-annotated input (raw pixels) x itself, which
    must lie on that DataType's grid. A dataflow file from before host steps: the source's own input
    quantizer divided by its scale."""
    from toolchain.hoststeps import apply_input_steps
    from toolchain.passes.inputs import integer_input_dtype

    steps = read_io(dataflow).input_steps
    dt = integer_input_dtype(source)
    if steps:
        xi = apply_input_steps(steps, x)
    elif dt is None:
        xi = _quantized_inputs(source, x)
    else:
        xi = _checked_integers(np.asarray(x, dtype=np.float64), dt)
    return to_dataflow_layout(np.asarray(xi), dataflow).astype(np.float32)


def integer_inputs(dataflow, x: np.ndarray, io: IOContract | None = None, source_layout: bool = True) -> np.ndarray:
    """x_int = x / input_scale (hil_io) in the dataflow's layout; UserError unless every value is an
    integer of the input DataType (the dataflow only sees that grid: quantize the inputs first).
    `source_layout=False`: x is already in the dataflow's layout (the dataflow's own integer inputs)."""
    from qonnx.core.datatype import DataType

    io = read_io(dataflow) if io is None else io
    x = to_dataflow_layout(np.asarray(x), dataflow) if source_layout else check_sample_shape(dataflow, x)
    xi = x.astype(np.float64) / io.input_scale
    if not np.array_equal(xi, np.round(xi)):
        bad = int(np.flatnonzero((xi != np.round(xi)).reshape(len(xi), -1).any(axis=1))[0])
        raise UserError(f"inputs: sample {bad} is not on the input grid (x / {io.input_scale} must be integral); "
                        "quantize the inputs first")
    dt = DataType[io.input_dtype] if io.input_dtype else dataflow.get_tensor_datatype(dataflow.graph.input[0].name)
    if dt is not None and xi.size and (xi.min() < dt.min() or xi.max() > dt.max()):
        raise UserError(f"inputs: x / {io.input_scale} spans [{xi.min()}, {xi.max()}], outside {dt.name}")
    if dt is not None and dt.name == "BIPOLAR" and not np.all(np.abs(xi) == 1):
        raise UserError(f"inputs: x / {io.input_scale} must be -1 or +1 (BIPOLAR)")
    return xi


def _quantized_inputs(source, x: np.ndarray) -> np.ndarray:
    from qonnx.custom_op.registry import getCustomOp

    from toolchain.passes.inputs import input_quantizer

    q = input_quantizer(source)
    context = {t: source.get_initializer(t) for t in q.input[1:]}
    context[q.input[0]] = np.asarray(x, dtype=np.float32)
    getCustomOp(q).execute_node(context, source.graph)
    return context[q.output[0]].astype(np.float64) / source.get_initializer(q.input[1]).astype(np.float64)


def _checked_integers(x: np.ndarray, dt) -> np.ndarray:
    """x unchanged if every value is a value of DataType dt, else UserError."""
    if dt.name == "BIPOLAR":
        ok = np.isin(x, (-1.0, 1.0)).all()
    else:
        ok = np.array_equal(x, np.round(x)) and (not x.size or (x.min() >= dt.min() and x.max() <= dt.max()))
    if not ok:
        raise UserError(f"inputs: the model's input is {dt.name} ({int(dt.min())}..{int(dt.max())}, integers), "
                        f"got values in [{x.min():g}, {x.max():g}], not all on that grid")
    return x


def grid_inputs(source, n: int, seed: int = 0, dataflow=None) -> np.ndarray:
    """Random raw inputs covering the source's input grid: the input quantizer's integers times its
    scale (half a step of noise added, so the host's rounding is exercised), mapped back through the
    preprocessing when the dataflow records one; integers of the input's own DataType for an
    integer-annotated input."""
    from qonnx.core.datatype import DataType

    from toolchain.hoststeps import invert_input_steps
    from toolchain.passes.inputs import integer_input_dtype, quant_step

    from toolchain.limits import check_samples

    shape = source.get_tensor_shape(source.graph.input[0].name)
    check_samples(source, n, "random verification inputs")  # before the inputs, and their executions
    rng = np.random.default_rng(seed)
    dt = integer_input_dtype(source)
    if dt is not None:
        if dt.name == "BIPOLAR":
            return rng.choice([-1.0, 1.0], size=(n, *shape[1:])).astype(np.float32)
        return rng.integers(int(dt.min()), int(dt.max()) + 1, size=(n, *shape[1:])).astype(np.float32)
    steps = read_io(dataflow).input_steps if dataflow is not None else None
    if not steps:
        from toolchain.passes.inputs import input_quantizer

        steps = [quant_step(source, input_quantizer(source))]
    qdt = DataType[steps[-1]["dtype"]]
    count = int(np.prod(shape[1:]))
    if qdt.name == "BIPOLAR":
        levels = rng.choice([-1.0, 1.0], size=(n, count))
    else:
        levels = rng.integers(int(qdt.min()), int(qdt.max()) + 1, size=(n, count)).astype(np.float64)
    if len(steps) > 1 or not read_io(dataflow or source).input_has_quantizer:
        levels = levels + (rng.random(levels.shape) - 0.5) * (0.9 if qdt.name != "BIPOLAR" else 0.0)
    return invert_input_steps(steps, levels, shape)
