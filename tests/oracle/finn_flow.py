"""FINN itself as the oracle: run finn-plus's own estimate flow (no Vivado) and return its numbers.

Used by tests and benches only; nothing in hw/ or toolchain/ imports this module (finn-plus is a
test-only dependency: `pip install --no-deps finn-plus==1.6.1 click psutil`).

Two entry points:
* `run_flow(qonnx_model, folding, part)` -- a QONNX model (our FINN handoff's model.onnx) through
  FINN's default build steps up to the estimate reports, as finn/builder/build_dataflow_steps.py runs
  them: step_qonnx_to_finn, step_tidy_up, step_streamline, step_convert_to_hw,
  step_minimize_bit_width_initial, step_specialize_layers (with a specialize config),
  step_apply_folding_config (FINN's ApplyConfig), step_minimize_bit_width, then AnnotateCycles,
  exp_cycles_per_layer and res_estimation(model, part). finn.builder itself cannot be imported here
  (it loads the Vivado simulator at import time), so the steps are spelled out below.
* `estimate_node(finn_node, part)` -- one node built with FINN's own HW op classes (domain
  finn.custom_op.fpgadataflow.hls / .rtl): its get_exp_cycles and node_res_estimation.

`finn_node_from_hw(op)` writes one of our `hw.ops` nodes as the FINN node with the same attributes
(FINN attribute names are ours; see hw/ops/base.py), for the differential tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

INSTALL = ".venv/bin/pip install --no-deps finn-plus==1.6.1 click psutil"  # as `make test` does
OPT_OUT = "HIL_SKIP_FINN_ORACLE"  # set to 1 to skip the FINN-oracle tests deliberately
FINN_VERSION = "1.6.1"
HLS_DOMAIN = "finn.custom_op.fpgadataflow.hls"
RTL_DOMAIN = "finn.custom_op.fpgadataflow.rtl"


class FinnUnavailable(RuntimeError):
    pass


def require_finn() -> str:
    """The installed finn-plus version; raises FinnUnavailable naming the install command."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        v = version("finn-plus")
        import finn.custom_op.fpgadataflow.hls  # noqa: F401  (the op registry must import)
    except (ImportError, PackageNotFoundError) as err:
        raise FinnUnavailable(f"finn-plus is not installed ({err}); install it with `{INSTALL}` "
                              f"(or set {OPT_OUT}=1 to skip the FINN-oracle tests)") from None
    return v


def opted_out() -> bool:
    return os.environ.get(OPT_OUT, "") not in ("", "0")


@dataclass(frozen=True)
class FinnLayer:
    """FINN's estimate of one node: get_exp_cycles and node_res_estimation(part)."""

    name: str
    op_type: str
    cycles: int
    LUT: int
    BRAM_18K: int
    URAM: int
    DSP: int
    BRAM_efficiency: float
    URAM_efficiency: float


def _layer(node, part: str) -> FinnLayer:
    from finn.util.basic import getHWCustomOp

    inst = getHWCustomOp(node)
    res = inst.node_res_estimation(part)
    return FinnLayer(name=node.name, op_type=node.op_type, cycles=int(inst.get_exp_cycles()),
                     LUT=int(res["LUT"]), BRAM_18K=int(res["BRAM_18K"]), URAM=int(res["URAM"]),
                     DSP=int(res["DSP"]), BRAM_efficiency=float(res["BRAM_efficiency"]),
                     URAM_efficiency=float(res["URAM_efficiency"]))


def estimate_model(model, part: str) -> list[FinnLayer]:
    """Per-layer FINN estimates of every HLS/RTL node of an already specialized model, in graph
    order (exp_cycles_per_layer and res_estimation, node by node)."""
    from finn.util.fpgadataflow import is_hls_node, is_rtl_node

    return [_layer(n, part) for n in model.graph.node if is_hls_node(n) or is_rtl_node(n)]


def estimate_node(node, part: str) -> FinnLayer:
    """FINN's estimate of one HLS/RTL node (a NodeProto in a FINN backend domain)."""
    return _layer(node, part)


# ---- the FINN flow on a QONNX model -----------------------------------------------------------


