"""hls4ml backend: an hls4ml ModelGraph (io_stream, Vitis or Vivado) built directly from the dataflow IR.

    result = build_hls4ml(model, "prj", backend="Vitis", part="xc7z020clg400-1", csim=1000)   # hil build
    hmodel = make_model_graph(plan_hls4ml(model), Path("prj"), HLSOptions(...))                 # the ModelGraph

The layers come from toolchain.backends.plan (exact by construction, refusals before any file is
written); this module only turns the plan into hls4ml's layer dicts and per-layer config. Every
precision (result, accum, weight, bias, threshold) is written per layer from the IR's datatypes; the
model-level default is never used, which `check_model_graph` verifies on the built graph (no type
named *default*, reuse factor and strategy as planned). Nothing is left to hls4ml's precision
inference: we never go through its QONNX frontend, whose quantizer conversion (hls4ml
model/optimizer/passes/quant_opt.py: QuantToAlphaActivationAlpha, ConstQuantToConstAlpha) inserts
ApplyAlpha scale layers typed with the model default precision, which is inexact.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from toolchain.backends.plan import (AccPoolLayer, AddLayer, DenseLayer, FlattenLayer, InputLayer, Layer, PadLayer,
                                    Plan, PoolLayer, ResizeLayer, ThresholdLayer)
from toolchain.defaults import DEFAULT_CLOCK_NS, DEFAULT_PART, resolve_clock, resolve_part
from toolchain.backends import UNITS
from toolchain.errors import UserError
from toolchain.schemas import versioned

BACKENDS = {"vitis": "Vitis", "vivado": "Vivado"}
PROJECT = "myproject"


@dataclass(frozen=True)
class HLSOptions:
    backend: str = "Vitis"
    part: str = DEFAULT_PART
    clock_ns: float = DEFAULT_CLOCK_NS
    project_name: str = PROJECT


def backend_name(name: str) -> str:
    try:
        return BACKENDS[name.lower()]
    except KeyError:
        raise UserError(f"unknown HLS backend '{name}'; choose one of: {', '.join(BACKENDS.values())}") from None


# ---- plan -> hls4ml layer dicts and config -------------------------------------------------------

def _dense_dict(layer: DenseLayer, prev: str) -> dict:
    w, b = layer.weight.astype(np.float64), layer.bias.astype(np.float64)
    if layer.conv is None:
        return {"class_name": "Dense", "name": layer.name, "inputs": [prev], "n_in": w.shape[0], "n_out": w.shape[1],
                "weight_data": w, "bias_data": b}
    g = layer.conv
    common = {"name": layer.name, "inputs": [prev], "data_format": "channels_last", "bias_data": b}
    if g.one_d:  # SWG1D windows (kw, C): hls4ml's Conv1D weights are (kw, C, F)
        return {"class_name": "Conv1D", **common, "in_width": g.in_w, "out_width": g.out_w, "n_chan": g.n_chan,
                "n_filt": w.shape[1], "filt_width": g.k, "stride_width": g.stride, "dilation": 1,
                "pad_left": 0, "pad_right": 0, "weight_data": w.reshape(g.k, g.n_chan, w.shape[1])}
    geom = {"in_height": g.in_h, "in_width": g.in_w, "out_height": g.out_h, "out_width": g.out_w,
            "n_chan": g.n_chan, "filt_height": g.k, "filt_width": g.k, "stride_height": g.stride,
            "stride_width": g.stride, "dilation_height": 1, "dilation_width": 1,
            "pad_top": 0, "pad_bottom": 0, "pad_left": 0, "pad_right": 0}
    if g.depthwise:  # (k·k, C) tap matrix: hls4ml's depthwise kernel (kh, kw, C, 1), read as weights[tap·C + c]
        return {"class_name": "DepthwiseConv2D", **common, **geom, "n_filt": g.n_chan, "depth_multiplier": 1,
                "depthwise_data": w.reshape(g.k, g.k, g.n_chan, 1)}
    # IR weights are (kh·kw·C, F) in im2col order (kh, kw, C): hls4ml wants (kh, kw, C, F)
    return {"class_name": "Conv2D", **common, **geom, "n_filt": w.shape[1],
            "weight_data": w.reshape(g.k, g.k, g.n_chan, w.shape[1])}


def dense_kind(layer: DenseLayer) -> str:
    """The hls4ml class of a DenseLayer."""
    if layer.conv is None:
        return "Dense"
    return "Conv1D" if layer.conv.one_d else "DepthwiseConv2D" if layer.conv.depthwise else "Conv2D"


def _layer_dict(layer: Layer, prev: Optional[str]) -> dict:
    if isinstance(layer, InputLayer):
        return {"class_name": "InputLayer", "name": layer.name, "input_shape": list(layer.shape)}
    if isinstance(layer, DenseLayer):
        return _dense_dict(layer, prev)
    if isinstance(layer, ThresholdLayer):
        c, steps = layer.thresholds.shape
        return {"class_name": "HilThreshold", "name": layer.name, "inputs": [prev], "n_in": int(np.prod(layer.shape)),
                "n_chan": c, "n_steps": steps, "out_scale": layer.out_scale, "out_bias": layer.out_bias,
                "threshold_data": layer.thresholds.astype(np.float64)}
    if isinstance(layer, AddLayer):  # a residual join: nnet_merge_stream.h add
        return {"class_name": "Merge", "op": "add", "name": layer.name, "inputs": list(layer.inputs)}
    if isinstance(layer, FlattenLayer):  # io_stream: an in-place view, no kernel (hls4ml InplaceStreamFlatten)
        return {"class_name": "Reshape", "name": layer.name, "inputs": [prev], "target_shape": list(layer.shape)}
    if isinstance(layer, AccPoolLayer):
        return {"class_name": "HilGlobalAccPool", "name": layer.name, "inputs": [prev], "n_pixels": layer.pixels,
                "n_chan": layer.shape[-1]}
    h, w, c = layer.shape
    if isinstance(layer, PoolLayer):
        return {"class_name": "MaxPooling2D", "name": layer.name, "inputs": [prev], "data_format": "channels_last",
                "in_height": h * layer.k, "in_width": w * layer.k, "out_height": h, "out_width": w, "n_filt": c,
                "pool_height": layer.k, "pool_width": layer.k, "stride_height": layer.k, "stride_width": layer.k,
                "pad_top": 0, "pad_bottom": 0, "pad_left": 0, "pad_right": 0}
    if isinstance(layer, ResizeLayer):
        hi, wi = layer.in_hw
        return {"class_name": "UpSampling2D", "name": layer.name, "inputs": [prev], "data_format": "channels_last",
                "algorithm": "nearest", "align_corners": False, "in_height": hi, "in_width": wi,
                "out_height": h, "out_width": w, "n_chan": c}
    if isinstance(layer, PadLayer):
        top, left, bottom, right = layer.pads
        return {"class_name": "ZeroPadding2D", "name": layer.name, "inputs": [prev], "data_format": "channels_last",
                "in_height": h - top - bottom, "in_width": w - left - right, "out_height": h, "out_width": w,
                "n_chan": c, "pad_top": top, "pad_bottom": bottom, "pad_left": left, "pad_right": right}
    raise TypeError(f"no hls4ml layer for {type(layer).__name__}")


def layer_precisions(layer: Layer) -> dict[str, str]:
    """hls4ml 'Precision' entries of one layer: every type the layer has, explicitly."""
    out = {"result": layer.out.hw.hls}
    if isinstance(layer, DenseLayer):
        out.update(accum=layer.accum_t.hls, weight=layer.weight_t.hls, bias=layer.bias_t.hls)
    elif isinstance(layer, ThresholdLayer):
        out["threshold"] = layer.threshold_t.hls
    elif isinstance(layer, PoolLayer):
        out["accum"] = layer.out.hw.hls
    elif isinstance(layer, AccPoolLayer):  # the sums accumulate in the output type (plan checks it holds them)
        out["accum"] = layer.out.hw.hls
    return out


def hls4ml_config(plan: Plan, out_dir: Path, opts: HLSOptions, tb: Optional[tuple[Path, Path]] = None):
    """(config dict, layer list) for ModelGraph.from_layer_list."""
    layers, names = [], {}
    for layer in plan.layers:
        layers.append(_layer_dict(layer, layer.inputs[0] if layer.inputs else None))
        entry = {"Precision": layer_precisions(layer), "Trace": True}
        if isinstance(layer, DenseLayer):
            entry.update(ReuseFactor=layer.reuse, Strategy=layer.strategy)
        names[layer.name] = entry
    config = {
        "OutputDir": str(out_dir), "ProjectName": opts.project_name, "Backend": backend_name(opts.backend),
        "Part": opts.part, "ClockPeriod": opts.clock_ns,
        "ClockUncertainty": "12.5%" if opts.backend == "Vivado" else "27%",  # hls4ml's defaults
        "IOType": "io_stream", "TraceOutput": True,
        "InputData": str(tb[0]) if tb else None, "OutputPredictions": str(tb[1]) if tb else None,
        "WriterConfig": {"Namespace": None, "WriteWeightsTxt": True, "WriteTar": False, "TBOutputStream": "both"},
        # the model-level default is required by hls4ml; every layer overrides every type it has
        "HLSConfig": {"Model": {"Precision": {"default": plan.input.hw.hls}, "ReuseFactor": 1, "Strategy": "Latency"},
                      "LayerName": names},
    }
    return config, layers


def make_model_graph(plan: Plan, out_dir: Path, opts: HLSOptions, tb: Optional[tuple[Path, Path]] = None):
    """The hls4ml ModelGraph of a plan (nothing written yet)."""
    import contextlib
    import io

    from hls4ml.model.graph import ModelGraph

    from toolchain.backends.hls4ml_ext import register

    register()
    config, layers = hls4ml_config(plan, out_dir, opts, tb)
    with contextlib.redirect_stdout(io.StringIO()):  # hls4ml prints progress and warnings on stdout
        hmodel = ModelGraph.from_layer_list(config, layers)
    check_model_graph(hmodel, plan)
    return hmodel


def check_model_graph(hmodel, plan: Plan) -> None:
    """Every type of every hls4ml layer is one we set, and the reuse factors are the folding's."""
    for hl in hmodel.get_layers():
        for key, typ in hl.types.items():
            if "default" in typ.name:
                raise RuntimeError(f"hls4ml layer {hl.name}: {key} fell back to the model default precision")
    for layer in plan.layers:
        if not isinstance(layer, DenseLayer):
            continue
        hl = hmodel.graph.get(layer.name)
        if hl is None:
            raise RuntimeError(f"hls4ml dropped or renamed layer {layer.name}")
        rf, strategy = hl.get_attr("reuse_factor"), str(hl.get_attr("strategy")).lower()
        if rf != layer.reuse or strategy != layer.strategy.lower():
            raise RuntimeError(f"hls4ml changed {hl.name} to reuse factor {rf} / {strategy} "
                               f"(planned {layer.reuse} / {layer.strategy})")


