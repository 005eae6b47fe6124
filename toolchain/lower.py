"""`hil lower`: QONNX (from `hil export`) -> folded streaming dataflow graph (dataflow.onnx).

    model = lower_model(ModelWrapper("model.onnx"), target_fps=100_000, part="xc7z020clg400-1")
    result = lower_file("model.onnx", "dataflow.onnx", folding="folding.json")   # verified, atomic

The passes (toolchain/passes/*.py, one family per file), in order: the import cleanup (cleanup.py:
legacy domains, opset imports, initializers listed as inputs, batch 1, shape inference) and checks;
weight quantizers -> integer initializers; the preprocessing and input quantizer -> host steps and an
integer input stream (inputs.py, hoststeps.py; a graph input without a quantizer takes --input-type),
unless the graph input is annotated with an integer DataType (raw UINT8 pixels, FINN's convention):
then the preprocessing and input quantizer are an activation chain like any other and become a
Thresholding node, and the host sends the integers as they are (input_scale 1); streamlining (scale
Muls moved down) interleaved with activation chains -> thresholds, to a fixed point; channels-last;
conversion to dataflow ops (SWG, StreamingMaxPool, MVAU, Thresholding); the output ops into host steps;
residual forks/joins (DuplicateStreams, AddStreams); optional LabelSelect; bit widths; names; folding;
DWC and FIFO insertion; every op validated.

Exactness: power-of-two scales give thresholds from the source's own float32 path, bit-exact. Float
scales and biases (not --strict; options.py) give thresholds of the quantized network in exact
arithmetic (exact_thresholds.py); verification (toolchain/equality.py) then counts a sample where the
source's float32 rounding went the other way as a *tie* only with evidence (a source quantizer input
within TIE_WINDOW of a rounding boundary), and refuses any other difference. --strict refuses float
scales and any tie, as before.

Metadata written: "hil_io" (JSON: input_scale, input_dtype, input_steps, input_has_quantizer,
output_scale, output_bias, output_steps, output_exact, output_kind), "hil_source" (source path
relative to the dataflow file), "hil_part", "hil_clock_ns", "hil_quantizers" (JSON: thresholded node -> its source quantizer and chain), and
"hil_layout" ("NHWC" once the conv path is channels-last).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Optional, Union

import numpy as np

from toolchain.contract import read_io, write_io
from toolchain.defaults import DEFAULT_CLOCK_NS, check_clock
from toolchain.errors import UserError
from toolchain.inputs import check_sample_shape, grid_inputs, stream_inputs
from toolchain.onnxio import run_qonnx
from toolchain.schemas import versioned

__all__ = ["front_steps", "convert_steps", "prepare", "to_dataflow", "lower_model", "fold_dataflow", "verify",
           "lower_file", "stream_inputs", "grid_inputs"]

FoldingArg = Union[str, Path, dict, None]
DEFAULT_SAMPLES = 500
UNITS = {"samples": "samples compared", "mismatches": "samples", "ties": "samples", "nodes": "nodes per op type",
         "label_agreement": "fraction of samples (0..1)", "lower_seconds": "s", "verify_seconds": "s",
         "target_fps": "frames per second (hil lower --target-fps; null: none)", "clock_ns": "ns"}


def _front_passes(options):
    from toolchain.passes.streamline import (CollapseScalarMul, MoveScalarMulPastLinear, MoveScalarMulPastShape,
                                             PassThroughTypes, RemoveUnitMul)
    from toolchain.passes.pooling import GlobalAvgPoolToSum
    from toolchain.passes.residual import MoveScalarMulPastAdd, SplitForkedMul
    from toolchain.passes.thresholds import ActivationToThresholds
    from toolchain.passes.upsample import ResizeNearest

    return [PassThroughTypes(), RemoveUnitMul(), CollapseScalarMul(options), SplitForkedMul(), MoveScalarMulPastShape(),
            MoveScalarMulPastLinear(options), MoveScalarMulPastAdd(), GlobalAvgPoolToSum(), ResizeNearest(),
            ActivationToThresholds(options)]


def front_steps(options=None) -> list:
    """QONNX -> integer graph (MatMul/Conv on integer weights, MultiThreshold, MaxPool, Reshape),
    still NCHW and executable by qonnx. `options` (passes/options.py LowerOptions) default to strict,
    today's contract for callers that run the passes themselves."""
    from toolchain.passes.common import FixedPoint
    from toolchain.passes.inputs import InputQuantToStream
    from toolchain.passes.options import LowerOptions
    from toolchain.passes.weights import FoldConstQuant, FoldWeightQuant

    options = options if options is not None else LowerOptions(strict=True)
    return [FoldConstQuant(), FoldWeightQuant(options), InputQuantToStream(options.input_type, options.input_scale),
            FixedPoint(_front_passes(options))]