def _tidy(model):
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (GiveReadableTensorNames, GiveUniqueNodeNames,
                                              RemoveStaticGraphInputs)
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    for t in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(),
              InferDataTypes(), RemoveStaticGraphInputs()):
        model = model.transform(t)
    return model


def _streamline(model):
    """build_dataflow_steps.py:step_streamline."""
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.reorder import MakeMaxPoolNHWC
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
    from qonnx.transformation.general import RemoveUnusedTensors
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    model = model.transform(absorb.AbsorbScalarBiasIntoMultiThreshold())
    model = model.transform(Streamline())
    if model.get_nodes_by_op_type("Conv"):
        for t in (LowerConvsToMatMul(), MakeMaxPoolNHWC(), absorb.AbsorbTransposeIntoMultiThreshold(),
                  MakeMaxPoolNHWC(), absorb.AbsorbConsecutiveTransposes()):
            model = model.transform(t)
    for t in (ConvertBipolarMatMulToXnorPopcount(), Streamline(), absorb.AbsorbScalarMulAddIntoTopK(),
              InferDataLayouts(), RemoveUnusedTensors()):
        model = model.transform(t)
    return model


def _convert_to_hw(model, requant_bitwidth_threshold: int = 9):
    """build_dataflow_steps.py:step_convert_to_hw with the default DataflowBuildConfig
    (standalone_thresholds=False, requant_bitwidth_threshold=9), restricted to the op types a
    BNN-PYNQ-style network holds."""
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.fpgadataflow.convert_to_hw.binary_matrix_vector_activation import \
        InferBinaryMatrixVectorActivation
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import InferDuplicateStreamsLayer
    from finn.transformation.fpgadataflow.convert_to_hw.fm_padding import InferFMPadding
    from finn.transformation.fpgadataflow.convert_to_hw.label_select import InferLabelSelectLayer
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import \
        InferQuantizedMatrixVectorActivation
    from finn.transformation.fpgadataflow.convert_to_hw.requant import InferRequantLayer
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer
    from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    steps = [
        (["XnorPopcountMatMul"], InferBinaryMatrixVectorActivation()),
        (["MatMul"], InferQuantizedMatrixVectorActivation()),
        (["TopK"], InferLabelSelectLayer()),
        (["MultiThreshold", "Quant"], InferRequantLayer(bitwidth_threshold=requant_bitwidth_threshold)),
        (["MultiThreshold"], InferThresholdingLayer()),
        (["Pad"], InferFMPadding()),
        (["MaxPool", "AveragePool", "MaxPoolNHWC", "QuantAvgPool2d"], InferPool()),
        (["Im2Col"], InferConvInpGen()),
        (["ConvolutionInputGenerator"], RemoveCNVtoFCFlatten()),
    ]
    for op_types, t in steps:
        if any(model.get_nodes_by_op_type(o) for o in op_types):
            model = model.transform(t)
    model = model.transform(InferDuplicateStreamsLayer())
    for t in (absorb.AbsorbConsecutiveTransposes(), RemoveCNVtoFCFlatten(), GiveUniqueNodeNames(),
              InferDataLayouts(), InferDataTypes(), InferShapes()):
        model = model.transform(t)
    return model


def _minimize_bit_width(model):
    """build_dataflow_steps.py:_minimize_bit_width with minimize_bit_width=True."""
    from finn.transformation.fpgadataflow.minimize_accumulator_width import MinimizeAccumulatorWidth
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import MinimizeWeightBitWidth
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.infer_datatypes import InferDataTypes

    for t in (MinimizeWeightBitWidth(), MinimizeAccumulatorWidth(), InferDataTypes(),
              RoundAndClipThresholds(), InferDataTypes(), MinimizeWeightBitWidth(), InferDataTypes()):
        model = model.transform(t)
    return model


@dataclass
class FlowResult:
    layers: list[FinnLayer]
    model: object  # the specialized, folded FINN ModelWrapper (for inspection)
    unconverted: list[str]  # op types FINN left outside the dataflow (non-HW nodes)