# ---- hil build --backend hls4ml ------------------------------------------------------------------

TB_SAMPLES = 16  # test-bench vectors written when no C-sim is requested


def _write_tb(tmp: Path, plan: Plan, x: np.ndarray, ref: dict) -> tuple[Path, Path]:
    """hw-encoded inputs and the emulator's expected hls4ml outputs, as .npy for hls4ml's test bench."""
    n = len(x)
    last = plan.layers[-1]
    y = ref[last.ir_tensor] if plan.host_label_select else ref[plan.ir_output]
    paths = (tmp / "tb_in.npy", tmp / "tb_out.npy")
    np.save(paths[0], plan.input.enc.to_hw(x).reshape(n, -1))
    np.save(paths[1], last.out.enc.to_hw(y).reshape(n, -1))
    return paths


def _layers_json(plan: Plan) -> list[dict]:
    out = []
    for layer in plan.layers[1:]:
        entry = {"name": layer.name, "ir_nodes": list(layer.ir_nodes), "precision": layer_precisions(layer)}
        if isinstance(layer, DenseLayer):
            entry.update(kind=dense_kind(layer), reuse_factor=layer.reuse, strategy=layer.strategy, **layer.folding)
        else:
            kinds = {ThresholdLayer: "HilThreshold", PoolLayer: "MaxPooling2D", FlattenLayer: "Reshape",
                     AddLayer: "Add", AccPoolLayer: "HilGlobalAccPool", ResizeLayer: "UpSampling2D"}
            entry["kind"] = kinds.get(type(layer), "ZeroPadding2D")
        out.append(entry)
    return out


