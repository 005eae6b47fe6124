"""Ours (`hw.ops` cycles() and resources(CostModel.FINN, device), what `hil estimate --cost finn`
prints) against FINN's own get_exp_cycles / node_res_estimation, node by node."""

from __future__ import annotations

from dataclasses import dataclass

from qonnx.custom_op.registry import getCustomOp

from hw.cost.resources import CostModel
from hw.devices import get_device
from tests.oracle.configs import Config
from tests.oracle.finn_flow import estimate_node, finn_maxpool_layers, finn_node_from_hw, has_counterpart

METRICS = ("cycles", "LUT", "BRAM_18K", "URAM", "DSP")


@dataclass(frozen=True)
class NodeResult:
    config: str
    node: str
    op_type: str
    part: str
    ours: dict
    finn: dict | None  # None: FINN has no counterpart or refused the node
    finn_error: str = ""

    @property
    def equal(self) -> bool:
        return self.finn is not None and self.ours == self.finn


def ours(op, part: str) -> dict:
    res = op.resources(CostModel.FINN, get_device(part))
    return {"cycles": int(op.cycles()), "LUT": res.LUT, "BRAM_18K": res.BRAM_18K, "URAM": res.URAM, "DSP": res.DSP}


def ours_per_finn_layer(op) -> list[dict]:
    """Our estimate of each FINN layer of an op that finn-plus builds as several (op.finn_layers())."""
    return [{"cycles": p.cycles, "LUT": p.resources[0], "BRAM_18K": p.resources[1], "URAM": p.resources[2], "DSP": 0}
            for p in op.finn_layers()]


def compare(config: Config) -> list[NodeResult]:
    """One NodeResult per FINN layer: a node of ours, or each FINN layer of an rtl-style max-pool (named
    node/FINN op type), against finn_maxpool_layers, FINN's own lowering of that max-pool."""
    out = []
    for node in config.model().graph.node:
        op = getCustomOp(node)
        mine = ours(op, config.part)
        if getattr(op, "finn_layers", lambda: None)():
            img, k = op.get_nodeattr("ImgDim")[0], op.get_nodeattr("PoolDim")[0]
            theirs = finn_maxpool_layers(img, k, op.get_nodeattr("NumChannels"), op.get_nodeattr("dataType"),
                                         config.part)
            mine_parts = ours_per_finn_layer(op)
            if len(theirs) != len(mine_parts):
                out.append(NodeResult(config.name, node.name, node.op_type, config.part, mine, None,
                                      f"FINN built {[t.op_type for t in theirs]}, we expect {len(mine_parts)} layers"))
                continue
            for part, layer in zip(mine_parts, theirs):
                out.append(NodeResult(config.name, f"{node.name}/{layer.op_type}", node.op_type, config.part, part,
                                      {m: getattr(layer, m) for m in METRICS}))
            continue
        if not has_counterpart(op):
            out.append(NodeResult(config.name, node.name, node.op_type, config.part, mine, None,
                                  "no finn-plus 1.6.1 counterpart"))
            continue
        try:
            layer = estimate_node(finn_node_from_hw(op), config.part)
        except Exception as err:  # noqa: BLE001 - FINN's refusal is reported, not hidden
            out.append(NodeResult(config.name, node.name, node.op_type, config.part, mine, None,
                                  f"{type(err).__name__}: {err}"))
            continue
        theirs = {m: getattr(layer, m) for m in METRICS}
        out.append(NodeResult(config.name, node.name, node.op_type, config.part, mine, theirs))
    return out


def valid(config: Config) -> bool:
    """Every node of the configuration passes our own verification (the generator keeps only these)."""
    return all(getCustomOp(n).verify_node() == [] for n in config.model().graph.node)
