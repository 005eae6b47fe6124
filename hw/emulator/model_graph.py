"""dataflow.onnx (a qonnx ModelWrapper of hw.ops nodes) -> TimingGraph, and FIFO depths back into it.

* Every hw.ops node except FIFO becomes a timing node with its op's `token_schedule()`.
* A FIFO node (op type FIFO or StreamingFIFO) is not a node: it is the capacity (`depth`) of the edge
  it sits on, and that edge takes the FIFO node's name. Two FIFO nodes in a row are refused.
* An edge without a FIFO node is named "<producer>-><consumer>" (a port suffix ":p" only when two
  edges join the same pair) and has capacity max(producer outFIFODepths[port], consumer
  inFIFODepths[port]) -- FINN's InsertFIFO rule; both default to 2 (graph.DEFAULT_EDGE_CAPACITY).
* Graph inputs feed the DMA source (edge "<tensor>-><consumer>", word width = the consumer's input
  stream width); graph outputs drain into the sink ("<producer>-><tensor>").
* Node inputs held as initializers (weights, thresholds, an external-mode weight stream) are not
  streams: their rows are dropped from the schedule (an external weight stream is assumed never to
  stall the node).
"""

from __future__ import annotations

from typing import Optional

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hw.emulator.graph import DEFAULT_EDGE_CAPACITY, TimingEdge, TimingGraph, TimingGraphError, TimingNode
from hw.ops import op_class
from hw.ops.fifo import FIFO, MAX_DEPTH
from hw.schedule import TokenSchedule

DOMAIN = "hw.ops"


def _is_fifo(node) -> bool:
    """A FIFO node is an edge's capacity, not a timing node (the class fact: hw.ops.fifo.FIFO)."""
    return node.domain == DOMAIN and op_class(node.op_type) is FIFO


def _depth_attr(op, attr: str, port: int) -> int:
    try:
        values = list(op.get_nodeattr(attr))
    except Exception:  # noqa: BLE001 - an op without FINN's FIFO-depth attributes
        return DEFAULT_EDGE_CAPACITY
    return int(values[port]) if port < len(values) else DEFAULT_EDGE_CAPACITY


def _check_domain(model: ModelWrapper) -> None:
    for node in model.graph.node:
        if node.domain != DOMAIN:
            raise TimingGraphError(f"node {node.name or node.op_type} ({node.op_type}) is not a hw.ops dataflow "
                                   "node; the emulator runs dataflow graphs (hil lower) only")


def _stream_rows(model: ModelWrapper, node, schedule: TokenSchedule) -> tuple[TokenSchedule, list[int]]:
    """Drop schedule rows of initializer inputs; returns the schedule and the kept node-input indices."""
    keep = [p for p in range(schedule.reads.shape[0])
            if p < len(node.input) and model.get_initializer(node.input[p]) is None]
    if len(keep) == schedule.reads.shape[0]:
        return schedule, keep
    s = schedule
    return TokenSchedule(reads=s.reads[keep], writes=s.writes, repeats=s.repeats, ii=s.ii, latency=s.latency,
                         in_flight=s.in_flight), keep