def convert_steps(label_select: bool = False, options=None) -> list:
    """Integer graph -> dataflow ops, channels-last, the output mapping in hil_io."""
    from toolchain.passes.channels_last import ToChannelsLast
    from toolchain.passes.convert import (Im2ColToSWG, MatMulToMVAU, MaxPoolToStreaming, RemoveFlatten,
                                          ThresholdsToThresholding)
    from toolchain.passes.depthwise import MatMulToVVAU
    from toolchain.passes.output import AbsorbOutputAffine, InsertLabelSelect
    from toolchain.passes.residual import AddToAddStreams, InsertDuplicateStreams

    steps = [ToChannelsLast(), Im2ColToSWG(), MaxPoolToStreaming(), MatMulToVVAU(), MatMulToMVAU(), ThresholdsToThresholding(),
             AddToAddStreams(), RemoveFlatten(), InsertDuplicateStreams(), AbsorbOutputAffine(options, label_select)]
    return steps + ([InsertLabelSelect()] if label_select else [])


def prepare(model):
    """The import cleanup (passes/cleanup.py), then the checks that refuse unsupported models early."""
    from toolchain.passes.cleanup import CheckSupported, Tidy, import_cleanup

    model = import_cleanup(model)
    model.transform(CheckSupported(), make_deepcopy=False, cleanup=False)
    return model.transform(Tidy())


def to_dataflow(model, label_select: bool = False, strict: bool = False, input_type: Optional[str] = None,
                input_scale: Optional[float] = None):
    """The unfolded dataflow graph (PE = SIMD = 1), without FIFOs or DWCs."""
    from toolchain.passes.bitwidth import InferBitWidths
    from toolchain.passes.naming import NameNodes
    from toolchain.passes.options import LowerOptions
    from toolchain.passes.output import CheckAllDataflow, CollectProvenance

    options = LowerOptions(strict=strict, input_type=input_type, input_scale=input_scale)
    model = prepare(model)
    steps = front_steps(options) + convert_steps(label_select, options)
    for step in steps + [CheckAllDataflow(), InferBitWidths(), NameNodes(), CollectProvenance()]:
        model = model.transform(step)
    return model


def _folding_config(folding: FoldingArg):
    from toolchain.passes.folding import FoldingConfig

    if folding is None:
        return None
    if isinstance(folding, dict):
        return FoldingConfig.parse(folding)
    return FoldingConfig.load(folding)


def _fold(model, config, target_fps: Optional[float], clock_ns: float, part: Optional[str]):
    """Folding of the compute ops: a config (without its FIFO/DWC entries, which exist only after
    insertion) or FINN's SetFolding for a target frame rate; PE = SIMD = 1 otherwise."""
    from toolchain.passes.folding import ApplyFolding, SetFolding, target_cycles

    if config is not None:
        return model.transform(ApplyFolding(config.compute_only(), part=part))
    if target_fps is not None:
        device = _device(part) if part else None
        return model.transform(SetFolding(target_cycles(target_fps, clock_ns), device=device))
    return model


