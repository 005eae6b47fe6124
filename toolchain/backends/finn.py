"""FINN handoff: what a user with FINN (finn-plus 1.6.1) and Vivado needs to build the same dataflow design.

    result = build_finn(dataflow_model, "handoff/", source="model.onnx")

Writes, atomically, into the folder:
* model.onnx -- the source QONNX, cleaned up, with the dataflow's integer input contract ("hil_io"):
  a float input's quantizer is replaced by an integer input (x / input_scale); a raw UINT8 pixel input
  (tfc-w1a1, cnv-w1a1) keeps its preprocessing and quantizer, which FINN turns into the input
  Thresholding itself, as in its own BNN-PYNQ flow. Either way FINN builds the partition we emulate;
* folding_config.json -- FINN format (docs/finn.md §1.6), keys are FINN's node names after
  specialization (MVAU_hls_0, ConvolutionInputGenerator_rtl_0, Pool_hls_0, ...): PE/SIMD, memory attributes, and
  the FIFO depths the emulator chose as inFIFODepths/outFIFODepths (FINN's InsertFIFO takes
  max(producer outFIFODepths, consumer inFIFODepths) when auto_fifo_depths=False);
* specialize_layers_config.json -- every layer pinned to the variant finn-plus 1.6.1 has and our cost
  model follows (the op's finn_impl: preferred_impl_style where the op has one -- RTL for the SWGs, 1-D
  ones included, which finn-plus has only as RTL, and for Thresholding, FINN's own choice --, else
  FINN's choice for the op type, HLS for MVAU/VVAU), which also makes FINN's post-specialization names
  predictable;
* hil_folding.json -- the same folding in our node names (with preferred_impl_style), what
  `hil lower <source> --folding hil_folding.json` turns into the handed-off dataflow.onnx (as does
  folding_config.json: toolchain/passes/finn_names.py reads FINN's names back by FINN's rule);
* build.py -- the FINN build (DataflowBuildConfig) using both files; README.md -- the steps;
* source.onnx -- the source QONNX as given, and dataflow.onnx -- the checked dataflow graph, whose
  hil_source metadata names source.onnx: the folder emulates (`hil emulate dataflow.onnx --inputs x.npy`,
  bit-exact against source.onnx) with nothing outside it.

Both we and FINN number nodes per op type in graph order. finn-plus has no StreamingMaxPool: it builds
a max-pool as a depthwise ConvolutionInputGenerator + Pool (convert_to_hw/pool.py:InferPool), so the
handoff sets preferred_impl_style="rtl" on the ops that have it (SWG, SWG1D, StreamingMaxPool: their
`finn` cost then follows finn-plus's RTL SWG and Pool) and names each FINN layer an op becomes
(op.finn_layers()), the pooling SWGs counted among FINN's ConvolutionInputGenerators. Likewise
finn-plus has no ConvolutionInputGenerator1D: InferConvInpGen makes a 1-D window a
ConvolutionInputGenerator with is1D=1 (RTL), so an SWG1D is handed off as ConvolutionInputGenerator_rtl_N,
also counted among them (a ConvolutionInputGenerator1D_hls_N entry would be ignored by FINN's ApplyConfig). DWC and FIFO nodes
are not configured: FINN inserts its own at step_set_fifo_depths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hw.ops import op_class
from hw.ops.fifo import FIFO
from toolchain.backends import UNITS
from toolchain.errors import UserError
from toolchain.passes.finn_names import STYLE, finn_names, finn_styled, is_infra, layers  # noqa: F401 (re-exported)
from toolchain.schemas import versioned

# FINN's naming rule and the graph finn-plus builds live with the folding reader (toolchain/passes/finn_names.py),
# which reads this handoff's folding_config.json back
_infra, _layers = is_infra, layers


def fifo_attrs(model: ModelWrapper) -> dict[str, dict[str, list[int]]]:
    """our node name -> {inFIFODepths/outFIFODepths} realizing every FIFO depth under FINN's
    InsertFIFO rule (depth = max(producer outFIFODepths, consumer inFIFODepths), both >= 2): a FIFO's
    depth goes to its compute-node neighbours; next to a DWC (whose FIFO attributes stay at 2, as
    FINN's own DWC's) only the compute side carries it, so the FIFO on each side of the DWC keeps
    its own depth."""
    out: dict[str, dict[str, list[int]]] = {}
    for node in model.graph.node:  # edges without a FIFO node (graph input/output): the node's own attributes
        if not _infra(node):
            op = getCustomOp(node)
            out[node.name] = {a: list(op.get_nodeattr(a)) for a in ("inFIFODepths", "outFIFODepths")}

    def put(node, attr: str, port: int, depth: int) -> None:
        values = out.setdefault(node.name, {}).setdefault(attr, list(getCustomOp(node).get_nodeattr(attr)))
        values += [2] * (port + 1 - len(values))
        values[port] = depth

    for f in model.graph.node:
        if op_class(f.op_type) is not FIFO:
            continue
        depth = int(getCustomOp(f).get_nodeattr("depth"))
        p = model.find_producer(f.input[0])
        if p is not None and not _infra(p):
            put(p, "outFIFODepths", list(p.output).index(f.input[0]), depth)
        for c in model.find_consumers(f.output[0]) or []:
            if not _infra(c):
                put(c, "inFIFODepths", list(c.input).index(f.output[0]), depth)
    return out


def _own_config(op) -> dict[str, Any]:
    """The attributes FINN's variant of the op has (ApplyConfig fails on any other)."""
    return {a: op.get_nodeattr(a) for a in op.finn_config_attrs() if a in op.get_nodeattr_types()}


