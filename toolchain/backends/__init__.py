"""Backends: an HLS project (hls4ml) or a FINN handoff from the dataflow graph.

    result = build("dataflow.onnx", "hls4ml", "prj", csim=1000)     # hil build
    result = build("dataflow.onnx", "finn", "finn_dir")

A QONNX model is lowered first (toolchain.lower); `folding` (a FINN-format JSON) is applied before
the backend runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from toolchain.errors import UserError

BACKENDS = ("hls4ml", "finn", "rtl")


def load_dataflow(model_path: str | Path, folding: Optional[str | Path] = None, label_select: bool = False):
    """The dataflow ModelWrapper of a dataflow.onnx (folding applied to its nodes) or of a QONNX model
    (lowered with the folding, so DWCs and FIFOs fit it)."""
    from toolchain.estimate import is_dataflow, to_dataflow
    from toolchain.onnxio import load_model

    model = load_model(model_path)
    if is_dataflow(model):
        return to_dataflow(model, folding)
    from toolchain.lower import lower_model

    return lower_model(model, folding=str(folding) if folding is not None else None, label_select=label_select)


def source_qonnx(model_path: str | Path) -> Path:
    """The QONNX a dataflow.onnx was lowered from (metadata "hil_source", relative to the file), or the
    file itself when it is a QONNX model."""
    from toolchain.estimate import is_dataflow
    from toolchain.onnxio import load_model

    model_path = Path(model_path)
    model = load_model(model_path)
    if not is_dataflow(model):
        return model_path
    rel = model.get_metadata_prop("hil_source")
    if not rel:
        raise UserError(f"{model_path} has no hil_source metadata (the QONNX it was lowered from); the FINN handoff "
                        "needs that model: lower it with `hil lower` or build from the QONNX directly")
    path = (model_path.parent / rel).resolve()
    if not path.exists():
        raise UserError(f"source QONNX {path} (metadata hil_source of {model_path}) not found")
    return path


def build(model_path: str | Path, backend: str, out_dir: str | Path, *, folding: Optional[str | Path] = None,
          part: Optional[str] = None, clock_ns: Optional[float] = None, csim: int = 0, hls_backend: str = "Vitis",
          seed: int = 0, cosim: int = 0) -> dict:
    """`hil build`: write the backend's output folder; returns the --json object."""
    if backend not in BACKENDS:
        raise UserError(f"unknown backend '{backend}'; choose one of: {', '.join(BACKENDS)}")
    if cosim and backend != "rtl":
        raise UserError("--cosim needs --backend rtl (Verilator co-simulation of the generated RTL)")
    if backend == "rtl":
        if csim:
            raise UserError("--csim needs --backend hls4ml; the rtl backend co-simulates with --cosim N")
        from toolchain.backends.rtl import build_rtl

        return build_rtl(load_dataflow(model_path, folding), out_dir, cosim=cosim, seed=seed, source=str(model_path),
                         clock_ns=clock_ns)
    if backend == "finn" and csim:
        raise UserError("--csim needs --backend hls4ml (the FINN handoff is not compiled here)")
    if backend == "finn":
        from toolchain.backends.finn import build_finn

        src = source_qonnx(model_path)
        model = load_dataflow(model_path)
        if folding is not None:  # new stream widths: lower the source again so DWCs and FIFOs fit the folding
            label_select = any(n.op_type == "LabelSelect" for n in model.graph.node)
            model = load_dataflow(src, folding, label_select=label_select)
        return build_finn(model, out_dir, source_qonnx=src, part=part, clock_ns=clock_ns, source=str(model_path))
    model = load_dataflow(model_path, folding)
    from toolchain.backends.hls4ml import build_hls4ml

    return build_hls4ml(model, out_dir, backend=hls_backend, part=part, clock_ns=clock_ns, csim=csim, seed=seed,
                        source=str(model_path))


def summary(result: dict) -> str:
    """One human line for `hil build` without --json."""
    if result["backend"] == "finn":
        return (f"FINN handoff in {result['dir']}: {result['model_file']}, {result['folding_file']} "
                f"({result['nodes']} nodes)")
    if result["backend"] == "rtl":
        text = f"RTL project ({result['top']}, {result['nodes']} nodes) in {result['dir']}"
        cosim = result.get("cosim")
        if cosim:
            text += (f"; Verilator co-simulation: {cosim['mismatches']} mismatches on {cosim['samples']} samples, "
                     f"cycle-exact {cosim['cycle_exact']}, FIFO high-water marks equal {cosim['fifo_high_water_equal']}")
        return text
    text = f"hls4ml project ({result['hls_backend']}, {result['part']}) in {result['project']}"
    csim = result.get("csim")
    if csim:
        text += (f"; C-sim: {csim['mismatches']} mismatches on {csim['samples']} samples "
                 f"(g++ {csim['compile_seconds']} s)")
    return text
