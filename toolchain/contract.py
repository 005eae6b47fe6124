"""The dataflow model's contract with the host, as the lowering writes it into the model's metadata,
read and written here only (one parser):

* "hil_io" (JSON) -> `IOContract`: the host sends x_int = x / input_scale (integers of input_dtype);
  a "values" output means y = y_int · output_scale + output_bias, a "labels" output is the top-K class
  indices (LabelSelect);
* "hil_layout" -> `channels_last(model)`: "NHWC" once the lowering moved the conv path channels-last
  (toolchain/passes/channels_last.py). It alone decides whether source inputs are transposed
  (`to_dataflow_layout`): the shapes cannot tell when C == H == W;
* "hil_source" -> `source_path(model, path)`: the QONNX the dataflow was lowered from, relative to
  the dataflow file.

This module is below every stage: lower, estimate, emulate and the backends import it, it imports
no stage.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Optional

import numpy as np

from toolchain.errors import UserError

IO_KEY, LAYOUT_KEY, SOURCE_KEY = "hil_io", "hil_layout", "hil_source"
NHWC = "NHWC"


class OutputKind(str, Enum):
    VALUES = "values"
    LABELS = "labels"


# the stated tolerance of float host steps the source computed differently (float scales applied to
# a float32 accumulation, BatchNorm, Softmax): 2^-12 of the sample's largest output magnitude (at least 1)
OUTPUT_TOLERANCE_REL = 2.0**-12


@dataclass(frozen=True)
class IOContract:
    input_scale: float = 1.0
    input_dtype: Optional[str] = None  # qonnx DataType name of the integer input stream
    output_scale: float = 1.0
    output_bias: float = 0.0
    output_kind: OutputKind = OutputKind.VALUES
    # host steps recorded by the lowering (toolchain/hoststeps.py): preprocessing and the
    # input quantizer of a float input, float ops after the last dataflow op (scale, bias, Softmax)
    input_steps: Optional[list] = None
    input_has_quantizer: bool = True
    output_steps: Optional[list] = None
    output_exact: bool = True  # the output steps replay the source's own float ops bit for bit

    def decode(self, y_int: np.ndarray) -> np.ndarray:
        """The user-facing outputs of the dataflow's integer outputs: labels as they are; values
        through the recorded output steps (float32, as the source computes them), else
        y_int · output_scale + output_bias (float64: exact, the scales are powers of two)."""
        from toolchain.hoststeps import from_stream, host_steps

        return from_stream(host_steps(self, channels_last=False), y_int)

    def output_tolerance(self, reference: np.ndarray) -> float:
        """The stated tolerance of decoded values against the source's outputs `reference`: 0 unless
        float output steps compute what the source computes in another order."""
        if self.output_kind is OutputKind.LABELS or not self.output_steps or self.output_exact:
            return 0.0
        return OUTPUT_TOLERANCE_REL * max(1.0, float(np.abs(reference).max(initial=0.0)))

    def to_json(self) -> dict:
        out = asdict(self)
        out["output_kind"] = self.output_kind.value
        for key in ("input_dtype", "input_steps", "output_steps"):
            if out[key] is None:
                del out[key]
        return out


def read_io(model) -> IOContract:
    """The model's "hil_io" (defaults for a model without it); UserError when it is malformed."""
    raw = model.get_metadata_prop(IO_KEY)
    if not raw:
        return IOContract()
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        entries = {f.name: data[f.name] for f in fields(IOContract) if f.name in data}
        for key in ("input_scale", "output_scale", "output_bias"):
            if key in entries:
                entries[key] = float(entries[key])
                if not np.isfinite(entries[key]) or (key != "output_bias" and entries[key] == 0):
                    raise ValueError(f"{key} must be a finite{' nonzero' if key != 'output_bias' else ''} "
                                     f"number, got {entries[key]}")
    except (ValueError, TypeError) as err:
        raise UserError(f"metadata hil_io is not valid: {err}") from None
    kind = entries.pop("output_kind", OutputKind.VALUES.value)
    if kind not in {k.value for k in OutputKind}:
        raise UserError(f"metadata hil_io: output_kind must be values or labels, got {kind!r}")
    io = IOContract(**entries, output_kind=OutputKind(kind))
    return io


def write_io(model, io: IOContract) -> None:
    model.set_metadata_prop(IO_KEY, json.dumps(io.to_json(), sort_keys=True))