def run_flow(model, part: str, folding: Optional[dict] = None, specialize: Optional[dict] = None,
             first_steps: Optional[list] = None) -> FlowResult:
    """FINN's estimate flow on a QONNX ModelWrapper (see the module docstring). `folding` and
    `specialize` are FINN-format config dicts (as folding_config.json / specialize_layers_config.json).
    `first_steps` replace FINN's step_qonnx_to_finn (a handoff's build.py custom steps, handoff_steps)."""
    require_finn()
    from finn.transformation.fpgadataflow.annotate_cycles import AnnotateCycles
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.transformation.general import ApplyConfig
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from finn.transformation.qonnx.quant_act_to_multithreshold import default_filter_function_generator
    from finn.util.fpgadataflow import is_hls_node, is_rtl_node
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    if first_steps is None:  # step_qonnx_to_finn, also when the only quantizers are BipolarQuant
        model = cleanup_model(model).transform(
            ConvertQONNXtoFINN(filter_function=default_filter_function_generator(max_multithreshold_bit_width=8)))
    for step in first_steps or []:
        model = step(model, None)
    model = _tidy(model)
    model = _streamline(model)
    model = _convert_to_hw(model)
    model = _minimize_bit_width(model)  # step_minimize_bit_width_initial
    if specialize is not None:
        model = model.transform(GiveUniqueNodeNames()).transform(ApplyConfig(specialize))
    model = model.transform(SpecializeLayers(part))
    for t in (GiveUniqueNodeNames(), InferShapes(), InferDataTypes()):
        model = model.transform(t)
    if folding is not None:
        model = model.transform(ApplyConfig(folding))
    model = _minimize_bit_width(model)  # step_minimize_bit_width
    model = model.transform(AnnotateCycles())
    layers = estimate_model(model, part)
    others = [n.op_type for n in model.graph.node if not (is_hls_node(n) or is_rtl_node(n))]
    return FlowResult(layers=layers, model=model, unconverted=others)


def handoff_steps(build_py: str) -> list:
    """The custom steps a handoff's build.py runs before FINN's default steps (the names listed in
    `steps=[...] + default_build_dataflow_steps[1:]`), as functions (model, cfg) -> model.
    build.py itself cannot be imported without finn.builder, so its step functions are compiled
    from its own source, unchanged."""
    import ast

    tree = ast.parse(build_py)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "steps":
            names = [e.id for e in node.value.left.elts]
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    namespace: dict = {}

    def builder(n) -> bool:
        mods = [n.module or ""] if isinstance(n, ast.ImportFrom) else [a.name for a in n.names]
        return any(m.startswith("finn.builder") for m in mods)

    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)) and not builder(n)]
    exec(compile(ast.Module(body=[*imports, *defs], type_ignores=[]), "build.py", "exec"), namespace)
    return [namespace[n] for n in names]


# ---- one of our nodes as FINN's node ----------------------------------------------------------

# our op type -> (FINN op type of the specialized node, domain). FINN's attribute names are ours.
FINN_NODE = {"MVAU": ("MVAU_hls", HLS_DOMAIN), "Thresholding": ("Thresholding_hls", HLS_DOMAIN),
             "LabelSelect": ("LabelSelect_hls", HLS_DOMAIN),
             "DWC": ("StreamingDataWidthConverter_hls", HLS_DOMAIN),
             "FIFO": ("StreamingFIFO_rtl", RTL_DOMAIN), "SWG": ("ConvolutionInputGenerator_rtl", RTL_DOMAIN)}
# a style attribute of ours whose value must be "rtl" for the FINN_NODE counterpart to be the same hardware
STYLE = "preferred_impl_style"


def has_counterpart(op) -> bool:
    """finn-plus 1.6.1 has this op as one node (FINN_NODE): not an hls-style SWG (finn-plus has only the RTL
    SWG), not a max-pool (two FINN layers: finn_maxpool_layers)."""
    types = op.get_nodeattr_types()
    return op.onnx_node.op_type in FINN_NODE and (STYLE not in types or op.get_nodeattr(STYLE) == "rtl"
                                                   or "hls" in type(op).FINN_VARIANTS)  # Thresholding: both


