"""Ours (`hw.ops` cycles() and resources(CostModel.FINN, device), what `hil estimate --cost finn`
prints) against FINN's own get_exp_cycles / node_res_estimation, node by node."""

from __future__ import annotations

from dataclasses import dataclass

from qonnx.custom_op.registry import getCustomOp

from hw.cost.resources import CostModel
from hw.devices import get_device
from tests.oracle.configs import Config
from tests.oracle.finn_flow import FINN_NODE, estimate_node, finn_node_from_hw

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


def compare(config: Config) -> list[NodeResult]:
    out = []
    for node in config.model().graph.node:
        op = getCustomOp(node)
        mine = ours(op, config.part)
        if node.op_type not in FINN_NODE:
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