def folding_config(model: ModelWrapper) -> dict[str, Any]:
    """FINN-format folding config with FINN's post-specialization names; a node that FINN builds as
    several layers configures each, its FIFO depths on the first layer's input and the last one's output."""
    names, fifos = finn_names(model), fifo_attrs(model)
    config: dict[str, Any] = {"Defaults": {}}
    for node in model.graph.node:
        if _infra(node):
            continue
        op, parts = getCustomOp(node), _layers(node)
        for i, ((_, post), layer) in enumerate(zip(names[node.name], parts)):
            entry = dict(_own_config(op) if layer.config is None else layer.config)
            depths = fifos.get(node.name, {})
            entry.update({a: v for a, v in depths.items() if (a == "inFIFODepths" and i == 0)
                          or (a == "outFIFODepths" and i == len(parts) - 1)})
            config[post] = entry
    return config


def hil_folding(model: ModelWrapper) -> dict[str, Any]:
    """The handoff's folding in our node names (what `hil lower --folding` reads back): the FINN config
    attributes, preferred_impl_style, and the FIFO depths."""
    fifos = fifo_attrs(model)
    config: dict[str, Any] = {}
    for node in model.graph.node:
        if not _infra(node):
            op = getCustomOp(node)
            entry = _own_config(op)
            if STYLE in op.get_nodeattr_types():
                entry[STYLE] = op.get_nodeattr(STYLE)
            config[node.name] = {**entry, **fifos.get(node.name, {})}
    return config


def specialize_config(model: ModelWrapper) -> dict[str, Any]:
    names = finn_names(model)
    styles = {pre: layer.impl for node in model.graph.node if not _infra(node)
              for (pre, _), layer in zip(names[node.name], _layers(node))}
    return {"Defaults": {}, **{pre: {"preferred_impl_style": style} for pre, style in styles.items()}}


def size_fifos_with_emulator(model: ModelWrapper, dma_bits: Optional[int]) -> dict:
    """hw.emulator FIFO sizing (as `hil emulate --size-fifos`), written into the model's FIFO nodes."""
    from hw.emulator.fifo_sizing import FifoSizingError, size_fifos
    from hw.emulator.graph import SimConfig, TimingGraphError
    from hw.emulator.model_graph import apply_fifo_depths, build_timing_graph

    try:
        graph = build_timing_graph(model)
        sizing = size_fifos(graph, SimConfig(frames=3, dma_bits=dma_bits))
    except (TimingGraphError, FifoSizingError) as err:
        raise UserError(f"FIFO sizing failed: {str(err).splitlines()[0]}") from None
    apply_fifo_depths(model, graph, sizing.depths)
    return {"depths": sizing.depths, "full_throughput": sizing.full_throughput, "dma_bits": dma_bits,
            "rounding": "exact", "interval": sizing.interval_sized}


def finn_ready_qonnx(source: ModelWrapper) -> ModelWrapper:
    """The source QONNX for FINN: cleaned up, integer input stream (our InputQuantToStream; an input
    that is already an integer stream keeps its quantizer for FINN's input Thresholding). The
    preprocessing and input quantizer it removes are recorded in its "hil_io" (input_steps) and
    become the handoff's host steps (handoff_host_steps)."""
    from qonnx.util.cleanup import cleanup_model

    from toolchain.passes.inputs import InputQuantToStream

    model = cleanup_model(source)
    model = model.transform(InputQuantToStream())
    return _bias_quant_params_as_vectors(cleanup_model(model))