def finn_node_from_hw(op):
    """The FINN HW node equivalent to one of our ops (a `hw.ops` HWOp), attribute for attribute.

    Where FINN names or shapes an attribute differently it is translated, nothing else:
    * MVAU in binaryXnorMode: FINN's InferBinaryMatrixVectorActivation gives it a BINARY input
      (the xnor of {0,1} codes), ours keeps the BIPOLAR value type;
    * MVAU with ±1 weights and a non-bipolar input: FINN's flow (step_minimize_bit_width,
      MinimizeWeightBitWidth) stores the weights as INT2, the node FINN then estimates;
    * Thresholding: FINN's weightDataType (the threshold type) is required; ours defaults to the input type;
      the node is Thresholding_rtl or _hls by our preferred_impl_style (RTL, FINN's own choice, by default);
    * DWC: FINN carries inShape/outShape (the folded shapes) instead of our normal `shape`;
    * SWG: FINN requires Dilation, ours defaults to [1, 1];
    * FIFO: FINN carries folded_shape and normal_shape; impl_style "vivado" does not exist in finn-plus.
    Raises KeyError for op types finn-plus has no single-node equivalent of (has_counterpart: an hls-style
    SWG, StreamingMaxPool, which finn-plus builds as two layers)."""
    from onnx import helper

    if not has_counterpart(op):
        raise KeyError(f"{op.onnx_node.op_type} ({STYLE}={op.get_nodeattr(STYLE)!r}) has no finn-plus 1.6.1 node")
    op_type, domain = FINN_NODE[op.onnx_node.op_type]
    if op.onnx_node.op_type == "Thresholding" and op.finn_impl() == "rtl":  # FINN's default variant
        op_type, domain = "Thresholding_rtl", RTL_DOMAIN
    attrs = {a.name: helper.get_attribute_value(a) for a in op.onnx_node.attribute}
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    kind = op.onnx_node.op_type
    if kind == "MVAU" and attrs.get("binaryXnorMode", 0):
        attrs["inputDataType"] = "BINARY"
    elif kind == "MVAU" and attrs["weightDataType"] == "BIPOLAR":
        attrs["weightDataType"] = "INT2"  # FINN's MinimizeWeightBitWidth on ±1 weights (non-xnor)
    if kind == "Thresholding" and not attrs.get("weightDataType"):
        attrs["weightDataType"] = attrs["inputDataType"]
    if op_type == "Thresholding_rtl":  # the HLS kernel's memory attributes do not exist on the RTL one
        attrs.pop("ram_style", None)
        attrs.pop("mem_mode", None)
    if kind == "DWC":
        del attrs["shape"]
        attrs["inShape"], attrs["outShape"] = list(op.folded_input_shape()), list(op.folded_output_shape())
    if kind == "SWG":
        attrs.setdefault("Dilation", [1, 1])  # optional for us (default [1, 1]), required by FINN
    if kind == "FIFO":
        attrs["folded_shape"] = list(attrs.pop("shape"))
        attrs["normal_shape"] = list(op.normal_input_shape())
        if attrs.pop("impl_style", "rtl") != "rtl":
            raise KeyError("StreamingFIFO impl_style=vivado does not exist in finn-plus")
    return helper.make_node(op_type, list(op.onnx_node.input), list(op.onnx_node.output), name=op.onnx_node.name,
                            domain=domain, backend="fpgadataflow", **attrs)


def finn_maxpool_layers(img: int, k: int, channels: int, dtype: str, part: str) -> list[FinnLayer]:
    """What finn-plus builds for a k x k / stride k max-pool of an img x img x channels map of `dtype`,
    by FINN's own transformations: an ONNX MaxPool (NCHW) through convert_to_hw InferPool (Im2Col +
    Pool) and InferConvInpGen, then SpecializeLayers(part); FINN's estimates of the layers it made."""
    require_finn()
    import numpy as np  # noqa: F401  (qonnx_make_model's initializers)
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.basic import qonnx_make_model

    out = img // k
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[k, k], strides=[k, k], pads=[0, 0, 0, 0])
    graph = helper.make_graph([node], "maxpool",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, img, img])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, out, out])])
    model = ModelWrapper(qonnx_make_model(graph, producer_name="hil-oracle"))
    model.set_tensor_datatype("x", DataType[dtype])
    model.set_tensor_datatype("y", DataType[dtype])
    for t in (InferShapes(), InferPool(), InferConvInpGen(), SpecializeLayers(part), GiveUniqueNodeNames()):
        model = model.transform(t)
    return estimate_model(model, part)
