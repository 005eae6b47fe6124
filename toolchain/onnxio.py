"""Loading ONNX files given by the user (one clear error for a missing or malformed file), and running a
QONNX model with qonnx's reference executor (the reference every stage is verified against)."""

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
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as err:
        raise UserError(f"{path} is malformed ONNX: {str(err).splitlines()[0]}") from None
    return ModelWrapper(proto)


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