def handoff_host_steps(qonnx: ModelWrapper) -> dict:
    """host_steps.json of the handoff (toolchain.hoststeps.host_steps): the input steps the FINN-ready
    model no longer computes, in the source's layout; no output steps, since model.onnx keeps the
    source's float ops after the last layer (FINN's build leaves them outside the dataflow partition)."""
    from dataclasses import replace

    from toolchain.contract import OutputKind, read_io
    from toolchain.hoststeps import host_steps

    io = replace(read_io(qonnx), output_steps=None, output_kind=OutputKind.VALUES, output_scale=1.0, output_bias=0.0)
    return host_steps(io, channels_last=False)


def _bias_quant_params_as_vectors(model: ModelWrapper) -> ModelWrapper:
    """A conv bias's Quant with a 0-d scale or zero point gets them as shape (1,), the same value:
    FINN's ConvertQONNXtoFINN runs qonnx ExtractBiasFromConv, which reshapes any quantizer parameter
    whose shape is not (1,) to the bias shape and fails on a 0-d one (digits-cnn's convs)."""
    import numpy as np

    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose") or len(node.input) < 3:
            continue
        quant = model.find_producer(node.input[2])
        if quant is None or quant.op_type not in ("Quant", "IntQuant", "BipolarQuant"):
            continue
        for name in quant.input[1:3]:
            value = model.get_initializer(name)
            if value is not None and np.ndim(value) == 0:
                model.set_initializer(name, np.reshape(value, (1,)))
    return model


BUILD_PY = '''"""FINN (finn-plus 1.6.1) build of this handoff: ./run-docker.sh build_custom <this folder>"""

import finn.builder.build_dataflow as build
import finn.builder.build_dataflow_config as build_cfg
from qonnx.util.cleanup import cleanup_model


def step_insert_topk(model, cfg):
    """The dataflow ends in a LabelSelect, which FINN infers from a TopK (finn-examples bnn-pynq build.py
    adds it the same way, custom_step_add_post_proc)."""
    from qonnx.transformation.insert_topk import InsertTopK

    return model.transform(InsertTopK(k={topk}))


def step_qonnx_to_finn_always(model, cfg):
    """FINN's step_qonnx_to_finn, also when the only quantizers are BipolarQuant (FINN skips it then)."""
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN

    return cleanup_model(model).transform(ConvertQONNXtoFINN())


cfg = build_cfg.DataflowBuildConfig(
    output_dir="output",
    synth_clk_period_ns={clock_ns},
    fpga_part="{part}",
    steps=[{pre_steps}step_qonnx_to_finn_always] + build_cfg.default_build_dataflow_steps[1:],
    specialize_layers_config_file="specialize_layers_config.json",
    folding_config_file="folding_config.json",
    auto_fifo_depths=False,  # FIFO depths: inFIFODepths / outFIFODepths in folding_config.json
    generate_outputs=[
        build_cfg.DataflowOutputType.ESTIMATE_REPORTS,
        build_cfg.DataflowOutputType.STITCHED_IP,
        build_cfg.DataflowOutputType.RTLSIM_PERFORMANCE,
        build_cfg.DataflowOutputType.OOC_SYNTH,
    ],
)

if __name__ == "__main__":
    build.build_dataflow_cfg("model.onnx", cfg)
'''

