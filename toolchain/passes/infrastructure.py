"""Stream infrastructure after folding (FINN insert_dwc.py, insert_fifo.py; docs/finn.md §1.4):

* InsertDWC: a DWC on every edge where the producer's out-stream width differs from the consumer's
  in-stream width;
* InsertFIFO: a FIFO on every edge between dataflow ops (FINN create_shallow_fifos=True), depth
  max(producer outFIFODepths[o], consumer inFIFODepths[i]) (2 by default); at the graph input and
  output only where the requested depth exceeds 2 (FINN).
"""

from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from hw.ops.base import DOMAIN, make_hw_node
from hw.ops.dwc import DWC
from hw.ops.fifo import FIFO
from toolchain.passes.common import new_tensor, node_index

MIN_DEPTH = 2


def _edges(model: ModelWrapper):
    """(producer, out index, consumer, in index, tensor) for every dataflow -> dataflow edge."""
    out = []
    for p in model.graph.node:
        if p.domain != DOMAIN:
            continue
        for o, t in enumerate(p.output):
            for c in model.find_consumers(t) or []:
                if c.domain == DOMAIN:
                    out.append((p, o, c, list(c.input).index(t), t))
    return out


def _splice(model: ModelWrapper, consumer, i: int, node_factory, shape, dt, hint: str) -> None:
    """Insert a node on the consumer's input i: producer -> new -> consumer."""
    src = consumer.input[i]
    mid = new_tensor(model, shape, dt, hint)
    node = node_factory(src, mid)
    consumer.input[i] = mid
    model.graph.node.insert(node_index(model, consumer), node)


class InsertDWC(Transformation):
    def apply(self, model: ModelWrapper):
        for p, o, c, i, t in _edges(model):
            pop, cop = getCustomOp(p), getCustomOp(c)
            if isinstance(pop, DWC) or isinstance(cop, DWC):
                continue
            w_out, w_in = pop.outstream_width(o), cop.instream_width(i)
            if w_out == w_in:
                continue
            shape = list(cop.normal_input_shape(i))
            dt = model.get_tensor_datatype(t)
            _splice(model, c, i, lambda a, b: make_hw_node(DWC.op_type(), [a], [b], "DWC", shape=shape,
                                                           inWidth=w_out, outWidth=w_in, dataType=dt.name),
                    model.get_tensor_shape(t), dt, "dwc")
            return model, True
        return model, False


def _depth(requested: list[int], index: int) -> int:
    return requested[index] if index < len(requested) else MIN_DEPTH


def _fifo(shape, dt, depth: int):
    return lambda a, b: make_hw_node(FIFO.op_type(), [a], [b], "FIFO", depth=max(depth, MIN_DEPTH),
                                     shape=list(shape), dataType=dt.name)


class InsertFIFO(Transformation):
    """One FIFO per edge, in a single pass (FIFOs are never followed by another FIFO)."""

    def apply(self, model: ModelWrapper):
        if any(n.domain == DOMAIN and isinstance(getCustomOp(n), FIFO) for n in model.graph.node):
            return model, False
        for p, o, c, i, t in _edges(model):
            pop, cop = getCustomOp(p), getCustomOp(c)
            depth = max(_depth(pop.get_nodeattr("outFIFODepths"), o), _depth(cop.get_nodeattr("inFIFODepths"), i))
            dt = model.get_tensor_datatype(t)
            _splice(model, c, i, _fifo(pop.folded_output_shape(o), dt, depth), model.get_tensor_shape(t), dt, "fifo")
        self._graph_io(model)
        return model, False

    def _graph_io(self, model: ModelWrapper) -> None:
        iname, oname = model.graph.input[0].name, model.graph.output[0].name
        for c in list(model.find_consumers(iname) or []):
            if c.domain != DOMAIN:
                continue
            i = list(c.input).index(iname)
            op = getCustomOp(c)
            depth = _depth(op.get_nodeattr("inFIFODepths"), i)
            if depth > MIN_DEPTH:
                dt = model.get_tensor_datatype(iname)
                _splice(model, c, i, _fifo(op.folded_input_shape(i), dt, depth), model.get_tensor_shape(iname), dt,
                        "fifo")
        p = model.find_producer(oname)
        if p is not None and p.domain == DOMAIN:
            o = list(p.output).index(oname)
            op = getCustomOp(p)
            depth = _depth(op.get_nodeattr("outFIFODepths"), o)
            if depth > MIN_DEPTH:
                dt = model.get_tensor_datatype(oname)
                mid = new_tensor(model, model.get_tensor_shape(oname), dt, "fifo")
                p.output[o] = mid
                model.graph.node.insert(node_index(model, p) + 1, _fifo(op.folded_output_shape(o), dt, depth)(mid, oname))


class RemoveInfrastructure(Transformation):
    """Drop every stream-infrastructure node (HWOp.INFRASTRUCTURE: DWC, FIFO) before re-folding:
    their widths and shapes follow the folding."""

    def apply(self, model: ModelWrapper):
        from toolchain.passes.common import bypass

        for node in list(model.graph.node):
            if node.domain == DOMAIN and getCustomOp(node).INFRASTRUCTURE:
                bypass(model, node, node.input[0])
                return model, True
        return model, False
