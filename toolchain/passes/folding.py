"""Folding: FINN-format folding configs (read, validate, apply, write) and FINN's SetFolding.

Config format (FINN ApplyConfig / extract_model_config_to_json, docs/finn.md §1.6):

    {"Defaults": {"ram_style": ["distributed", ["MVAU_hls"]]},
     "MVAU_hls_0": {"PE": 16, "SIMD": 49, "ram_style": "block", "mem_mode": "internal_decoupled"}}

Keys are our node names (MVAU_3, SWG_0, MaxPool_0, FIFO_2) or FINN's: finn-plus's names after
specialization (MVAU_hls_3, ConvolutionInputGenerator_rtl_1, Pool_hls_0: what our FINN handoff's
folding_config.json and finn-plus's own auto_folding_config.json hold), resolved on the graph by
FINN's naming rule (toolchain/passes/finn_names.py), or FINN v0.10's (MatrixVectorActivation_0,
StreamingMaxPool_Batch_0), one FINN node per op of ours. Unlike FINN, every entry must be used:
an unknown node or attribute, an illegal value or a folding FINN's constraints forbid is a
UserError naming node, attribute, value and the legal values.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from hw.cost.resources import CostModel, Resources
from hw.ops import custom_op
from hw.ops.base import DOMAIN
from toolchain.errors import UserError
from toolchain.passes.finn_names import node_entries, our_node_name, our_op_type  # noqa: F401  (re-exported)

# attributes FINN writes to auto_folding_config.json / final_hw_config.json (build_dataflow_steps.py)
HW_ATTRS = ("PE", "SIMD", "parallel_window", "ram_style", "resType", "mem_mode", "runtime_writeable_weights",
            "depth", "impl_style", "inFIFODepths", "outFIFODepths")


@dataclass
class FoldingConfig:
    """node key (ours or FINN's, resolved on the graph by ApplyFolding) -> {attr: value}; defaults as
    (attr, value, op classes or None for all)."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    defaults: list[tuple[str, Any, Optional[frozenset[type]]]] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: Any, source: str = "folding config") -> "FoldingConfig":
        if not isinstance(raw, dict):
            raise UserError(f"{source}: expected a JSON object of node name -> attributes")
        cfg = cls()
        for key, attrs in raw.items():
            if key == "Defaults":
                cfg.defaults = _parse_defaults(attrs, source)
                continue
            if not isinstance(attrs, dict):
                raise UserError(f"{source}: entry '{key}' must be an object of attribute -> value")
            cfg.nodes[str(key)] = dict(attrs)
        return cfg

    def compute_only(self) -> "FoldingConfig":
        """Without the FIFO_i / DWC_i entries (ours or FINN's), which exist only after their insertion."""
        keep = {k: v for k, v in self.nodes.items() if not our_node_name(k).startswith(("FIFO_", "DWC_"))}
        return FoldingConfig(nodes=keep, defaults=self.defaults)

    @classmethod
    def load(cls, path: str | Path) -> "FoldingConfig":
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError(f"folding config not found: {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"{path}: not valid JSON ({err})") from None
        return cls.parse(raw, str(path))


def _parse_defaults(raw: Any, source: str):
    if not isinstance(raw, dict):
        raise UserError(f"{source}: 'Defaults' must be an object attr -> [value, [op types] | \"all\"]")
    out = []
    for attr, spec in raw.items():
        if not isinstance(spec, list) or len(spec) % 2 or not spec:
            raise UserError(f"{source}: Defaults.{attr} must be [value, [op types] | \"all\", ...]")
        for value, ops in zip(spec[::2], spec[1::2]):
            if ops == "all":
                out.append((attr, value, None))
                continue
            if not isinstance(ops, list):
                raise UserError(f"{source}: Defaults.{attr}: op types must be a list or \"all\", got {ops!r}")
            mapped = set()
            for op in ops:
                ours = our_op_type(str(op))
                if ours is None:
                    raise UserError(f"{source}: Defaults.{attr}: unknown op type '{op}'; "
                                    f"known: {', '.join(sorted(custom_op))}")
                mapped.add(custom_op[ours])
            out.append((attr, value, frozenset(mapped)))
    return out


def hw_nodes(model: ModelWrapper):
    return [n for n in model.graph.node if n.domain == DOMAIN]


def _check_value(node, op, attr: str, value: Any) -> None:
    types = op.get_nodeattr_types()
    if attr not in types:
        raise UserError(f"{node.name}: {node.op_type} has no attribute '{attr}'; "
                        f"configurable: {', '.join(a for a in HW_ATTRS if a in types)}")
    kind, allowed = types[attr][0], (types[attr][3] if len(types[attr]) > 3 else None)
    def int64(v) -> bool:  # ONNX int attributes are int64: PE = 10^400 is refused, not an OverflowError
        return isinstance(v, int) and not isinstance(v, bool) and -2**63 <= v < 2**63

    ok = {"i": int64,
          "s": lambda v: isinstance(v, str),
          "ints": lambda v: isinstance(v, list) and all(int64(x) for x in v),
          "f": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}.get(
              kind, lambda v: True)
    if not ok(value):
        want = {"i": "an integer", "s": "a string", "ints": "a list of integers", "f": "a number"}.get(kind, kind)
        raise UserError(f"{node.name}: {attr}={value!r} must be {want}")
    if allowed is not None and value not in allowed:
        raise UserError(f"{node.name}: {attr}={value!r} is not allowed; legal values: {sorted(allowed)}")


def _check_node(node, op) -> None:
    legal = op.legal_folding()
    for attr, values in legal.items():
        if op.get_nodeattr(attr) not in values:
            raise UserError(f"{node.name}: {attr}={op.get_nodeattr(attr)} is not a legal folding; legal values: "
                            f"{values} (divisors of {op.fold_targets()[attr]} within the 8191-bit stream limit)")
    problems = op.verify_node()
    if problems:
        raise UserError(f"{node.name}: {problems[0]}")


class ApplyFolding(Transformation):
    """Apply a FoldingConfig (or a FINN folding JSON dict / path), validating every entry."""

    def __init__(self, config: FoldingConfig | dict | str | Path, part: Optional[str] = None, notes: bool = True):
        super().__init__()
        self.part = part  # FINN's variant choices (MVAU_rtl or _hls) depend on it: FINN names of both resolve
        self.notes = notes  # say where a FINN name's variant is not the one the `finn` cost follows
        if isinstance(config, (str, Path)):
            config = FoldingConfig.load(config)
        elif isinstance(config, dict):
            config = FoldingConfig.parse(config)
        self.config = config

    def apply(self, model: ModelWrapper):
        nodes = {n.name: n for n in hw_nodes(model)}
        entries = node_entries(self.config.nodes, model, self.part, self.notes)  # FINN names resolved, FINN layers merged
        for name, node in nodes.items():
            op = getCustomOp(node)
            for attr, value, ops in self.config.defaults:
                if ops is None and attr not in op.get_nodeattr_types():
                    continue  # "all" applies to the nodes that have the attribute (FINN ApplyConfig)
                if ops is None or type(op) in ops:
                    _check_value(node, op, attr, value)
                    op.set_nodeattr(attr, value)
            for attr, value in entries.get(name, {}).items():
                _check_value(node, op, attr, value)
                op.set_nodeattr(attr, value)
            _check_node(node, op)
        return model, False


def folding_to_json(model: ModelWrapper, attrs: tuple[str, ...] = HW_ATTRS) -> dict:
    """FINN-format folding config of a model (our node names), as extract_model_config_to_json."""
    out: dict[str, Any] = {"Defaults": {}}
    for node in hw_nodes(model):
        op = getCustomOp(node)
        types = op.get_nodeattr_types()
        entry = {a: op.get_nodeattr(a) for a in attrs if a in types and a not in ("inFIFODepths", "outFIFODepths")}
        if entry:
            out[node.name] = entry
    return out


def write_folding(model: ModelWrapper, path: str | Path) -> None:
    from toolchain.fileio import write_json

    write_json(path, folding_to_json(model))


# ---- SetFolding (src/finn/transformation/fpgadataflow/set_folding.py) -------------------------

def target_cycles(fps: float, clock_ns: float) -> int:
    """step_target_fps_parallelization: int(1e9 / synth_clk_period_ns / target_fps)."""
    if fps <= 0 or clock_ns <= 0:
        raise UserError(f"target fps ({fps}) and clock period ({clock_ns} ns) must be positive")
    return int(1e9 / clock_ns / fps)


class SetFolding(Transformation):
    """FINN's SetFolding: per node, the smallest folding (walking divisors upwards) whose cycles are
    strictly below the target, as each op's `set_folding` walks it (MVAU: SIMD first, reverted once
    weight bits·SIMD > mvau_wwidth_max, then PE). Two-pass relaxation reruns once with target =
    achieved max_cycles.

    Deviation from FINN, on purpose: a PE/SIMD value whose streams would exceed the 8191-bit HLS
    limit is never chosen (FINN's PE walk can, finn-plus PR #209). With `device`, the target is
    relaxed until the design fits (FINN cost model); if even PE = SIMD = 1 does not fit, UserError.
    """

    def __init__(self, target_cycles_per_frame: int, mvau_wwidth_max: int = 36, two_pass_relaxation: bool = True,
                 device=None, cost: CostModel = CostModel.FINN):
        super().__init__()
        self.target = int(target_cycles_per_frame)
        self.mvau_wwidth_max = mvau_wwidth_max
        self.two_pass_relaxation = two_pass_relaxation
        self.device = device
        self.cost = CostModel(cost)

    def apply(self, model: ModelWrapper):
        self._fold(model, self.target)
        if self.two_pass_relaxation:
            achieved = max_cycles(model)
            if achieved > self.target:
                self._fold(model, achieved)
        if self.device is not None and not self.device.fits(total_resources(model, self.cost, self.device)):
            self._fit(model)
        return model, False

    def _fit(self, model: ModelWrapper) -> None:
        _fold_all_ones(model)
        used = total_resources(model, self.cost, self.device)
        if not self.device.fits(used):
            raise UserError(f"even the cheapest folding (PE = SIMD = 1) does not fit {self.device.name} "
                            f"({self.device.part}): {utilization_line(self.device, used)}")
        lo, hi = self.target, max_cycles(model) + 1  # hi: a target every node meets at PE = SIMD = 1
        while hi - lo > 1:  # smallest relaxed target whose folding fits
            mid = (lo + hi) // 2
            self._fold(model, mid)
            if self.device.fits(total_resources(model, self.cost, self.device)):
                hi = mid
            else:
                lo = mid
        self._fold(model, hi)

    def _fold(self, model: ModelWrapper, target: int) -> None:
        for node in hw_nodes(model):
            getCustomOp(node).set_folding(target, self.mvau_wwidth_max)


def _fold_all_ones(model: ModelWrapper) -> None:
    for node in hw_nodes(model):
        op = getCustomOp(node)
        for attr in op.fold_targets():
            op.set_nodeattr(attr, 1)


def max_cycles(model: ModelWrapper) -> int:
    return max((getCustomOp(n).cycles() for n in hw_nodes(model)), default=0)


def total_resources(model: ModelWrapper, cost: CostModel, device) -> Resources:
    total = Resources()
    for node in hw_nodes(model):
        total = total + getCustomOp(node).resources(cost, device)
    return total


def utilization_line(device, used: Resources) -> str:
    util = device.utilization(used)
    return ", ".join(f"{k} {getattr(used, k):g}/{getattr(device, k)} ({100 * u:.0f}%)" for k, u in util.items()
                     if getattr(used, k) or getattr(device, k))
