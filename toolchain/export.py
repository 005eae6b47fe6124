"""Brevitas → QONNX export, qonnx cleanup, and the bit-exact check against PyTorch.

The QONNX file is written only after the check: an export that does not match the torch model on
every sample is refused (exit 2) and leaves no file behind.

A recipe whose input is raw 8-bit pixels (`input_kind: uint8`) gets its graph input annotated UINT8
(qonnx quantization annotation, as FINN users do with model.set_tensor_datatype(inp, DataType["UINT8"])),
so the lowering knows the stream is integer and turns preprocessing + input quantizer into thresholds.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from contextlib import contextmanager, redirect_stdout
from collections import Counter
from pathlib import Path
from typing import Optional

import numpy as np

from toolchain.errors import UserError
from toolchain.fileio import atomic_path


@contextmanager
def quiet():
    """Silence the torch.onnx exporter, which prints its progress on stdout."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping torchvision::nms" is harmless
    try:
        with open(os.devnull, "w") as devnull, redirect_stdout(devnull), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def recipe_input_dtype(recipe) -> Optional[str]:
    """The DataType name of the graph input of a recipe's model, or None for a float input."""
    from toolchain.zoo import InputKind

    return "UINT8" if recipe.architecture.input_kind is InputKind.UINT8 else None


def to_qonnx(model, input_shape: tuple[int, ...], path: Path, input_dtype: Optional[str] = None):
    """export_qonnx + cleanup_model (+ the graph input's DataType annotation); returns the qonnx
    ModelWrapper saved at `path`."""
    import torch
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    model.eval()
    # the exporter may write weights to a side file named after its path: keep that in a scratch
    # folder, and save the cleaned model as one self-contained file
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "raw.onnx"
        with quiet():
            export_qonnx(model, input_t=torch.zeros(1, *input_shape), export_path=str(raw))
        wrapped = cleanup_model(ModelWrapper(str(raw)))
    if input_dtype is not None:
        from qonnx.core.datatype import DataType

        wrapped.set_tensor_datatype(wrapped.graph.input[0].name, DataType[input_dtype])
    wrapped.save(str(path))
    return wrapped


def run_qonnx(model, x: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Execute a QONNX model with qonnx's reference executor on a batch (in chunks)."""
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    outs, batched = [], {}
    for i in range(0, len(x), chunk):
        part = x[i:i + chunk]
        if len(part) not in batched:
            batched[len(part)] = model.transform(ChangeBatchSize(len(part))).transform(InferShapes())
        outs.append(execute_onnx(batched[len(part)], {iname: part})[oname])
    return np.concatenate(outs)


def compare(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """Per-sample exact comparison: a sample mismatches if any of its outputs differs."""
    ref = reference.reshape(len(reference), -1)
    cand = candidate.reshape(len(candidate), -1)
    if ref.shape != cand.shape:
        raise UserError(f"output shapes differ: {reference.shape} vs {candidate.shape}")
    diff = np.abs(ref.astype(np.float64) - cand.astype(np.float64))
    return {"samples": int(len(ref)), "mismatches": int((diff != 0).any(axis=1).sum()),
            "max_abs_diff": float(diff.max(initial=0.0))}


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
        result = compare(predict(model, x), run_qonnx(qmodel, x))
        result.update(model=str(output), recipe=recipe.name,
                      nodes=dict(Counter(n.op_type for n in qmodel.graph.node)),
                      export_seconds=round(t1 - t0, 3), verify_seconds=round(time.perf_counter() - t1, 3))
        if result["mismatches"]:
            raise UserError(f"export of {recipe.name} is not bit-exact: {result['mismatches']} of "
                            f"{result['samples']} samples differ (max |diff| {result['max_abs_diff']:.3g}); "
                            f"no file written")
    return result


def verification_inputs(recipe, n: int, seed: int = 0) -> np.ndarray:
    """The recipe's test samples (then training samples), or random inputs where no data ships."""
    from toolchain.data import load_dataset, random_inputs

    try:
        return load_dataset(recipe).samples(n)
    except UserError:
        return random_inputs(recipe, n, seed)


def export_run(source: str, output: Path, untrained: bool = False, samples: int = 1000, seed: int = 0) -> dict:
    """`hil export`: a run folder from `hil train`, or a recipe with --untrained."""
    from toolchain.train import load_run, untrained_model

    if samples < 1:
        raise UserError(f"samples must be >= 1, got {samples}")
    if untrained:
        recipe, model = untrained_model(source, seed=seed)
    else:
        if not Path(source).is_dir():
            hint = " (for a recipe name, add --untrained)" if not Path(source).suffix else ""
            raise UserError(f"run folder not found: {source}{hint}")
        recipe, model = load_run(Path(source))
    x = verification_inputs(recipe, samples, seed)
    return export_and_verify(model, recipe, x, output)
