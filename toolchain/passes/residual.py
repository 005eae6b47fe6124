"""Residual branches: a fork and an elementwise join of two streams (FINN InferAddStreamsLayer,
InferDuplicateStreamsLayer; docs/finn.md §1.4).

* SplitForkedMul: a scale Mul read by several nodes becomes one Mul per reader, so each moves on
  independently;
* MoveScalarMulPastAdd: Add(a·s, b·s) -> Add(a, b)·s for integer a, b and the same scale s (exact:
  the sum stays an integer below 2^24); different scales on the two inputs are not supported;
* AddToAddStreams: Add of two integer streams -> AddStreams;
* InsertDuplicateStreams: a stream read by several dataflow ops -> DuplicateStreams.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hw.ops.base import DOMAIN, make_hw_node
from toolchain.passes.common import (F32_EXACT, add_initializer, channel_ranges, data_and_const, dtype_for_range,
                                     initializer, is_float_dtype, new_tensor, node_error, node_index, single_consumer)


def _integer_operand(model: ModelWrapper, tensor: str):
    """(integer tensor, scale, the scale Mul or None): `tensor` is Mul(int, scalar) read only here,
    or an integer tensor itself (scale 1); (None, None, None) otherwise."""
    mul = model.find_producer(tensor)
    if mul is not None and mul.op_type == "Mul" and single_consumer(model, tensor) is not None:
        x, c = data_and_const(model, mul)
        if x is not None and c.size == 1 and not is_float_dtype(model.get_tensor_datatype(x)):
            return x, float(c.ravel()[0]), mul
    if channel_ranges(model, tensor) is not None:
        return tensor, 1.0, None
    return None, None, None


class SplitForkedMul(Transformation):
    def apply(self, model: ModelWrapper):
        outputs = {o.name for o in model.graph.output}
        for mul in list(model.graph.node):
            if mul.op_type != "Mul" or mul.output[0] in outputs:
                continue
            x, c = data_and_const(model, mul)
            readers = model.find_consumers(mul.output[0]) or []
            if x is None or c.size != 1 or len(readers) < 2:
                continue
            for reader in readers[1:]:
                out = new_tensor(model, model.get_tensor_shape(mul.output[0]), hint=f"{mul.name}_copy")
                copy = helper.make_node("Mul", [x, add_initializer(model, mul.name, c)], [out], name=f"{mul.name}_copy")
                model.graph.node.insert(node_index(model, mul) + 1, copy)
                reader.input[list(reader.input).index(mul.output[0])] = out
            return model, True
        return model, False


class MoveScalarMulPastAdd(Transformation):
    """Also types the sum of two integer tensors (scale 1)."""

    def apply(self, model: ModelWrapper):
        for add in list(model.graph.node):
            if add.op_type != "Add" or any(initializer(model, t) is not None for t in add.input):
                continue
            (a, sa, ma), (b, sb, mb) = (_integer_operand(model, t) for t in add.input)
            if a is None or b is None:
                continue
            if sa != sb:
                raise node_error(add, f"adds streams on different scales ({sa} and {sb}); a residual join needs "
                                 "both inputs quantized with the same scale")
            ra, rb = channel_ranges(model, a), channel_ranges(model, b)
            lo, hi = int(ra[0].min() + rb[0].min()), int(ra[1].max() + rb[1].max())
            if max(-lo, hi) >= F32_EXACT:
                raise node_error(add, "the sum can exceed 2^24, beyond float32's exact integers")
            dt = dtype_for_range(lo, hi)
            if ma is None and mb is None:
                if model.get_tensor_datatype(add.output[0]) == dt:
                    continue
                model.set_tensor_datatype(add.output[0], dt)
                return model, True
            total = new_tensor(model, model.get_tensor_shape(add.output[0]), dt, f"{add.name}_int")
            out = add.output[0]
            add.input[:] = [a, b]
            add.output[0] = total
            for m in (ma, mb):
                if m is not None:
                    model.graph.node.remove(m)
            scale = helper.make_node("Mul", [total, add_initializer(model, add.name, np.float32(sa))], [out],
                                     name=f"{add.name}_scale")
            model.graph.node.insert(node_index(model, add) + 1, scale)
            return model, True
        return model, False


class AddToAddStreams(Transformation):
    def apply(self, model: ModelWrapper):
        for add in list(model.graph.node):
            if add.op_type != "Add" or any(initializer(model, t) is not None for t in add.input):
                continue
            dts = [model.get_tensor_datatype(t) for t in add.input]
            odt = model.get_tensor_datatype(add.output[0])
            if any(is_float_dtype(d) for d in dts + [odt]):
                continue
            shape = model.get_tensor_shape(add.output[0])
            node = make_hw_node("AddStreams", list(add.input), list(add.output), add.name, NumChannels=shape[-1],
                                PE=1, inputDataTypes=[d.name for d in dts], outputDataType=odt.name,
                                numInputVectors=list(shape[:-1]))
            idx = node_index(model, add)
            model.graph.node.remove(add)
            model.graph.node.insert(idx, node)
            return model, True
        return model, False


class InsertDuplicateStreams(Transformation):
    def apply(self, model: ModelWrapper):
        tensors = [model.graph.input[0].name] + [t for n in model.graph.node if n.domain == DOMAIN for t in n.output]
        for t in tensors:
            readers = [r for r in model.find_consumers(t) or [] if r.domain == DOMAIN]
            if len(readers) < 2 or any(r.op_type == "DuplicateStreams" for r in readers):
                continue
            shape, dt = model.get_tensor_shape(t), model.get_tensor_datatype(t)
            outs = [new_tensor(model, shape, dt, "dup") for _ in readers]
            dup = make_hw_node("DuplicateStreams", [t], outs, "DuplicateStreams", NumChannels=shape[-1], PE=1,
                               NumOutputStreams=len(readers), inputDataType=dt.name, numInputVectors=list(shape[:-1]),
                               outFIFODepths=[2] * len(readers))
            for r, o in zip(readers, outs):
                r.input[list(r.input).index(t)] = o
            producer = model.find_producer(t)
            model.graph.node.insert(0 if producer is None else node_index(model, producer) + 1, dup)
            return model, True
        return model, False


class SizeBypassFIFOs(Transformation):
    """Deepen the FIFOs behind each fork (DuplicateStreams) until the design runs: a residual bypass
    must hold what the fork writes while the long branch fills its line buffers, or the design
    deadlocks (hw/emulator/bypass.py finds the depths by simulation, as FINN's
    InsertAndSetFIFODepths does by RTL simulation). Runs after InsertFIFO and NameNodes; a folding
    config's FIFO_i depths are applied afterwards and win (so a too-shallow bypass can be asked for)."""

    def apply(self, model: ModelWrapper):
        if not any(n.domain == DOMAIN and len(n.output) > 1 for n in model.graph.node):
            return model, False  # no fork: nothing to size (and no timing graph to build)
        from hw.emulator.bypass import bypass_depths
        from hw.emulator.model_graph import apply_fifo_depths, build_timing_graph

        graph = build_timing_graph(model)
        depths = bypass_depths(graph)
        if depths:
            apply_fifo_depths(model, graph, depths)
        return model, False
