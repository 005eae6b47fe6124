"""Helpers shared by the lowering passes: constants, node surgery, integer ranges, errors naming nodes.

Every pass keeps the graph executable and equivalent to the source QONNX (qonnx execute_onnx) after
each rewrite; tensors that hold integers carry a qonnx DataType annotation.
"""

from __future__ import annotations

import json
from typing import Optional

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hw.ops.base import accumulator_range, dtype_for_range  # noqa: F401 - dtype_for_range re-exported for the passes
from toolchain.errors import UserError

QONNX_DOMAIN = "qonnx.custom_op.general"
QUANTIZERS = ("Quant", "BipolarQuant")
F32_EXACT = 2**24  # integers of smaller magnitude are exact in float32 (the source's arithmetic)


def node_error(node, msg: str) -> UserError:
    """A one-line user error naming the node, its op type and, where the exporter kept it, the user's
    PyTorch module it came from (toolchain.contract.user_module)."""
    from toolchain.contract import user_module

    module = user_module(node)
    where = f", module {module}" if module else ""
    return UserError(f"{node.name or '<unnamed>'} ({node.op_type}{where}): {msg}")


def is_float_dtype(dt: Optional[DataType]) -> bool:
    return dt is None or not dt.is_integer()


def initializer(model: ModelWrapper, name: str) -> Optional[np.ndarray]:
    return model.get_initializer(name) if name else None


def data_and_const(model: ModelWrapper, node) -> tuple[Optional[str], Optional[np.ndarray]]:
    """For a binary elementwise node: (the non-constant input, the constant) or (None, None)."""
    a, b = node.input[0], node.input[1]
    ca, cb = initializer(model, a), initializer(model, b)
    if cb is not None and ca is None:
        return a, cb
    if ca is not None and cb is None and node.op_type in ("Mul", "Add"):
        return b, ca
    return None, None


