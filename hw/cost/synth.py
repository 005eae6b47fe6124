"""The `synth` resource model: Yosys' own numbers for the RTL backend's design, read back.

    resources = synth_resources(report_json, model)   # node name -> Resources, plus the RTL-only part

`hil build --backend rtl` records the digest of the dataflow model it was built from
(design_digest); `hil synth` writes the per-instance cell counts (toolchain/backends/synth.py) into
the project's synth.json with that digest. This model reads the file back: a node's resources are
its instance's cells (an edge FIFO node: the FIFO of that edge). The top level's remaining edge FIFOs
(between nodes with no FIFO node) exist only in the RTL; they are returned apart so that the total
counts them. A report of another design (digest differs) is refused, not silently used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from hw.cost.resources import Resources

LUTRAM = "LUTRAM"


def design_digest(model) -> str:
    """Digest of a dataflow model (graph, attributes, initializers, FIFO depths)."""
    return hashlib.sha256(model.model.SerializeToString(deterministic=True)).hexdigest()[:32]


@dataclass(frozen=True)
class SynthResources:
    nodes: dict[str, Resources]
    rtl_only: Resources  # edge FIFOs of the top level that are no node of the model


def _resources(cells: dict) -> Resources:
    # LUT includes LUTs used as memory, as Vivado's "CLB LUTs" (toolchain/backends/synth.py Cells.resources)
    return Resources(LUT=float(cells["LUT"]) + float(cells[LUTRAM]), FF=float(cells["FF"]), DSP=float(cells["DSP"]),
                     BRAM_18K=float(cells["BRAM_18K"]))


def synth_resources(report: dict, model) -> SynthResources:
    """Per-node resources of `model` from a synth.json, or a ValueError that says what to rerun."""
    if report.get("design_digest") != design_digest(model):
        raise ValueError("the synthesis report is of another design (its design digest differs): rebuild the RTL "
                         "project from this model (`hil build --backend rtl`) and run `hil synth` on it")
    try:
        by_name = {i["name"]: _resources(i) for i in report["instances"]}
    except (KeyError, TypeError, ValueError):
        raise ValueError("the synthesis report is malformed: rerun `hil synth`") from None
    missing = [n.name for n in model.graph.node if n.name not in by_name]
    if missing:
        raise ValueError(f"nodes {missing[:3]} are not in the synthesis report: rerun `hil synth`")
    names = {n.name for n in model.graph.node}
    rtl_only = Resources()
    for name, res in by_name.items():
        if name not in names:
            rtl_only = rtl_only + res
    return SynthResources({n: by_name[n] for n in names}, rtl_only)