def channels_last(model) -> bool:
    """True when the lowering moved the model's layout channels-last (metadata hil_layout)."""
    return model.get_metadata_prop(LAYOUT_KEY) == NHWC


def input_shape(model) -> tuple[int, ...]:
    return tuple(int(d) for d in model.get_tensor_shape(model.graph.input[0].name))


def to_dataflow_layout(x: np.ndarray, dataflow) -> np.ndarray:
    """Inputs in the source model's layout -> the dataflow input's layout. The one rule: a 4-D input
    is transposed NCHW -> NHWC iff the dataflow is channels-last (hil_layout), never by comparing
    shapes. UserError unless the result has the dataflow input's shape (N, ...)."""
    want = input_shape(dataflow)
    nhwc = x.ndim == 4 and channels_last(dataflow)
    y = x.transpose(0, 2, 3, 1) if nhwc else x
    if x.ndim < 1 or tuple(y.shape[1:]) != tuple(want[1:]):
        shown = (want[3], want[1], want[2]) if len(want) == 4 and channels_last(dataflow) else want[1:]
        raise UserError(f"inputs have shape {x.shape}; expected (N, {', '.join(map(str, shown))})")
    return y


def source_path(model, model_path: str | Path, given: Optional[str | Path] = None) -> Optional[Path]:
    """The source QONNX of a dataflow model file, or None: `given` (named on the command line, used
    as it is), else hil_source resolved relative to the file's folder. A model file is data from
    anyone: hil_source is followed only inside the design's own folder (and its subfolders), never to
    an absolute path or out through `..` (checked on the path as written: links inside the folder are
    its owner's choice); outside it, the user names the source (--source)."""
    import os

    if given is not None:
        return Path(given)
    rel = model.get_metadata_prop(SOURCE_KEY)
    if not rel:
        return None
    folder = Path(os.path.abspath(Path(model_path).parent))
    path = Path(os.path.normpath(folder / rel))
    if Path(rel).is_absolute() or not (path == folder or folder in path.parents):
        raise UserError(f"metadata hil_source of {model_path} points outside its folder ({rel}); it is not "
                        "followed: name the source QONNX with --source")
    if path == Path(os.path.abspath(model_path)):
        raise UserError(f"metadata hil_source of {model_path} names the file itself, not its source QONNX: "
                        "name the source with --source")
    return path


def is_dataflow(model) -> bool:
    """Every node is a hw.ops dataflow node (the output of `hil lower`)."""
    from hw.ops.base import DOMAIN

    return all(n.domain == DOMAIN for n in model.graph.node)


# ---- provenance: the user's PyTorch module of a node ---------------------------------------------

# node metadata the torch.onnx (dynamo) exporter writes and Brevitas' export_qonnx keeps: the module
# scopes from the model down to the op (['', 'fc2', 'fc2.weight_quant', ...]) and their classes
SCOPES_KEY, CLASSES_KEY = "pkg.torch.onnx.name_scopes", "pkg.torch.onnx.class_hierarchy"
# classes inside a user's layer: Brevitas' quantizer proxies and export handlers, torch functions
_INTERNAL = ("brevitas.proxy.", "brevitas.export.", "brevitas.core.", "brevitas.inject", "aten.", "onnx_symbolic.",
             "prims.", "torch.ops.")


def user_module(node) -> Optional[str]:
    """The dotted name of the user's module an ONNX node came from ("fc2", "features.0"), where the
    exporter kept it in the node's metadata, else None: the deepest scope reached before the first
    Brevitas-internal class or torch function, so a weight quantizer of fc2 is "fc2". None for ops of
    the top-level forward (a torch.flatten call) and for models from other exporters."""
    props = {p.key: p.value for p in getattr(node, "metadata_props", [])}
    if SCOPES_KEY not in props:
        return None
    import ast

    try:  # Python list literals (repr of a list of str)
        scopes = [str(s) for s in ast.literal_eval(props[SCOPES_KEY])]
        classes = [str(c) for c in ast.literal_eval(props.get(CLASSES_KEY, "[]"))]
    except (ValueError, SyntaxError, TypeError):
        return None
    found = None
    for i, scope in enumerate(scopes):
        cls = classes[i] if i < len(classes) else ""
        if i and (cls.startswith(_INTERNAL) or not scope):
            break
        found = scope or found
    return found or None
