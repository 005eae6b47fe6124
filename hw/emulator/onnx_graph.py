"""The values path as a generated standard-ONNX graph, integer-exact, run by onnxruntime (issue 17).

    values = compile_onnx(model)        # an OnnxValues, or OnnxUnsupported(reason) raised
    y = values({"global_in": x_int})    # same contract as hw.emulator.plan.ValuesPlan

Each dataflow node adds its own subgraph through its op's `onnx_values(ctx)` (hw/ops/*.py, beside
`compile_values`); this module holds the builder the ops write into (NodeContext) and the session. An
op without `onnx_values`, or one whose instance cannot be proven exact (HWOp.onnx_values raises
OnnxUnsupported with the reason), makes the whole design run the compiled plan instead
(hw/emulator/engine.py); nothing here branches on op types. The value type, the exact-dtype rule and
the threshold forms the ops share are in hw/ops/_onnx_values.py.

Exact by construction: every tensor of the generated graph holds integers (or, after a threshold
form's power-of-two scale, integers times 2^-m), stored as float32 when its proven bound (`Val.bound`,
from the DataType or the op's accumulator range) is below 2^24, else float64 below 2^53 (else the op
refuses). A MatMul / Gemm / Conv sums products of such values; with every partial sum below the
dtype's limit each addition is exact whatever order or blocking the kernel uses. onnxruntime's CPU
kernels for them are MLAS SGEMM/DGEMM and MLAS convolutions, all plain sums of products
(onnxruntime/core/mlas/lib/convolve.cpp, MlasConvPrepare: GemmDirect, ExpandThenGemm(Segmented),
Depthwise; snchwc.cpp: the NCHWc direct kernels; no Winograd or FFT transform). Compares, Sign, Round,
Floor, Clip, Cast, GatherElements and MaxPool of exact values are exact. The graph is checked equal to
the plan and to each op's `execute` in tests/emulator/test_onnx_values.py and on the zoo in
tests/equiv/test_values_plan_zoo.py.

Layout: values are the dataflow's channels-last tensors (N, ..., C); a convolution's output may be
kept channels-first (`Val.nchw`), so that a following max-pool or convolution reads it without a
transpose; `NodeContext.input` transposes back when a consumer asks for channels-last.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hw.emulator.graph import TimingGraphError
from hw.emulator.model_graph import _check_domain
from hw.emulator.plan import frame_values, node_order
from hw.ops._onnx_values import OPSET, Lazy, OnnxUnsupported, Val, exact_dtype

__all__ = ["NodeContext", "OnnxValues", "build_onnx", "compile_onnx"]

_ONNX_DTYPE = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.int32: TensorProto.INT32,
               np.int64: TensorProto.INT64, np.bool_: TensorProto.BOOL}


@dataclass
class _Graph:
    nodes: list = field(default_factory=list)
    inits: list = field(default_factory=list)
    values: dict = field(default_factory=dict)  # dataflow tensor name -> Val | Lazy
    transposed: dict = field(default_factory=dict)  # (generated name, nchw) -> Val
    count: int = 0

    def fresh(self, hint: str) -> str:
        self.count += 1
        return f"{hint}__{self.count}"


class NodeContext:
    """What an op's onnx_values(ctx) sees: its node, the dataflow model, its inputs as Val (or Lazy),
    and emit/const to add nodes and constants to the generated graph."""

    def __init__(self, graph: _Graph, model: ModelWrapper, node):
        self._g, self.model, self.node = graph, model, node

    @property
    def name(self) -> str:
        return self.node.name

    def initializer(self, i: int) -> Optional[np.ndarray]:
        if i >= len(self.node.input) or not self.node.input[i]:
            return None
        return self.model.get_initializer(self.node.input[i])

    def lazy(self, i: int) -> Optional[Lazy]:
        v = self._g.values.get(self.node.input[i])
        return v if isinstance(v, Lazy) else None

    def input(self, i: int, nchw: Optional[bool] = False) -> Val:
        """Stream input i, emitted (a Lazy producer materializes here), in the layout asked for
        (channels-last by default, channels-first for nchw=True, as stored for None)."""
        t = self.node.input[i]
        if t not in self._g.values:
            raise OnnxUnsupported(f"{self.name}: input {t} has no value in the generated graph")
        v = self._g.values[t]
        if isinstance(v, Lazy):
            v = v.materialize(NodeContext(self._g, self.model, self.node))
            self._g.values[t] = v
        return v if nchw is None else self.layout(v, nchw)

    def layout(self, v: Val, nchw: bool) -> Val:
        """v with channels last (nchw=False) or at axis 1 (True): one Transpose, made once per tensor."""
        if v.nchw == nchw or len(v.shape) < 2:
            return v
        key = (v.name, nchw)
        if key not in self._g.transposed:
            r = len(v.shape) + 1
            perm = [0, r - 1, *range(1, r - 1)] if nchw else [0, *range(2, r), 1]
            self._g.transposed[key] = replace(v, name=self.emit("Transpose", [v.name], perm=perm), nchw=nchw)
        return self._g.transposed[key]

    def forward(self, i: int, o: int) -> None:
        """Output o is stream input i as it is (a Lazy stays deferred, a layout stays)."""
        t = self.node.input[i]
        if t not in self._g.values:
            raise OnnxUnsupported(f"{self.name}: input {t} has no value in the generated graph")
        self._g.values[self.node.output[o]] = self._g.values[t]

    def output(self, o: int, v) -> None:
        """Set output o to a Val or a Lazy."""
        self._g.values[self.node.output[o]] = v

    def const(self, value, dtype) -> str:
        name = self._g.fresh(f"{self.name}_c")
        self._g.inits.append(numpy_helper.from_array(np.ascontiguousarray(np.asarray(value, dtype=dtype)), name))
        return name

    def emit(self, op_type: str, inputs: list[str], n_out: int = 1, **attrs):
        """One standard ONNX node; its output name (a list for n_out > 1)."""
        outs = [self._g.fresh(f"{self.name}_{op_type}") for _ in range(n_out)]
        self._g.nodes.append(helper.make_node(op_type, inputs, outs, name=outs[0], **attrs))
        return outs[0] if n_out == 1 else outs

    def cast(self, v: Val, dtype) -> Val:
        """v in `dtype` (exact: v.bound is below the new dtype's limit, checked)."""
        if v.dtype is dtype:
            return v
        if exact_dtype(v.bound) is np.float64 and dtype is np.float32:
            raise OnnxUnsupported(f"{self.name}: values up to {v.bound:.3g} are not exact in float32")
        return replace(v, name=self.emit("Cast", [v.name], to=_ONNX_DTYPE[dtype]), dtype=dtype)


@dataclass
class OnnxValues:
    """The compiled ONNX graph and its onnxruntime session; called like a ValuesPlan."""

    proto: onnx.ModelProto
    session: object
    input_names: list[str]
    output_names: list[str]
    in_dtypes: list
    in_shapes: list[tuple[int, ...]]  # per frame
    frame_values: int

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise TimingGraphError(f"no value given for graph input {missing[0]}")
        feeds = {}
        for n, d, shape in zip(self.input_names, self.in_dtypes, self.in_shapes):
            x = np.asarray(inputs[n], dtype=d)
            if x.shape[1:] != shape:
                if x[:1].size != int(np.prod(shape)):
                    raise TimingGraphError(f"graph input {n}: {x.shape[1:]} per frame, expected {shape}")
                x = x.reshape((len(x),) + shape)  # a flattened frame, as the nodes' execute accepts it
            feeds[n] = x
        outs = self.session.run(None, feeds)
        return {n: np.asarray(o, dtype=np.float64) for n, o in zip(self.output_names, outs)}


def _session(proto: onnx.ModelProto):
    """An onnxruntime session with its default intra-op threads (both cores here), as the float twin's."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def build_onnx(model: ModelWrapper) -> tuple[onnx.ModelProto, list, list[str]]:
    """(the generated model, the input dtypes, the output names); OnnxUnsupported names the first node
    without an exact ONNX form."""
    _check_domain(model)
    g = _Graph()
    gin = [i for i in model.graph.input if model.get_initializer(i.name) is None]
    inputs, in_dtypes = [], []
    for i in gin:
        dt = model.get_tensor_datatype(i.name)
        if not dt.is_integer():
            raise OnnxUnsupported(f"graph input {i.name} is {dt.name}, not an integer type")
        bound = float(max(abs(dt.min()), abs(dt.max())))
        dtype = exact_dtype(bound)
        shape = tuple(model.get_tensor_shape(i.name)[1:])
        g.values[i.name] = Val(i.name, dtype, bound, shape)
        inputs.append(helper.make_tensor_value_info(i.name, _ONNX_DTYPE[dtype], ["N", *shape]))
        in_dtypes.append(dtype)
    for node in node_order(model):
        op = getCustomOp(node)
        op.onnx_values(NodeContext(g, model, node))
    outputs = []
    for o in model.graph.output:
        ctx = NodeContext(g, model, _Output(o.name))
        v = ctx.input(0, nchw=False)
        if v.name in {i.name for i in gin}:  # a design of pass-through nodes: the output needs its own name
            v = replace(v, name=ctx.emit("Identity", [v.name]))
        outputs.append(helper.make_tensor_value_info(v.name, _ONNX_DTYPE[v.dtype], None))
    graph = helper.make_graph(g.nodes, "hil_values", inputs, outputs, g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="hil")
    proto.ir_version = 8
    return proto, in_dtypes, [o.name for o in model.graph.output]


@dataclass
class _Output:
    """A pseudo node reading a graph output (so NodeContext.input materializes and lays it out)."""

    tensor: str
    name: str = "output"

    @property
    def input(self):
        return [self.tensor]


def compile_onnx(model: ModelWrapper) -> OnnxValues:
    """The design's values as one onnxruntime session; OnnxUnsupported with the reason otherwise."""
    proto, in_dtypes, out_names = build_onnx(model)
    in_names = [i.name for i in proto.graph.input]
    in_shapes = [tuple(d.dim_value for d in i.type.tensor_type.shape.dim[1:]) for i in proto.graph.input]
    return OnnxValues(proto, _session(proto), in_names, out_names, in_dtypes, in_shapes, frame_values(model))