README = """# FINN handoff generated by `hil build --backend finn` from {source}

Part {part}, clock {clock_ns} ns. For FINN as finn-plus 1.6.1 builds it (its RTL sliding-window generator; a
max-pool as a sliding window + Pool), with Vivado/Vitis HLS; checked against finn-plus's own flow up to its estimates.

| file | used by FINN build step |
|---|---|
| model.onnx | the QONNX input of `build_dataflow_cfg` (source model cleaned up; integer input {in_dtype} (scale {in_scale}): feed it `host.pre(x)` for raw inputs x of the source) |
| host_steps.json, host.py | the host steps: the source's preprocessing and input quantizer, which model.onnx no longer has, as data and a numpy driver (see below) |
| specialize_layers_config.json | `step_specialize_layers`: every layer pinned to the variant our estimates model (RTL for sliding windows, 1-D ones included, thresholds and padding; HLS for MVAUs and the rest) |
| folding_config.json | `step_apply_folding_config` (PE, SIMD, memory styles, FINN names after specialization) and `step_set_fifo_depths` with `auto_fifo_depths=False` (inFIFODepths / outFIFODepths: the FIFO depths the emulator chose) |
| hil_folding.json | not FINN's: the same folding in our node names, for `hil lower source.onnx --folding hil_folding.json` (folding_config.json works too) |
| source.onnx, dataflow.onnx | not FINN's: the source QONNX as given to hil and the dataflow graph hil emulates and estimates; dataflow.onnx names source.onnx as its source, so `hil emulate dataflow.onnx --inputs x.npy` needs no `--source` |
| build.py | the `DataflowBuildConfig` with both files; run it with `./run-docker.sh build_custom <this folder>` |

Steps that run: `step_qonnx_to_finn` (forced, see build.py), `step_tidy_up`, `step_streamline`, `step_convert_to_hw`,
`step_create_dataflow_partition`, `step_specialize_layers`, `step_apply_folding_config`, `step_minimize_bit_width`,
`step_generate_estimate_reports` (compare output/report/estimate_*.json with `hil estimate`), `step_hw_codegen`,
`step_hw_ipgen`, `step_set_fifo_depths`, `step_create_stitched_ip`, `step_measure_rtlsim_performance`,
`step_out_of_context_synthesis`. Add `board=...` and `shell_flow_type=...` to build.py for a bitfile.

Node names: FINN numbers its nodes per op type, as we do; a max-pool (our MaxPool_k) is two FINN layers, a
ConvolutionInputGenerator_rtl (counted among the sliding windows) and a Pool_hls; a 1-D window (our SWG1D_k) is
FINN's ConvolutionInputGenerator_rtl with is1D=1, counted among them too. `hil lower <source QONNX> --folding
folding_config.json` (or hil_folding.json) rebuilds the same dataflow graph (same estimate). FINN inserts its own DWCs and FIFOs; each FIFO
depth is carried by the compute node next to it.

FIFO sizing by the emulator: {fifo_line}

{host_section}
"""


SOURCE_FILE = "source.onnx"  # the source QONNX, copied: what dataflow.onnx was lowered from (hil_source)

# (folding config in our node names, clock_ns, label_select) -> the dataflow graph that config gives
Relower = Callable[[dict, float, bool], ModelWrapper]