def is_po2(values: np.ndarray) -> bool:
    """All magnitudes are (non-zero) powers of two: products with them are exact in float."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    if v.size == 0 or (v == 0).any() or not np.isfinite(v).all():
        return False
    mant, _ = np.frexp(v)
    return bool((mant == 0.5).all())


def consumers(model: ModelWrapper, tensor: str) -> list:
    return model.find_consumers(tensor) or []


def single_consumer(model: ModelWrapper, tensor: str):
    """The only consumer of `tensor`, or None (no consumer, several, or a graph output)."""
    found = consumers(model, tensor)
    if len(found) != 1 or tensor in [o.name for o in model.graph.output]:
        return None
    return found[0]


def node_index(model: ModelWrapper, node) -> int:
    for i, n in enumerate(model.graph.node):
        if n is node:
            return i
    raise ValueError(f"node {node.name} is not in the graph")


def insert_nodes(model: ModelWrapper, index: int, nodes: list) -> None:
    for k, n in enumerate(nodes):
        model.graph.node.insert(index + k, n)


def new_tensor(model: ModelWrapper, shape, dtype: Optional[DataType] = None, hint: str = "t") -> str:
    """A fresh tensor with a value_info of `shape` and an optional DataType annotation."""
    name = model.make_new_valueinfo_name()
    name = f"{hint}_{name}"
    model.graph.value_info.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
    if dtype is not None:
        model.set_tensor_datatype(name, dtype)
    return name


def add_initializer(model: ModelWrapper, hint: str, value: np.ndarray, dtype: Optional[DataType] = None) -> str:
    name = f"{hint}_{model.make_new_valueinfo_name()}"
    model.set_initializer(name, np.asarray(value, dtype=np.float32))
    if dtype is not None:
        model.set_tensor_datatype(name, dtype)
    return name


def rename_tensor_uses(model: ModelWrapper, old: str, new: str) -> None:
    """Point every consumer of `old` at `new` (graph outputs are renamed by the caller)."""
    for n in model.graph.node:
        for i, t in enumerate(n.input):
            if t == old:
                n.input[i] = new


def bypass(model: ModelWrapper, node, data_input: str) -> None:
    """Remove a pass-through node: its output's consumers read `data_input` instead. If its output is
    a graph output, the producer of `data_input` writes the graph output directly."""
    out = node.output[0]
    outputs = [o.name for o in model.graph.output]
    if out in outputs:
        producer = model.find_producer(data_input)
        if producer is None or consumers(model, data_input) != [node]:
            raise node_error(node, "cannot remove a node between the graph input and output")
        producer.output[list(producer.output).index(data_input)] = out
        model.set_tensor_datatype(out, model.get_tensor_datatype(data_input))
    else:
        rename_tensor_uses(model, out, data_input)
    model.graph.node.remove(node)


def quant_dtype(signed: bool, narrow: bool, bits: int) -> DataType:
    """The qonnx DataType of a Quant's integer grid (FINN's convention: narrow ranges keep INTb)."""
    if bits == 1 and signed:
        return DataType["BIPOLAR"]
    return DataType[f"{'INT' if signed else 'UINT'}{bits}"]


# ---- graph metadata ------------------------------------------------------------------------------

def get_io(model: ModelWrapper) -> dict:
    raw = model.get_metadata_prop("hil_io")
    return json.loads(raw) if raw else {}


def update_io(model: ModelWrapper, **entries) -> None:
    """Merge entries into the "hil_io" metadata (JSON)."""
    io = get_io(model)
    io.update(entries)
    model.set_metadata_prop("hil_io", json.dumps(io, sort_keys=True))


# ---- integer ranges ------------------------------------------------------------------------------

def linear_weight_matrix(model: ModelWrapper, node) -> Optional[np.ndarray]:
    """The (fan-in, out-channels) integer weight matrix of a MatMul or Conv with an integer
    initializer as weight, else None. Conv weights are (OC, IC, kh, kw)."""
    if node is None or node.op_type not in ("MatMul", "Conv") or len(node.input) < 2:
        return None
    w = initializer(model, node.input[1])
    if w is None or is_float_dtype(model.get_tensor_datatype(node.input[1])):
        return None
    if node.op_type == "Conv":
        return w.reshape(w.shape[0], -1).T
    return w if w.ndim == 2 else None


def matvec_channel_range(w: np.ndarray, idt: DataType) -> tuple[np.ndarray, np.ndarray]:
    """Per output column (lo, hi) of x @ w for x of DataType idt (qonnx
    calculate_matvec_accumulator_range, before its min/max over columns)."""
    return accumulator_range(w, float(idt.min()), float(idt.max()))


def channel_ranges(model: ModelWrapper, tensor: str) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """Per-channel (lo, hi) integer bounds of a tensor's values, or None when the tensor is not
    known to hold integers. Accumulators get the exact per-column range of
    qonnx calculate_matvec_accumulator_range, and must stay exact in the source's float32."""
    producer = model.find_producer(tensor)
    w = linear_weight_matrix(model, producer)
    if w is not None:
        idt = model.get_tensor_datatype(producer.input[0])
        if is_float_dtype(idt):
            return None
        lo, hi = matvec_channel_range(w, idt)
        bound = (np.abs(w) * max(abs(float(idt.min())), abs(float(idt.max())))).sum(axis=0).max()
        if bound >= F32_EXACT:
            raise node_error(producer, f"the accumulator can reach {int(bound)} >= 2^24, beyond float32's exact "
                             "integers, so the source model itself is not exact; use fewer bits or a smaller fan-in")
        return lo.astype(np.int64), hi.astype(np.int64)
    dt = model.get_tensor_datatype(tensor)
    if is_float_dtype(dt):
        return None
    channels = (model.get_tensor_shape(tensor) or [1, 1])
    c = channels[1] if len(channels) > 1 else 1
    return np.full(c, int(dt.min()), dtype=np.int64), np.full(c, int(dt.max()), dtype=np.int64)


class FixedPoint(Transformation):
    """Apply `passes` in order, restarting after the first that changes the graph, so that
    ModelWrapper.transform runs them all until none applies."""

    def __init__(self, passes: list):
        super().__init__()
        self.passes = passes

    def apply(self, model: ModelWrapper):
        for t in self.passes:
            model, changed = t.apply(model)
            if changed:
                return model, True
        return model, False