def _device(part: str):
    from hw.devices import UnknownDeviceError, get_device

    try:
        return get_device(part)
    except UnknownDeviceError as err:
        raise UserError(str(err)) from None


def lower_model(model, *, folding: FoldingArg = None, target_fps: Optional[float] = None,
                clock_ns: float = DEFAULT_CLOCK_NS, part: Optional[str] = None, label_select: bool = False,
                source: Optional[str] = None, strict: bool = False, input_type: Optional[str] = None,
                input_scale: Optional[float] = None):
    """QONNX ModelWrapper -> dataflow ModelWrapper (folded, with DWCs and FIFOs, metadata set).
    A folding config that addresses a LabelSelect node (FINN's BNN-PYNQ configs do) implies
    label_select: the graph then ends in the top-1 LabelSelect it folds."""
    _check_options(folding, target_fps, clock_ns, part)
    config = _folding_config(folding)
    label_select = label_select or (config is not None and any(n.startswith("LabelSelect_") for n in config.nodes))
    model = to_dataflow(model, label_select=label_select, strict=strict, input_type=input_type,
                        input_scale=input_scale)
    model = fold_dataflow(model, folding=folding, target_fps=target_fps, clock_ns=clock_ns, part=part)
    if source is not None:
        model.set_metadata_prop("hil_source", str(source))
    return model


def fold_dataflow(model, *, folding: FoldingArg = None, target_fps: Optional[float] = None,
                  clock_ns: float = DEFAULT_CLOCK_NS, part: Optional[str] = None):
    """(Re)fold a dataflow graph: its DWCs and FIFOs are removed, the folding config (or FINN
    SetFolding for target_fps) applied, DWCs and FIFOs inserted for the new stream widths, the
    config applied again for FIFO_i/DWC_i entries, every op validated, metadata completed."""
    from toolchain.passes.folding import ApplyFolding
    from toolchain.passes.infrastructure import InsertDWC, InsertFIFO, RemoveInfrastructure
    from toolchain.passes.naming import NameNodes
    from toolchain.passes.output import ValidateDataflow
    from toolchain.passes.residual import SizeBypassFIFOs

    _check_options(folding, target_fps, clock_ns, part)
    config = _folding_config(folding)
    model = model.transform(RemoveInfrastructure()).transform(NameNodes())
    model = _fold(model, config, target_fps, clock_ns, part)
    model = model.transform(InsertDWC()).transform(InsertFIFO()).transform(NameNodes())
    model = model.transform(SizeBypassFIFOs())  # a residual bypass deep enough to run (passes/residual.py)
    if config is not None:  # again, now that FIFO_i / DWC_i exist (idempotent for the others)
        model = model.transform(ApplyFolding(config, part=part, notes=False))  # noted in the first pass
    model.transform(ValidateDataflow())
    _set_opsets(model)
    write_io(model, read_io(model))  # every field explicit, defaults included
    if part:
        model.set_metadata_prop("hil_part", part)
    model.set_metadata_prop("hil_clock_ns", repr(float(clock_ns)))
    return model


def _check_options(folding, target_fps, clock_ns: float, part: Optional[str]) -> None:
    if folding is not None and target_fps is not None:
        raise UserError("give either a folding config or a target fps, not both")
    check_clock(clock_ns)
    if part:
        _device(part)


def _set_opsets(model) -> None:
    """Opset imports: ONNX and our domain only (onnx.checker needs every used domain declared)."""
    from onnx import helper

    from hw.ops.base import DOMAIN

    used = {n.domain for n in model.graph.node}
    keep = [o for o in model.model.opset_import if o.domain in used | {""}]
    del model.model.opset_import[:]
    model.model.opset_import.extend(keep)
    if DOMAIN in used and not any(o.domain == DOMAIN for o in keep):
        model.model.opset_import.append(helper.make_opsetid(DOMAIN, 1))


# ---- verification ------------------------------------------------------------------------------

