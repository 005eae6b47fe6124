"""Brevitas → QONNX export, qonnx cleanup, and the bit-exact check against PyTorch.

The QONNX file is written only after the check: an export that does not match the torch model on
every sample is refused (exit 2) and leaves no file behind.

A recipe whose input is raw 8-bit pixels (`input_kind: uint8`) gets its graph input annotated UINT8
(qonnx quantization annotation, as FINN users do with model.set_tensor_datatype(inp, DataType["UINT8"])),
so the lowering knows the stream is integer and turns preprocessing + input quantizer into thresholds.

Your own model (`hil export --module file.py:Net --weights w.pt --input-shape 1,1,8,8`, `hil.export`):
`load_module` imports the file the user named, builds the class (or calls the factory) without
arguments and loads a state_dict with torch.load(weights_only=True) (no pickle); `export_module`
exports it with the plain Brevitas call and the same torch ≡ QONNX check on the user's data or on
random inputs of that shape. The QONNX keeps the exporter's per-node module scopes, so lowering errors
name the user's module (toolchain.contract.user_module).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Optional

import numpy as np

from toolchain.contract import OUTPUT_TOLERANCE_REL
from toolchain.equality import compare
from toolchain.compress.brevitas_export import quiet, recipe_input_dtype, to_qonnx
from toolchain.data import verification_inputs
from toolchain.errors import UserError
from toolchain.fileio import atomic_path
from toolchain.onnxio import run_qonnx
from toolchain.schemas import versioned

UNITS = {"samples": "samples compared", "mismatches": "samples", "max_abs_diff": "output units of the model",
         "export_seconds": "s", "verify_seconds": "s", "tolerance": "output units of the model (0: bit-exact)",
         "bit_exact_samples": "samples", "label_agreement": "fraction of samples (argmax equal)"}
__all__ = ["export_and_verify", "export_run", "export_module", "load_module", "parse_input_shape", "quiet",
           "recipe_input_dtype", "run_qonnx", "to_qonnx", "verification_inputs"]

MAX_SAMPLE_VALUES = 2**24  # values in one input sample (--input-shape): bounds every allocation from it
MAX_SAMPLES = 100_000  # verification samples


def export_and_verify(model, recipe, x: np.ndarray, output: Path) -> dict:
    """Export `model` to `output` if torch ≡ QONNX on every sample of `x`."""
    from toolchain.compress.qat import predict

    output = Path(output)
    if output.suffix != ".onnx":
        raise UserError(f"output must be an .onnx file, got {output}")
    with atomic_path(output) as tmp:
        t0 = time.perf_counter()
        qmodel = to_qonnx(model, tuple(recipe.architecture.input_shape), tmp, recipe_input_dtype(recipe))
        t1 = time.perf_counter()
        same = compare(run_qonnx(qmodel, x), predict(model, x))
        result = {"samples": same.samples, "mismatches": same.mismatches, "max_abs_diff": same.max_abs_diff}
        result.update(model=str(output), recipe=recipe.name,
                      nodes=dict(Counter(n.op_type for n in qmodel.graph.node)),
                      export_seconds=round(t1 - t0, 3), verify_seconds=round(time.perf_counter() - t1, 3))
        versioned(result, UNITS)
        if result["mismatches"]:
            raise UserError(f"export of {recipe.name} is not bit-exact: {result['mismatches']} of "
                            f"{result['samples']} samples differ (max |diff| {result['max_abs_diff']:.3g}); "
                            f"no file written")
    return result


def export_run(source: str, output: Path, untrained: bool = False, samples: int = 1000, seed: int = 0) -> dict:
    """`hil export`: a run folder from `hil train`, or a recipe with --untrained."""
    from toolchain.compress.checkpoint import load_run, untrained_model

    if samples < 1:
        raise UserError(f"samples must be >= 1, got {samples}")
    if untrained:
        from toolchain.limits import check_elements
        from toolchain.zoo import load_recipe

        shape = load_recipe(source).architecture.input_shape  # refuse a huge --samples before building
        check_elements(f"--samples {samples:,} verification inputs of shape {tuple(shape)}",
                       float(samples) * float(np.prod(shape, dtype=np.float64)))
        recipe, model = untrained_model(source, seed=seed)
    else:
        if not Path(source).is_dir():
            hint = " (for a recipe name, add --untrained)" if not Path(source).suffix else ""
            raise UserError(f"run folder not found: {source}{hint}")
        recipe, model = load_run(Path(source))
    x = verification_inputs(recipe, samples, seed)
    return export_and_verify(model, recipe, x, output)


# ---- your own model ------------------------------------------------------------------------------

def parse_input_shape(shape) -> tuple[int, ...]:
    """--input-shape "1,1,8,8" (or a sequence): positive integers, batch 1, at most MAX_SAMPLE_VALUES
    values per sample."""
    if isinstance(shape, str):
        try:
            shape = tuple(int(v) for v in shape.replace(" ", "").strip("()[]").split(",") if v)
        except ValueError:
            raise UserError(f"--input-shape must be integers separated by commas, e.g. 1,1,8,8; got {shape!r}") \
                from None
    try:
        shape = tuple(int(v) for v in shape)
    except (TypeError, ValueError):
        raise UserError(f"input shape must be a sequence of integers, got {shape!r}") from None
    if len(shape) < 2 or any(v < 1 for v in shape):
        raise UserError(f"input shape must be (1, ...) with positive sizes, batch first, got {shape}")
    if shape[0] != 1:
        raise UserError(f"input shape {shape}: the batch dimension must be 1 (the dataflow streams one sample)")
    if int(np.prod(shape, dtype=np.float64)) > MAX_SAMPLE_VALUES:
        raise UserError(f"input shape {shape}: more than {MAX_SAMPLE_VALUES} values per sample")
    return shape


def load_module(spec: str, weights: Optional[Path] = None):
    """`file.py:Net` -> an instance of Net (a class built without arguments, or a factory function
    called without arguments) from that file, with the state_dict in `weights` loaded; UserError
    (one line) for a missing file, a failing import, a missing or wrong attribute, a bad weights file."""
    import importlib.util
    import sys

    import torch

    path_text, sep, attr = str(spec).rpartition(":")
    if not sep or not path_text or not attr.isidentifier():
        raise UserError(f"--module must be FILE.py:NAME (a class or a function returning an nn.Module), got {spec!r}")
    path = Path(path_text)
    if not path.is_file() or path.suffix != ".py":
        raise UserError(f"--module: {path} is not a Python file")
    name = f"hil_user_module_{abs(hash(str(path.resolve())))}"
    loader = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(loader)
    sys.modules[name] = mod  # dataclasses and pickling-free torch code look the module up by name
    try:
        loader.loader.exec_module(mod)
    except Exception as err:  # the user's file: any error it raises is reported in one line
        sys.modules.pop(name, None)
        raise UserError(f"--module: importing {path} failed: {type(err).__name__}: {_first_line(err)}") from None
    factory = getattr(mod, attr, None)
    if factory is None or not callable(factory):
        found = ", ".join(n for n, v in vars(mod).items() if isinstance(v, type) and issubclass(v, torch.nn.Module)
                          and v.__module__ == name)
        raise UserError(f"--module: {path} has no class or function {attr}" + (f" (its modules: {found})" if found else ""))
    try:
        model = factory()
    except Exception as err:
        raise UserError(f"--module: {attr}() failed: {type(err).__name__}: {_first_line(err)} (it must build the "
                        "model without arguments)") from None
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"--module: {attr}() returned {type(model).__name__}, not a torch.nn.Module")
    if weights is not None:
        load_weights(model, weights)
    return model.eval()


def load_weights(model, weights: Path) -> None:
    """A state_dict saved with torch.save(model.state_dict(), path), read with weights_only=True."""
    import pickle

    import torch

    weights = Path(weights)
    if not weights.is_file():
        raise UserError(f"--weights: {weights} not found")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, OSError) as err:
        raise UserError(f"--weights: {weights} is not a state_dict saved by torch.save ({_first_line(err)})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"--weights: {weights} holds a {type(state).__name__}, not a state_dict "
                        "(save it with torch.save(model.state_dict(), path))")
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise UserError(f"--weights: {weights} does not fit the model: {_first_line(err)}") from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " ".join(lines[:2])[:300] if lines else type(err).__name__


def _forward(model, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """Eval-mode outputs as float32 numpy (a QuantTensor output gives its values)."""
    import torch

    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            y = model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch], dtype=np.float32)))
            y = getattr(y, "value", y)
            outs.append(y.detach().cpu().numpy().astype(np.float32))
    return np.concatenate(outs)


def calibrate(model, x: np.ndarray, batch: int = 256) -> None:
    """Brevitas' activation calibration (brevitas.graph.calibrate.calibration_mode): the activation
    quantizers collect range statistics over x and keep them as their scales."""
    import torch
    from brevitas.graph.calibrate import calibration_mode

    model.eval()
    with torch.no_grad(), calibration_mode(model):
        for i in range(0, len(x), batch):
            model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch], dtype=np.float32)))
    model.eval()


def power_of_two_scales(qmodel) -> bool:
    """Every quantizer scale of the QONNX is a power of two: then torch and QONNX compute the same
    float32 numbers and the check is bit-exact; float scales (Brevitas' defaults) and float32 BatchNorm
    are rounded in another order by onnxruntime and torch, so outputs are compared within
    OUTPUT_TOLERANCE_REL of the largest output (toolchain/contract.py), as the lowering's host steps."""
    for node in qmodel.graph.node:
        if node.op_type == "Quant":
            s = qmodel.get_initializer(node.input[1])
            if s is None or not np.all(np.exp2(np.round(np.log2(np.abs(s)))) == np.abs(s)):
                return False
    return not any(n.op_type == "BatchNormalization" for n in qmodel.graph.node)


def _fit_inputs(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inputs (N, ...) of the stated shape as float32; flat rows (a CSV's features) of image inputs
    are reshaped in C order; UserError otherwise."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2 and len(shape) > 2 and x.shape[1] == int(np.prod(shape[1:])):
        x = x.reshape((len(x), *shape[1:]))
    if x.ndim < 1 or tuple(x.shape[1:]) != shape[1:]:
        raise UserError(f"inputs have shape {x.shape}; the input shape {shape} needs (N, {', '.join(map(str, shape[1:]))})")
    return x


def export_module(model, input_shape, output: Path, *, x: Optional[np.ndarray] = None, samples: int = 1000,
                  seed: int = 0, input_dtype: Optional[str] = None, calibrate_on: Optional[np.ndarray] = None,
                  name: Optional[str] = None) -> dict:
    """Export a user's Brevitas model (nn.Module) to `output` and verify torch ≡ QONNX on `x` (N, ...)
    or on `samples` standard-normal inputs; the file is written only if every sample is equal:
    bit-exact for power-of-two scales, else within the stated tolerance (power_of_two_scales).
    `calibrate_on`: inputs for Brevitas' activation calibration first. Returns the --json object."""
    shape = parse_input_shape(input_shape)
    name = name or type(model).__name__
    if x is None:
        if not 1 <= samples <= MAX_SAMPLES:
            raise UserError(f"samples must be in 1..{MAX_SAMPLES}, got {samples}")
        x = np.random.default_rng(seed).standard_normal((samples, *shape[1:])).astype(np.float32)
    x = _fit_inputs(x, shape)
    if calibrate_on is not None:
        calibrate(model, _fit_inputs(calibrate_on, shape))
    try:
        _forward(model, x[:1])
    except Exception as err:  # the user's forward on the stated shape: one line, no traceback
        raise UserError(f"the model's forward fails on input shape {shape}: {type(err).__name__}: "
                        f"{_first_line(err)}") from None
    output = Path(output)
    if output.suffix != ".onnx":
        raise UserError(f"output must be an .onnx file, got {output}")
    with atomic_path(output) as tmp:
        t0 = time.perf_counter()
        qmodel = to_qonnx(model, shape[1:], tmp, input_dtype)
        t1 = time.perf_counter()
        y_q, y_t = run_qonnx(qmodel, x), _forward(model, x)
        tolerance = 0.0 if power_of_two_scales(qmodel) else OUTPUT_TOLERANCE_REL * max(1.0, float(np.abs(y_t).max()))
        same = compare(y_q, y_t, tolerance=tolerance)
        result = {"samples": same.samples, "mismatches": same.mismatches, "tolerance": same.tolerance,
                  "bit_exact_samples": compare(y_q, y_t).equal, "max_abs_diff": same.max_abs_diff,
                  "label_agreement": same.label_agreement, "model": str(output), "module": name,
                  "input_shape": list(shape), "nodes": dict(Counter(n.op_type for n in qmodel.graph.node)),
                  "export_seconds": round(t1 - t0, 3), "verify_seconds": round(time.perf_counter() - t1, 3)}
        versioned(result, UNITS)
        if result["mismatches"]:
            within = f" beyond the stated tolerance {tolerance:.3g}" if tolerance else ""
            raise UserError(f"export of {name} is not faithful: {result['mismatches']} of {result['samples']} samples "
                            f"differ{within} (max |diff| {result['max_abs_diff']:.3g}); no file written")
    return result
