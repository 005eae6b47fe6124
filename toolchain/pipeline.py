"""Orchestration above the stages: what a verb does when it is handed the output of an earlier stage
than its own. The stages themselves import no other stage (tests/unit/test_stage_layering.py).

    model = as_dataflow(load_model("model.onnx"), folding="f.json")    # QONNX: lowered; dataflow: refolded
    result = estimate_model(model, part="Pynq-Z2", folding=None)        # hil estimate
    result = build("dataflow.onnx", "finn", "handoff/")                  # hil build

`build` lowers a QONNX source at most once: the FINN handoff's check ("the handoff's folding gives
the same graph again") refolds the graph lowered here instead of lowering the source a second time.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional

from toolchain.contract import is_dataflow, source_path
from toolchain.errors import UserError


def as_dataflow(model, folding=None, label_select: bool = False):
    """A dataflow model: a QONNX graph is lowered (with the folding); a dataflow graph is refolded
    when a folding is given, so its DWCs and FIFOs are re-derived for the new stream widths."""
    from toolchain.lower import fold_dataflow, lower_model

    if not is_dataflow(model):
        return lower_model(model, folding=folding, label_select=label_select)
    return model if folding is None else fold_dataflow(model, folding=folding)


def estimate_model(model, part: Optional[str] = None, clock_ns: Optional[float] = None, cost: str = "finn",
                   folding=None, rtl_dir: Optional[Path] = None, impl: str = "hls") -> dict:
    """`hil estimate` of a dataflow or QONNX model (lowered or refolded first); with the synth cost
    model, the synthesis report `hil synth` wrote into the RTL project rtl_dir."""
    from toolchain.estimate import estimate

    report = None
    if rtl_dir is not None:
        import json

        path = Path(rtl_dir) / "synth.json"
        if not path.is_file():
            raise UserError(f"{path} not found: run `hil synth {rtl_dir}` first")
        try:
            report = json.loads(path.read_text())
        except ValueError:
            raise UserError(f"{path} is not JSON: rerun `hil synth {rtl_dir}`") from None
    return estimate(as_dataflow(model, folding), part=part, clock_ns=clock_ns, cost=cost, synth_report=report,
                    impl=impl)


def source_qonnx(model_path: str | Path, model=None, given: Optional[str | Path] = None) -> Path:
    """The QONNX a dataflow.onnx was lowered from (metadata "hil_source", relative to the file), or the
    file itself when it is a QONNX model."""
    from toolchain.onnxio import load_model

    model_path = Path(model_path)
    model = load_model(model_path) if model is None else model
    if not is_dataflow(model):
        return model_path
    path = source_path(model, model_path, given)
    if path is None:
        raise UserError(f"{model_path} has no hil_source metadata (the QONNX it was lowered from); the FINN handoff "
                        "needs that model: lower it with `hil lower` or build from the QONNX directly")
    path = path.resolve()
    if not path.is_file():
        raise UserError(f"source QONNX {path} (metadata hil_source of {model_path}) not found")
    if is_dataflow(load_model(path)):
        raise UserError(f"the source {path} of {model_path} is a dataflow model, not the QONNX it was lowered from")
    return path


def build(model_path: str | Path, backend: str, out_dir: str | Path, *, folding: Optional[str | Path] = None,
          part: Optional[str] = None, clock_ns: Optional[float] = None, csim: int = 0, hls_backend: str = "Vitis",
          seed: int = 0, cosim: int = 0, source: Optional[str | Path] = None) -> dict:
    """`hil build`: write the backend's output folder; returns the --json object."""
    from toolchain.backends import BACKENDS
    from toolchain.onnxio import load_model

    if backend not in BACKENDS:
        raise UserError(f"unknown backend '{backend}'; choose one of: {', '.join(BACKENDS)}")
    if backend == "finn" and csim:
        raise UserError("--csim needs --backend hls4ml (the FINN handoff is not compiled here)")
    if cosim and backend != "rtl":
        raise UserError("--cosim needs --backend rtl (Verilator co-simulation of the generated RTL)")
    if backend == "rtl" and csim:
        raise UserError("--csim needs --backend hls4ml; the rtl backend co-simulates with --cosim N")
    folding = str(folding) if folding is not None else None
    loaded = load_model(model_path)
    from toolchain.limits import check_samples

    for n, what in ((csim, "--csim"), (cosim, "--cosim")):
        if n:
            check_samples(loaded, n, what)  # inputs, emulator reference and outputs of every layer
    if backend == "rtl":
        from toolchain.backends.rtl import build_rtl

        return build_rtl(as_dataflow(loaded, folding), out_dir, cosim=cosim, seed=seed, source=str(model_path),
                         clock_ns=clock_ns)
    if backend == "finn":
        return _build_finn(model_path, loaded, out_dir, folding, part, clock_ns, source)
    from toolchain.backends.hls4ml import build_hls4ml

    return build_hls4ml(as_dataflow(loaded, folding), out_dir, backend=hls_backend, part=part, clock_ns=clock_ns,
                        csim=csim, seed=seed, source=str(model_path))


def _build_finn(model_path, loaded, out_dir, folding, part, clock_ns, given_source=None) -> dict:
    """The FINN handoff, lowering the source at most once: a QONNX input is lowered here and the
    handoff's check refolds that graph; a dataflow input (refolded if a folding is given) is checked
    against one lowering of its hil_source."""
    from toolchain.backends.finn import build_finn
    from toolchain.lower import fold_dataflow, lower_model
    from toolchain.onnxio import load_model

    src = source_qonnx(model_path, loaded, given_source)
    model = as_dataflow(loaded, folding)
    if not is_dataflow(loaded):
        def relower(config: dict, clock: float, label_select: bool):
            return fold_dataflow(copy.deepcopy(model), folding=config, clock_ns=clock)
    else:
        def relower(config: dict, clock: float, label_select: bool):
            return lower_model(load_model(src), folding=config, clock_ns=clock, label_select=label_select)
    return build_finn(model, out_dir, source_qonnx=src, relower=relower, part=part, clock_ns=clock_ns,
                      source=str(model_path))
