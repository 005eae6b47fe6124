"""Hand-made QONNX graphs for the lowering tests (QGraph), and tests of the passes' helpers."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model

from toolchain.passes.common import dtype_for_range, is_po2

QDOMAIN = "qonnx.custom_op.general"


class QGraph:
    """A QONNX graph built node by node, as Brevitas export + qonnx cleanup would give it."""

    def __init__(self, in_shape):
        self.in_shape = list(in_shape)
        self.nodes, self.inits, self.k = [], {}, 0

    def _name(self, hint: str) -> str:
        self.k += 1
        return f"{hint}_{self.k}"

    def init(self, value, hint: str = "c") -> str:
        """A constant: float32, or int64 if given an integer array (e.g. a Reshape shape)."""
        name = self._name(hint)
        value = np.asarray(value)
        self.inits[name] = value.astype(np.int64 if value.dtype.kind in "iu" else np.float32)
        return name

    def node(self, op: str, inputs: list, domain: str = "", **attrs) -> str:
        out = self._name(f"{op}_out")
        self.nodes.append(helper.make_node(op, inputs, [out], name=self._name(op), domain=domain, **attrs))
        return out

    def quant(self, x: str, scale, bits: int, signed: bool = True, narrow: bool = False, rounding: str = "ROUND"):
        return self.node("Quant", [x, self.init(scale), self.init(0.0), self.init(float(bits))], QDOMAIN,
                         signed=int(signed), narrow=int(narrow), rounding_mode=rounding)

    def bipolar(self, x: str, scale: float = 1.0) -> str:
        return self.node("BipolarQuant", [x, self.init(scale)], QDOMAIN)

    def weight(self, w, scale=None, bits: int = 4, narrow: bool = True) -> str:
        """A weight initializer behind Quant (narrow INT) or, with bits=1, BipolarQuant."""
        raw = self.init(w, "W")
        return self.bipolar(raw) if bits == 1 else self.quant(raw, scale, bits, True, narrow)

    def gemm(self, x: str, w_name: str, bias: str | None = None) -> str:
        return self.node("Gemm", [x, w_name] + ([bias] if bias else []), transB=1)

    def batchnorm(self, x: str, gamma, beta, mean, var) -> str:
        return self.node("BatchNormalization", [x, self.init(gamma), self.init(beta), self.init(mean),
                                                self.init(var)], epsilon=1e-5)

    def build(self, out: str) -> ModelWrapper:
        self.nodes[-1].output[0] = "global_out"
        for n in self.nodes:
            n.input[:] = ["global_out" if t == out else t for t in n.input]
        graph = helper.make_graph(
            self.nodes, "qgraph", [helper.make_tensor_value_info("global_in", TensorProto.FLOAT, self.in_shape)],
            [helper.make_tensor_value_info("global_out", TensorProto.FLOAT, None)],
            initializer=[numpy_helper.from_array(v, k) for k, v in self.inits.items()])
        model = qonnx_make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QDOMAIN, 1)])
        return ModelWrapper(model).transform(InferShapes())


def int_inputs(model: ModelWrapper, lo: int, hi: int, n: int, scale: float, seed: int = 0) -> np.ndarray:
    """Random inputs on an integer grid [lo, hi] times scale, shaped as the model's input."""
    shape = model.get_tensor_shape("global_in")[1:]
    rng = np.random.default_rng(seed)
    return (rng.integers(lo, hi + 1, size=(n, *shape)) * scale).astype(np.float32)


def test_dtype_for_range_is_minimal():
    assert dtype_for_range(0, 1) == DataType["BINARY"]
    assert dtype_for_range(0, 15) == DataType["UINT4"]
    assert dtype_for_range(0, 16) == DataType["UINT5"]
    assert dtype_for_range(-8, 7) == DataType["INT4"]
    assert dtype_for_range(-9, 7) == DataType["INT5"]
    assert dtype_for_range(-8, 8) == DataType["INT5"]
    assert dtype_for_range(-1, 0) == DataType["INT2"]


@pytest.mark.parametrize("values, expected", [([0.25, 2.0, 1.0], True), ([0.1], False), ([-0.5], True),
                                              ([0.0], False), ([3.0], False)])
def test_is_po2(values, expected):
    assert is_po2(np.array(values)) is expected