def build_finn(model: ModelWrapper, out_dir, *, source_qonnx, relower: Relower, part: Optional[str] = None,
               clock_ns: Optional[float] = None, source: str = "") -> dict:
    """Write the FINN handoff folder (atomically). `model`: the dataflow graph (folded);
    `source_qonnx`: path of the QONNX it was lowered from; `relower`: how the handoff's folding config
    becomes a dataflow graph again (what `hil lower --folding` gives: the caller, toolchain.pipeline,
    lowers the source or refolds a graph it lowered itself, so the source is lowered once)."""
    from toolchain.backends.project_docs import host_section, write_host_driver
    from toolchain.backends.staging import check_target, staged_dir
    from toolchain.contract import read_io
    from toolchain.defaults import resolve_clock, resolve_part
    from toolchain.fileio import write_json, write_text
    from toolchain.onnxio import load_model

    check_target(Path(out_dir))
    fpga_part = resolve_part(part, model)
    clock = resolve_clock(clock_ns, model, part or fpga_part)
    model = finn_styled(model)
    # refuses unknown ops before anything is written. hil_build.json: finn_names = our node -> the FINN
    # layer that produces its output; finn_layers = our node -> every FINN layer it becomes, in order
    names = finn_names(model)
    source_model = load_model(source_qonnx)
    qonnx = finn_ready_qonnx(source_model)
    top = [int(getCustomOp(n).get_nodeattr("K")) for n in model.graph.node if n.op_type == "LabelSelect"]
    sizing = size_fifos_with_emulator(model, _dma_bits(fpga_part))
    config, ours = folding_config(model), hil_folding(model)
    label_select = any(n.op_type == "LabelSelect" for n in model.graph.node)
    handoff = check_handoff(model, relower(ours, clock, label_select), sizing, _dma_bits(fpga_part))
    # the source QONNX travels with the handoff: dataflow.onnx's hil_source names the copy inside the folder,
    # which `hil emulate --inputs` follows (never a path out of the folder: toolchain/contract.py:source_path)
    handoff.set_metadata_prop("hil_source", SOURCE_FILE)
    io = read_io(model)
    result = versioned({"model": source, "backend": "finn", "dir": str(out_dir), "model_file": "model.onnx",
              "folding_file": "folding_config.json", "specialize_file": "specialize_layers_config.json",
              "hil_folding_file": "hil_folding.json",
              "dataflow_file": "dataflow.onnx", "source_file": SOURCE_FILE, "part": fpga_part, "clock_ns": clock, "nodes": len(names),
              "finn_names": {name: layers[-1][1] for name, layers in names.items()},
              "finn_layers": {name: [post for _, post in layers] for name, layers in names.items()}, "fifo_sizing": sizing,
              "host_driver": {"steps": "host_steps.json", "driver": "host.py"}}, UNITS)
    fifo_line = ", ".join(f"{k} {v}" for k, v in sizing["depths"].items()) + (
        " (full throughput)" if sizing["full_throughput"] else " (NOT full throughput)")
    with staged_dir(Path(out_dir)) as tmp:
        qonnx.save(str(tmp / "model.onnx"))
        handoff.save(str(tmp / "dataflow.onnx"))
        source_model.save(str(tmp / SOURCE_FILE))
        write_json(tmp / "folding_config.json", config)
        write_json(tmp / "hil_folding.json", ours)
        write_json(tmp / "specialize_layers_config.json", specialize_config(model))
        write_text(tmp / "build.py", BUILD_PY.replace("{clock_ns}", repr(clock)).replace("{part}", fpga_part)
                   .replace("{topk}", str(top[0] if top else 1)).replace("{pre_steps}", "step_insert_topk, " if top else ""))
        write_host_driver(tmp, qonnx, "FINN handoff", spec=handoff_host_steps(qonnx),
                          note="model.onnx computes the source's outputs itself: post() is the identity.")
        host_text = "\n".join(host_section(model_file="model.onnx")) + (
            "\n\nmodel.onnx keeps the source's float ops after its last layer, so its outputs are the source's: "
            "host.post is the identity here.")
        write_text(tmp / "README.md", README.format(source=source, part=fpga_part, clock_ns=clock, fifo_line=fifo_line,
                                                    in_dtype=io.input_dtype or "?", in_scale=io.input_scale,
                                                    host_section=host_text))
        write_json(tmp / "hil_build.json", result)
    return result


def check_handoff(model: ModelWrapper, out: ModelWrapper, sizing: dict, dma_bits: Optional[int]) -> ModelWrapper:
    """`out` (the handoff's folding config made a dataflow graph again) checked: same compute nodes and
    attributes as `model`, and the emulator's interval with the chosen FIFOs."""
    from hw.emulator.graph import SimConfig
    from hw.emulator.model_graph import build_timing_graph
    from hw.emulator.timing import simulate

    mine = {n.name: n for n in model.graph.node if not _infra(n)}
    theirs = {n.name: n for n in out.graph.node if not _infra(n)}
    if mine.keys() != theirs.keys():
        raise UserError(f"lowering the source with the handoff's folding gives nodes {sorted(theirs)}, not "
                        f"{sorted(mine)}: the dataflow model was not lowered from its hil_source")
    for name, node in mine.items():
        a, b = getCustomOp(node), getCustomOp(theirs[name])
        for attr in a.get_nodeattr_types():
            if attr not in ("inFIFODepths", "outFIFODepths") and a.get_nodeattr(attr) != b.get_nodeattr(attr):
                raise UserError(f"{name}: {attr} is {a.get_nodeattr(attr)!r} in the dataflow model but "
                                f"{b.get_nodeattr(attr)!r} when its source is lowered with the handoff's folding")
    run = simulate(build_timing_graph(out), SimConfig(frames=3, dma_bits=dma_bits))
    if run.deadlock is not None:
        raise RuntimeError(f"the handed-off FIFO depths deadlock: {run.deadlock.describe()}")
    if sizing["interval"] is not None and run.interval > sizing["interval"]:
        raise RuntimeError(f"the handed-off design runs at interval {run.interval}, "
                           f"the sized one at {sizing['interval']}")
    sizing["interval_handoff"] = float(run.interval)
    return out


def _dma_bits(part: str) -> Optional[int]:
    from toolchain.defaults import known_device

    device = known_device(part)
    return None if device is None else device.dma_bits