def _chunk(model) -> int:
    """Samples per execution chunk, keeping the largest intermediate tensor near 2^24 elements."""
    biggest = max((int(np.prod(model.get_tensor_shape(vi.name) or [1])) for vi in model.graph.value_info), default=1)
    return int(max(1, min(512, 2**24 // max(biggest, 1))))


def _unannotated(model):
    """A copy without DataType annotations: qonnx execute_onnx then runs the ops' own exact
    arithmetic without its sanitize_quant_values pass (which would round, and which iterates over
    every element in Python)."""
    from qonnx.core.modelwrapper import ModelWrapper

    copy = ModelWrapper(model.model.__deepcopy__())
    del copy.graph.quantization_annotation[:]
    return copy


# a differing sample is a tie when a source quantizer's input lies this close (in quantization
# steps) to a rounding boundary: far above float32's rounding of these chains, far below one step
TIE_WINDOW = 2.0**-10


def tie_evidence(source, x_src: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Per differing sample: does some activation quantizer of the source see, in its own float32
    execution, an input within TIE_WINDOW steps of a rounding boundary (Quant: k + 0.5 in units of
    the scale, BipolarQuant: 0)?"""
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    from toolchain.passes.common import QUANTIZERS, initializer

    quants = [n for n in source.graph.node if n.op_type in QUANTIZERS and initializer(source, n.input[0]) is None]
    iname = source.graph.input[0].name
    found = np.zeros(len(samples), dtype=bool)
    for i in range(0, len(samples), 64):
        idx = samples[i:i + 64]
        model = source.transform(ChangeBatchSize(len(idx))).transform(InferShapes())
        ctx = execute_onnx(model, {iname: x_src[idx]}, return_full_exec_context=True)
        for q in quants:
            v = np.asarray(ctx[q.input[0]], dtype=np.float64)
            s = np.broadcast_to(np.asarray(initializer(source, q.input[1]), dtype=np.float64), v.shape)
            r = v / s
            signed = next((a.i for a in q.attribute if a.name == "signed"), 1)
            if q.op_type == "BipolarQuant" or (signed and int(initializer(source, q.input[3]).ravel()[0]) == 1):
                dist = np.abs(r)
            else:
                dist = np.abs(r - np.floor(r) - 0.5)
            found[i:i + len(idx)] |= (dist <= TIE_WINDOW).reshape(len(idx), -1).any(axis=1)
    return found


def verify(source, dataflow, x: np.ndarray) -> dict:
    """{"samples", "mismatches"}: every sample that differs in any way (ties included), the contract
    of callers that want bit-exactness; `verify_equality` gives the classified result."""
    e = verify_equality(source, dataflow, x)
    return {"samples": e["samples"], "mismatches": e["mismatches"] + e["ties"]}


def verify_equality(source, dataflow, x: np.ndarray) -> dict:
    """Execute both graphs with qonnx (execute_onnx) and compare every sample with
    toolchain.equality.compare: values through the output host steps (exact, or with the stated
    tolerance), labels against the source's scores; differing samples are checked for tie evidence.
    The result is Equality.to_json()."""
    from toolchain.equality import compare_design
    from toolchain.hoststeps import source_inputs

    io = read_io(dataflow)
    steps = io.input_steps
    x_src = source_inputs(steps, x, io.input_has_quantizer) if steps else np.asarray(x, np.float32)
    y_src = run_qonnx(source, x_src)
    y_int = run_qonnx(_unannotated(dataflow), stream_inputs(source, dataflow, x), chunk=_chunk(dataflow))
    return compare_design(io, y_int, y_src, tie_check=lambda bad: tie_evidence(source, x_src, bad)).to_json()


def lower_file(src: Union[str, Path], out: Union[str, Path], *, inputs: Optional[np.ndarray] = None,
               recipe: Optional[str] = None, samples: int = DEFAULT_SAMPLES, seed: int = 0, strict: bool = False,
               **options) -> dict:
    """Lower `src`, verify dataflow ≡ QONNX on `inputs` (else the recipe's data, else random inputs
    on the input grid), and write `out` atomically only if every sample is equal or (unless strict) a
    verified float32 tie (toolchain/equality.py)."""
    from toolchain.fileio import atomic_path
    from toolchain.onnxio import load_model

    src, out = Path(src), Path(out)
    if out.suffix != ".onnx":
        raise UserError(f"output must be an .onnx file, got {out}")
    if samples < 1:
        raise UserError(f"samples must be >= 1, got {samples}")
    from toolchain.passes.cleanup import import_cleanup

    source = import_cleanup(load_model(src))  # verified against the cleaned graph: same float32 ops
    t0 = time.perf_counter()
    # as written, not through links: emulate and build follow hil_source only inside the design's folder
    rel = os.path.relpath(os.path.abspath(src), os.path.abspath(out.parent))
    dataflow = lower_model(source, source=rel, strict=strict, **options)
    t1 = time.perf_counter()
    x = _verification_inputs(source, dataflow, inputs, recipe, samples, seed)
    result = verify_equality(source, dataflow, x)
    result.update(model=str(out), source=str(src), io=read_io(dataflow).to_json(),
                  nodes=dict(Counter(n.op_type for n in dataflow.graph.node)),
                  lower_seconds=round(t1 - t0, 3), verify_seconds=round(time.perf_counter() - t1, 3))
    # the request the design was folded for: `hil report` says whether the design meets it
    result.update(target_fps=options.get("target_fps"), part=options.get("part"),
                  clock_ns=options.get("clock_ns", DEFAULT_CLOCK_NS))
    versioned(result, UNITS)
    if result["mismatches"] or (strict and result["ties"]):
        raise UserError(f"lowering of {src} is not bit-exact: {result['mismatches']} of {result['samples']} samples "
                        f"differ from the QONNX model ({result['ties']} more are float32 ties); no file written")
    with atomic_path(out) as tmp:
        dataflow.save(str(tmp))
    return result


def target_report(dataflow, target_fps: float, clock_ns: float) -> dict:
    """Whether the folding meets --target-fps (FINN's SetFolding, like FINN, folds as far as it can
    and does not refuse a target it cannot reach, so the caller says so): the slowest node's cycles
    against int(1e9 / clock / fps)."""
    from qonnx.custom_op.registry import getCustomOp

    from toolchain.passes.folding import hw_nodes, target_cycles

    cycles = {n.name: int(getCustomOp(n).cycles()) for n in hw_nodes(dataflow)}
    worst = max(cycles, key=cycles.get)
    want = target_cycles(target_fps, clock_ns)
    return {"fps": target_fps, "cycles": want, "achieved_cycles": cycles[worst],
            "achieved_fps": 1e9 / clock_ns / max(cycles[worst], 1), "bottleneck": worst,
            "met": cycles[worst] <= max(want, 1) and want >= 1}


def parse_scale(text: str) -> float:
    """--input-scale: a positive number, or a power of two written 2^-10 / 2**-10."""
    t = text.replace(" ", "").replace("**", "^")
    try:
        value = 2.0 ** float(t[2:]) if t.startswith("2^") else float(t)
    except (ValueError, OverflowError):
        raise UserError(f"--input-scale must be a number or 2^k within float range, got {text!r}") from None
    if not (value > 0 and np.isfinite(value)):
        raise UserError(f"--input-scale must be a finite positive number, got {text!r}")
    return value


def _verification_inputs(source, dataflow, inputs, recipe, samples: int, seed: int) -> np.ndarray:
    if inputs is not None:
        from toolchain.inputs import check_finite

        check_finite(np.asarray(inputs), "verification inputs")  # named as NaN, not as a lowering mismatch
        return check_sample_shape(source, inputs)
    if recipe is not None:
        from toolchain.data import verification_inputs
        from toolchain.zoo import load_recipe

        return verification_inputs(load_recipe(recipe), samples, seed)
    return grid_inputs(source, samples, seed, dataflow=dataflow)
