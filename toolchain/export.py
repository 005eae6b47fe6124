"""Brevitas → QONNX export, qonnx cleanup, and the bit-exact check against PyTorch.

The QONNX file is written only after the check: an export that does not match the torch model on
every sample is refused (exit 2) and leaves no file behind.

A recipe whose input is raw 8-bit pixels (`input_kind: uint8`) gets its graph input annotated UINT8
(qonnx quantization annotation, as FINN users do with model.set_tensor_datatype(inp, DataType["UINT8"])),
so the lowering knows the stream is integer and turns preprocessing + input quantizer into thresholds.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np

from toolchain.equality import compare
from toolchain.compress.brevitas_export import quiet, recipe_input_dtype, to_qonnx
from toolchain.data import verification_inputs
from toolchain.errors import UserError
from toolchain.fileio import atomic_path
from toolchain.onnxio import run_qonnx
from toolchain.schemas import versioned

UNITS = {"samples": "samples compared", "mismatches": "samples", "max_abs_diff": "output units of the model",
         "export_seconds": "s", "verify_seconds": "s"}
__all__ = ["export_and_verify", "export_run", "quiet", "recipe_input_dtype", "run_qonnx", "to_qonnx",
           "verification_inputs"]


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