def build_timing_graph(model: ModelWrapper, fifo_depths: Optional[dict[str, int]] = None) -> TimingGraph:
    """The engine's graph of a dataflow model; `fifo_depths` (edge name -> depth) overrides capacities."""
    _check_domain(model)
    g = model.graph
    producer = {t: (n, o) for n in g.node for o, t in enumerate(n.output)}
    consumers: dict[str, list] = {}
    for n in g.node:
        for p, t in enumerate(n.input):
            consumers.setdefault(t, []).append((n, p))
    graph_outputs = {o.name for o in g.output}
    nodes, ports = [], {}
    for n in g.node:
        if _is_fifo(n):
            continue
        op = getCustomOp(n)
        sched, keep = _stream_rows(model, n, op.token_schedule())
        nodes.append(TimingNode(n.name, sched))
        ports[n.name] = (op, keep)
    edges: list[TimingEdge] = []

    def sole_consumer(tensor: str, via: str):
        users = consumers.get(tensor, [])
        if len(users) + (tensor in graph_outputs) > 1:
            raise TimingGraphError(f"{via}: tensor {tensor} feeds {len(users) + (tensor in graph_outputs)} "
                                   "consumers; fan out through a DuplicateStreams node")
        return users[0] if users else None

    # walk from every stream output (and graph input) to its consumer, through at most one FIFO node
    starts = [(None, 0, i.name) for i in g.input if model.get_initializer(i.name) is None]
    starts += [(n, o, t) for n in g.node if not _is_fifo(n) for o, t in enumerate(n.output)]
    for src, o, tensor in starts:
        via = src.name if src is not None else tensor
        fifo, user = None, sole_consumer(tensor, via)
        if user is not None and _is_fifo(user[0]):
            fifo = user[0]
            tensor = fifo.output[0]
            user = sole_consumer(tensor, fifo.name)
            if user is not None and _is_fifo(user[0]):
                raise TimingGraphError(f"{fifo.name} feeds {user[0].name} directly: merge the two FIFOs into one")
        if user is None and tensor not in graph_outputs:
            continue  # dangling output
        dst, p = user if user is not None else (None, 0)
        if dst is not None:
            op, keep = ports[dst.name]
            if p not in keep:
                continue  # an initializer-like input
            dst_port = keep.index(p)
        else:
            dst_port = 0
        if src is None and dst is None:
            raise TimingGraphError(f"graph input {tensor} is a graph output: nothing to emulate")
        if fifo is not None:
            name, cap = fifo.name, int(getCustomOp(fifo).get_nodeattr("depth"))
            if cap > MAX_DEPTH:
                raise TimingGraphError(f"FIFO {name}: depth {cap} exceeds the largest FIFO depth {MAX_DEPTH}")
        else:
            caps = []
            if src is not None:
                caps.append(_depth_attr(ports[src.name][0], "outFIFODepths", o))
            if dst is not None:
                caps.append(_depth_attr(ports[dst.name][0], "inFIFODepths", p))
            cap = max(caps)
            name = f"{src.name if src is not None else tensor}->{dst.name if dst is not None else tensor}"
        width = ports[dst.name][0].instream_width(p) if dst is not None else ports[src.name][0].outstream_width(o)
        edges.append(TimingEdge(name, src.name if src is not None else None, o, dst.name if dst is not None else None,
                                dst_port, cap, int(width)))
    names = [e.name for e in edges]
    edges = [TimingEdge(f"{e.name}:{e.dst_port}", *_fields(e)[1:]) if names.count(e.name) > 1 else e for e in edges]
    graph = TimingGraph(tuple(nodes), tuple(edges))
    if fifo_depths:
        bad = {k: v for k, v in fifo_depths.items() if int(v) < 1}
        if bad:
            k = sorted(bad)[0]
            raise TimingGraphError(f"FIFO {k}: depth {bad[k]} is < 1; use a depth >= 1")
        huge = sorted(k for k, v in fifo_depths.items() if int(v) > MAX_DEPTH)
        if huge:
            raise TimingGraphError(f"FIFO {huge[0]}: depth {fifo_depths[huge[0]]} exceeds the largest FIFO depth "
                                   f"{MAX_DEPTH}")
        graph = graph.with_capacities({k: int(v) for k, v in fifo_depths.items()})
    return graph


def _fields(e: TimingEdge) -> tuple:
    return (e.name, e.src, e.src_port, e.dst, e.dst_port, e.capacity, e.width_bits)


def apply_fifo_depths(model: ModelWrapper, graph: TimingGraph, depths: dict[str, int]) -> ModelWrapper:
    """Write chosen depths into the model: a FIFO node's `depth`, else FINN's node attributes
    outFIFODepths[port] (producer) and inFIFODepths[port] (consumer), so that InsertFIFO (or
    build_timing_graph) realizes exactly that capacity. Returns the same (mutated) model."""
    by_name = {n.name: n for n in model.graph.node}
    edges = {e.name: e for e in graph.edges}
    for name, depth in depths.items():
        if name in by_name and _is_fifo(by_name[name]):
            getCustomOp(by_name[name]).set_nodeattr("depth", int(depth))
            continue
        e = edges[name]
        for node_name, attr, port in ((e.src, "outFIFODepths", e.src_port), (e.dst, "inFIFODepths", None)):
            if node_name is None:
                continue
            node = by_name[node_name]
            if port is None:  # node-input index of the consumer's stream port
                port = _stream_input_index(model, node, e.dst_port)
            op = getCustomOp(node)
            values = list(op.get_nodeattr(attr))
            values += [DEFAULT_EDGE_CAPACITY] * (port + 1 - len(values))
            values[port] = int(depth)
            op.set_nodeattr(attr, values)
    return model


def _stream_input_index(model: ModelWrapper, node, stream_port: int) -> int:
    streams = [p for p, t in enumerate(node.input) if model.get_initializer(t) is None]
    return streams[stream_port]
