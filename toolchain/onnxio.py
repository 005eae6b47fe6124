"""Loading ONNX files given by the user: one clear error for a missing or malformed file. The QONNX
ops' legacy domains are renamed and missing opset imports added first (passes/cleanup.py fix_domains),
so that files from older tools load; the rest of the import cleanup runs in `hil lower`."""

from __future__ import annotations

from pathlib import Path

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
    from toolchain.passes.cleanup import fix_domains

    fix_domains(proto)  # legacy QONNX domains and missing opset imports (older Brevitas, FINN, the zoo)
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as err:
        raise UserError(f"{path} is malformed ONNX: {str(err).splitlines()[0]}") from None
    return ModelWrapper(proto)
