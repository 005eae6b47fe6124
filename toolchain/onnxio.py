"""Loading ONNX files given by the user: one clear error for a missing or malformed file. The QONNX
ops' legacy domains are renamed and missing opset imports added first (passes/cleanup.py fix_domains),
so that files from older tools load; the rest of the import cleanup runs in `hil lower`. Also running
a QONNX model with qonnx's reference executor (the reference every stage is verified against)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolchain.errors import UserError


def load_model(path: str | Path):
    """A qonnx ModelWrapper of `path`, or UserError naming the problem."""
    import onnx
    from google.protobuf.message import DecodeError
    from qonnx.core.modelwrapper import ModelWrapper

    path = Path(path)
    if not path.exists():
        raise UserError(f"file not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder, expected an .onnx file")
    try:
        proto = onnx.load(str(path))
    except (DecodeError, OSError, ValueError, RuntimeError) as err:
        raise UserError(f"{path} is not an ONNX model ({type(err).__name__})") from None
    if not proto.graph.node or not proto.graph.input or not proto.graph.output:
        raise UserError(f"{path} is not an ONNX model (no graph nodes, inputs or outputs)")
    fix_domains(proto)  # legacy QONNX domains and missing opset imports (older Brevitas, FINN, the zoo)
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as err:
        raise UserError(f"{path} is malformed ONNX: {str(err).splitlines()[0]}") from None
    from toolchain.limits import check_graph

    model = ModelWrapper(proto)
    check_graph(model, str(path))  # a header-sized allocation guard: dimensions of 10^9 are refused here
    return model


def run_qonnx(model, x: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Execute a QONNX model with qonnx's reference executor (execute_onnx) on a batch, in chunks."""
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


# domains older tools wrote for the QONNX ops (Quant, BipolarQuant, Trunc, MultiThreshold)
LEGACY_DOMAINS = ("onnx.brevitas", "finn", "finn.custom_op.general")
QONNX_OPS = ("Quant", "BipolarQuant", "Trunc", "MultiThreshold")


def fix_domains(proto) -> None:
    """In place on a ModelProto: QONNX ops in a legacy domain move to qonnx's, and every domain in
    use gets an opset import (the standard domain: opset 11, which qonnx's flow targets)."""
    from onnx import helper

    for node in proto.graph.node:
        if node.domain in LEGACY_DOMAINS and node.op_type in QONNX_OPS:
            node.domain = "qonnx.custom_op.general"
    declared = {o.domain for o in proto.opset_import}
    used = {n.domain for n in proto.graph.node} | {""}
    for domain in sorted(used - declared):
        proto.opset_import.append(helper.make_opsetid(domain, 11 if domain in ("", "ai.onnx") else 1))
    for opset in list(proto.opset_import):  # the legacy domains are no longer used
        if opset.domain in LEGACY_DOMAINS and opset.domain not in used:
            proto.opset_import.remove(opset)
    inputs = {i.name for i in proto.graph.input}  # a value_info repeating a graph input (qonnx refuses it)
    for vi in [v for v in proto.graph.value_info if v.name in inputs]:
        proto.graph.value_info.remove(vi)