def host_run(model, source: str, n: int, seed: int, inputs: Optional[np.ndarray] = None):
    """The C-sim's raw inputs through the design's host steps (csim.HostRun), when the source QONNX is
    known (`source` is it, or a dataflow file whose hil_source names it): `inputs` (raw inputs of the
    source model), else n random inputs over the source's input grid (toolchain.inputs.grid_inputs, as
    `hil lower` verifies). None without a source: the C-sim then takes random integer inputs."""
    from toolchain.backends.csim import HostRun
    from toolchain.contract import channels_last, read_io
    from toolchain.hoststeps import host_steps
    from toolchain.inputs import check_sample_shape, grid_inputs

    src = _source_model(source)
    if src is None:
        if inputs is not None:
            raise UserError("C-sim inputs need the design's source QONNX (metadata hil_source)")
        return None
    raw = check_sample_shape(src, inputs) if inputs is not None else grid_inputs(src, n, seed, dataflow=model)
    io = read_io(model)
    return HostRun(src, raw, io, host_steps(io, channels_last(model)))


def _source_model(source: str):
    """The cleaned-up source QONNX of the file `source` (itself when it is a QONNX model), or None."""
    from toolchain.contract import is_dataflow, source_path
    from toolchain.onnxio import load_model
    from toolchain.passes.cleanup import import_cleanup

    path = Path(source) if source else None
    if path is None or not path.is_file():
        return None
    loaded = load_model(path)
    if is_dataflow(loaded):
        path = source_path(loaded, path)
        if path is None or not path.is_file():
            return None
        loaded = load_model(path)
    return import_cleanup(loaded)


CSIM_OUTPUTS = "csim_outputs.npy"  # the C-sim outputs decoded through the host steps


def build_hls4ml(model, out_dir: str | Path, backend: str = "Vitis", part: Optional[str] = None,
                 clock_ns: Optional[float] = None, csim: int = 0, seed: int = 0, source: str = "",
                 inputs: Optional[np.ndarray] = None) -> dict:
    """Write the hls4ml project of a dataflow model (ModelWrapper) to out_dir, atomically; with csim > 0
    compile it with g++ and compare csim samples with the emulator, layer by layer, and (through the
    host steps) with the source QONNX. Returns the `hil build --json` object. `source` names the model
    file (a dataflow file or the QONNX); `inputs`: raw inputs of the source for the C-sim (default:
    random inputs on the source's input grid). Writes host_steps.json and host.py, the host's part."""
    import tempfile
    import time
    import warnings

    import hls4ml

    from toolchain.backends.csim import random_inputs, reference, run_csim
    from toolchain.backends.plan import plan_hls4ml
    from toolchain.backends.project_docs import HOST_PY, HOST_STEPS, readme, write_host_driver
    from toolchain.backends.staging import check_target, staged_dir
    from toolchain.fileio import write_json, write_text

    t0 = time.perf_counter()
    if csim < 0:
        raise UserError(f"--csim must be >= 0, got {csim}")
    out_dir = Path(out_dir)
    check_target(out_dir)
    plan = plan_hls4ml(model)  # every refusal happens here, before any file is written
    hls_part = resolve_part(part, model)
    opts = HLSOptions(backend_name(backend), hls_part, resolve_clock(clock_ns, model, part or hls_part))
    if inputs is not None and not csim:
        raise UserError("C-sim inputs need csim > 0")
    host = host_run(model, source, csim or TB_SAMPLES, seed, None if inputs is None else np.asarray(inputs)[:csim])
    x = host.stream() if host is not None else random_inputs(plan, csim or TB_SAMPLES, seed)
    ref = reference(model, plan, x)
    result = versioned({"model": source, "backend": "hls4ml", "hls_backend": opts.backend,
              "hls4ml_version": hls4ml.__version__, "project": str(out_dir), "project_name": opts.project_name,
              "part": opts.part, "clock_ns": opts.clock_ns, "io_type": "io_stream",
              "input": {"dtype": plan.input.dtype, "hls": plan.input.hw.hls, "encoding": plan.input.enc.value},
              "output": {"dtype": plan.output.dtype, "hls": plan.output.hw.hls, "encoding": plan.output.enc.value},
              "host": {"LabelSelect": plan.host_label_select} if plan.host_label_select else None,
              "layers": _layers_json(plan), "csim": None}, UNITS)
    with staged_dir(out_dir) as prj, tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hmodel = make_model_graph(plan, prj, opts, tb=_write_tb(Path(scratch), plan, x, ref))
        if csim:
            result["csim"] = run_csim(hmodel, plan, model, x, ref, host=host)
            decoded = result["csim"].pop("outputs", None)
            if decoded is not None:  # the C-sim's outputs through host.post, for the raw inputs
                np.save(prj / CSIM_OUTPUTS, decoded)
        else:
            hmodel.write()
        _finish_project(prj, out_dir)
        write_host_driver(prj, model, "hls4ml")
        result["host_driver"] = {"steps": HOST_STEPS, "driver": HOST_PY}
        result["seconds"] = round(time.perf_counter() - t0, 2)
        write_text(prj / "README.md", readme(plan, result))
        write_json(prj / "hil_build.json", result)
    return result


def _finish_project(prj: Path, out_dir: Path) -> None:
    """Make the project relocatable: the staging path must not stay in its files."""
    for so in (prj / "firmware").glob("*.so"):
        so.unlink()  # the C-sim library (already loaded); it has the staging path compiled in
    cfg = prj / "hls4ml_config.yml"
    if cfg.exists():
        cfg.write_text(cfg.read_text().replace(str(prj), str(out_dir.resolve())))
