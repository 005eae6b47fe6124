"""FINN's node names for our dataflow graph, and FINN-format folding keys resolved through them.

FINN names its layers by qonnx's GiveUniqueNodeNames (qonnx/transformation/general.py: "<op_type>_<n>",
n counted per op type in graph order). finn-plus 1.6.1's step_specialize_layers
(finn/builder/build_dataflow_steps.py) runs it before ApplyConfig of the specialize config, on the
unspecialized op types (MVAU_0, ConvolutionInputGenerator_1), and again after SpecializeLayers
(finn/transformation/fpgadataflow/specialize_layers.py: op type + "_hls" / "_rtl"), when the count runs
per *specialized* op type: MVAU_hls_0, MVAU_hls_1, MVAU_rtl_0. Every folding config finn-plus writes
(step_target_fps_parallelization: auto_folding_config.json; step_apply_folding_config:
applied_folding_config.json; both through finn/util/config.py:extract_model_config) and the one our
FINN handoff writes use those second names.

One op of ours is one FINN layer, except where finn-plus builds it differently (`finn_layers` of the op
class): a max-pool is a ConvolutionInputGenerator + Pool pair (convert_to_hw/pool.py:InferPool), a 1-D
window a ConvolutionInputGenerator (is1D=1), so the ConvolutionInputGenerator count includes them.
finn-plus has these windows only as RTL: `finn_styled` gives the graph finn-plus builds.

FINN v0.10 and older named one FINN node per op of ours (StreamingMaxPool_Batch_0, MatrixVectorActivation_0,
ConvolutionInputGenerator_hls_0): such names resolve by our own per-op-type index (our_node_name).
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass
from typing import Any, Optional

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hw.ops import custom_op, from_finn_op_type, from_name_prefix, name_prefix, op_class
from hw.ops.base import DOMAIN
from toolchain.errors import UserError

IMPL = "hls"  # the variant of an op FINN has no other of
STYLE = "preferred_impl_style"
FINN_STYLE = "rtl"  # what finn-plus builds of the ops it has no HLS variant of (SWG, 1-D SWG; a max-pool's SWG)
DEPTHS = ("inFIFODepths", "outFIFODepths")

_SUFFIX = re.compile(r"(_hls|_rtl|_Batch)$")
_NODE = re.compile(r"^(?P<op>[A-Za-z][A-Za-z0-9]*?)(?:_hls|_rtl|_Batch)?_(?P<idx>\d+)$")
_SPECIALIZED = re.compile(r"^(?P<op>[A-Za-z][A-Za-z0-9]*?)_(?P<style>hls|rtl)_(?P<idx>\d+)$")


def our_op_type(finn_op_type: str) -> Optional[str]:
    """MVAU_hls / MatrixVectorActivation / ConvolutionInputGenerator_rtl ... -> our op type."""
    return from_finn_op_type(_SUFFIX.sub("", finn_op_type))


def our_node_name(name: str) -> str:
    """A FINN v0.10-style name -> ours by the per-op-type index (MatrixVectorActivation_3 -> MVAU_3,
    StreamingMaxPool_Batch_0 -> MaxPool_0), the rule when each op of ours is one FINN node; names that
    are already ours, or unknown, come back unchanged. finn-plus's names need the graph: `resolve`."""
    m = _NODE.match(name)
    if not m:
        return name
    op = our_op_type(m["op"]) or from_name_prefix(m["op"])
    return f"{name_prefix(op)}_{m['idx']}" if op else name


def is_infra(node) -> bool:
    """Stream infrastructure (the op class's INFRASTRUCTURE fact: DWC, FIFO): FINN inserts its own."""
    cls = op_class(node.op_type)
    return cls is not None and cls.INFRASTRUCTURE


def finn_styled(model: ModelWrapper) -> ModelWrapper:
    """A copy of `model` with preferred_impl_style = "rtl" on every op that has the attribute and no HLS
    variant in finn-plus (FINN_VARIANTS: the SWGs, a max-pool): the hardware finn-plus builds for it (our
    `finn` cost then follows it). An op finn-plus has both variants of (Thresholding) keeps its style."""
    out = copy.deepcopy(model)
    for node in out.graph.node:
        cls = op_class(node.op_type)
        types = getCustomOp(node).get_nodeattr_types() if cls is not None else {}
        if STYLE in types and FINN_STYLE in (types[STYLE][3] if len(types[STYLE]) > 3 else ()) \
                and IMPL not in cls.FINN_VARIANTS:
            getCustomOp(node).set_nodeattr(STYLE, FINN_STYLE)
    return out


@dataclass(frozen=True)
class Layer:
    """One FINN layer an op of ours becomes: FINN's op type before specialization, its impl style, and
    the attributes it is built with when they are not the op's own (a max-pool's SWG and Pool), else None."""

    op_type: str
    impl: str
    config: Optional[dict]


def layers(node) -> list[Layer]:
    """The FINN layers `node` becomes, in order (the op's finn_layers, else one layer: FINN_NAME)."""
    cls = op_class(node.op_type)
    op_type = getattr(cls, "FINN_NAME", None)
    if op_type is None:
        raise UserError(f"{node.name}: the FINN handoff does not know op type {node.op_type}")
    op = getCustomOp(node)
    parts = getattr(op, "finn_layers", lambda: None)()
    if parts:
        return [Layer(p.op_type, p.impl, p.config) for p in parts]
    return [Layer(op_type, op.finn_impl(), None)]


def finn_names(model: ModelWrapper) -> dict[str, list[tuple[str, str]]]:
    """our node name -> [(FINN name before specialization, after), ...] per FINN layer it becomes, e.g.
    SWG_0 -> [(ConvolutionInputGenerator_0, ConvolutionInputGenerator_rtl_0)], an rtl-style MaxPool_0 ->
    [(ConvolutionInputGenerator_2, ConvolutionInputGenerator_rtl_2), (Pool_0, Pool_hls_0)]. Before
    specialization FINN counts per op type, after it per specialized op type (module docstring)."""
    out: dict[str, list[tuple[str, str]]] = {}
    pre_count: dict[str, int] = {}
    post_count: dict[str, int] = {}
    for node in model.graph.node:
        if is_infra(node):
            continue
        out[node.name] = []
        for layer in layers(node):
            post_type = f"{layer.op_type}_{layer.impl}"
            pre, post = pre_count.get(layer.op_type, 0), post_count.get(post_type, 0)
            pre_count[layer.op_type], post_count[post_type] = pre + 1, post + 1
            out[node.name].append((f"{layer.op_type}_{pre}", f"{post_type}_{post}"))
    return out


# ---- reading FINN names back -------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """What a folding-config key names: our node, the index of the FINN layer among the `count` it
    becomes, the impl style the key names (None: not a specialized name), and the layer's own build
    attributes (Layer.config) when the node is several FINN layers."""

    node: str
    layer: int = 0
    count: int = 1
    style: Optional[str] = None
    config: Optional[dict] = None


def _v010_only() -> set[str]:
    """Specialized names finn-plus never gives our ops, so a file holding one is FINN v0.10's: the HLS
    variant of an op finn-plus has only as RTL (the ops with a preferred_impl_style attribute)."""
    out = set()
    for cls in custom_op.values():
        attrs = cls.ATTRS
        if STYLE in attrs and cls.FINN_NAME:
            out.add(f"{cls.FINN_NAME}_hls")
    return out


def resolve(keys, model: ModelWrapper, part: Optional[str] = None) -> dict[str, Target]:
    """Each folding-config key -> the node (and FINN layer) it names in `model`; UserError listing the
    keys that name nothing. Our own names first; a specialized FINN name (X_hls_3 / X_rtl_0) by
    finn-plus's rule on the graph finn-plus builds (finn_styled); anything else by our_node_name.

    Per FINN op type, keys of one style index the layers of that type in graph order (FINN's count
    when every such layer has that style, as when the specialize config pins them, which our handoff
    does). Keys of both styles for one op type are matched to the names FINN gives our layers when
    SpecializeLayers(part) chooses their variants itself (each op's finn_impl_choice, FINN's rule);
    a key that is not one of them names nothing."""
    ours = {n.name: n for n in model.graph.node if n.domain == DOMAIN}
    keys = list(keys)
    special = {k: _SPECIALIZED.match(k) for k in keys if k not in ours and _SPECIALIZED.match(k)}
    compute_types = {cls.FINN_NAME for cls in custom_op.values() if not cls.INFRASTRUCTURE and cls.FINN_NAME}
    styled = finn_styled(model) if special else model  # FINN's names are needed only for FINN's keys
    by_type: dict[str, list[tuple[Any, int, Layer, int]]] = {}
    for node in styled.graph.node if special else ():
        if node.domain != DOMAIN or is_infra(node) or not getattr(op_class(node.op_type), "FINN_NAME", None):
            continue  # an op FINN has no counterpart of has no FINN name
        parts = layers(node)
        for i, layer in enumerate(parts):
            by_type.setdefault(layer.op_type, []).append((node, i, layer, len(parts)))
    finn_types = set(by_type) | compute_types
    v010 = any(f"{m['op']}_{m['style']}" in _v010_only() for m in special.values())
    plus = {k: m for k, m in special.items() if not v010 and m["op"] in finn_types}

    out: dict[str, Target] = {}
    missing: list[str] = []
    for key in keys:
        if key in ours:
            out[key] = Target(key)
        elif key not in plus:
            name = our_node_name(key)
            m = special.get(key)
            if name in ours:
                out[key] = Target(name, style=m["style"] if m else None)
            else:
                missing.append(key)
    for op_type in sorted({m["op"] for m in plus.values()}):
        entries = {k: m for k, m in plus.items() if m["op"] == op_type}
        layer_list = by_type.get(op_type, [])
        if len({m["style"] for m in entries.values()}) == 1:
            index = {int(m["idx"]): k for k, m in entries.items()}
            for idx, key in index.items():
                if idx < len(layer_list):
                    node, i, layer, count = layer_list[idx]
                    out[key] = Target(node.name, i, count, entries[key]["style"], layer.config)
                else:
                    missing.append(key)
            continue
        counts: dict[str, int] = {}
        named = {}
        for node, i, layer, count in layer_list:
            impl = layer.impl if count > 1 else _choice(node, styled, part)
            n = counts.get(impl, 0)
            counts[impl] = n + 1
            named[f"{op_type}_{impl}_{n}"] = Target(node.name, i, count, impl, layer.config)
        for key in entries:
            if key in named:
                out[key] = named[key]
            else:
                missing.append(key)
    if missing:
        finn = [f"{t}_{layer.impl}" for t, entries in by_type.items() for _, _, layer, _ in entries]
        finn = [f"{t}_{sum(1 for u in finn[:i] if u == t)}" for i, t in enumerate(finn)]
        raise UserError(f"folding config names unknown node(s) {', '.join(sorted(missing))}; the graph has: "
                        f"{', '.join(n for n in ours) or 'no dataflow nodes'} (FINN names: {', '.join(finn) or 'none'})")
    return out


def _choice(node, model: ModelWrapper, part: Optional[str]) -> str:
    """FINN's own variant for `node` (SpecializeLayers without a preference), from its weights if any."""
    from toolchain.defaults import resolve_part

    weights = model.get_initializer(node.input[1]) if len(node.input) > 1 else None
    return getCustomOp(node).finn_impl_choice(resolve_part(part, model), weights)


def node_entries(config: dict[str, dict], model: ModelWrapper, part: Optional[str] = None,
                 notes: bool = True) -> dict[str, dict[str, Any]]:
    """A folding config's node entries as attributes of our nodes: keys resolved (`resolve`), the
    style a specialized FINN name implies set on ops that have the attribute, and the entries of a
    node FINN builds as several layers merged (see _merge_layer). Two keys naming one layer: UserError."""
    targets = resolve(config, model, part)
    seen: dict[tuple[str, int], str] = {}
    out: dict[str, dict[str, Any]] = {}
    for key, target in targets.items():
        if (target.node, target.layer) in seen:
            raise UserError(f"folding config: '{key}' and '{seen[target.node, target.layer]}' both name node "
                            f"{target.node}" + (f" (its FINN layer {target.layer})" if target.count > 1 else ""))
        seen[target.node, target.layer] = key
        entry = out.setdefault(target.node, {})
        attrs = dict(config[key])
        if target.count > 1:
            _merge_layer(key, target, attrs, entry)
        else:
            entry.update(attrs)
        op = getCustomOp(model.get_node_from_name(target.node))
        if target.style is None:
            continue
        if STYLE in op.get_nodeattr_types():
            entry.setdefault(STYLE, target.style)
        elif notes and target.style != op.finn_impl():  # the folding applies to either variant; the cost is one's
            logging.getLogger("hil").warning(
                f"note: {key} is FINN's {target.style.upper()} variant; hil's `finn` cost model of "
                f"{target.node} follows the {op.finn_impl().upper()} one")
    return out


def _merge_layer(key: str, target: Target, attrs: dict, entry: dict) -> None:
    """One FINN layer of a node FINN builds as several (a max-pool: SWG + Pool). Its build attributes
    are fixed by our op (Layer.config): the entry must repeat them, or give the FINN op's default for
    an attribute our op class for that FINN op type has; its FIFO depths are the node's own on the
    node's outer ports (inFIFODepths on the first layer, outFIFODepths on the last), FINN's minimum 2
    between the layers, which we do not model."""
    config = target.config or {}
    for attr, value in attrs.items():
        if attr in DEPTHS:
            outer = (attr == "inFIFODepths" and target.layer == 0) or (
                attr == "outFIFODepths" and target.layer == target.count - 1)
            if outer:
                entry[attr] = value
            elif not (isinstance(value, list) and all(v == 2 for v in value)):
                raise UserError(f"{key} ({target.node}): {attr}={value!r} sits between the FINN layers of "
                                f"{target.node}, which hil builds with FINN's minimum depth 2")
            continue
        if attr in config:
            if value != config[attr]:
                raise UserError(f"{key} ({target.node}, FINN layer {target.layer}): {attr}={value!r} is not what "
                                f"hil builds ({attr}={config[attr]!r}); {target.node} is modelled only so")
            continue
        cls = custom_op.get(our_op_type(_SPECIALIZED.match(key)["op"]) or "") if _SPECIALIZED.match(key) else None
        default = cls.ATTRS.get(attr) if cls is not None else None
        if default is None or value != default[2]:
            raise UserError(f"{key} ({target.node}, FINN layer {target.layer}): attribute {attr}={value!r} is "
                            f"not modelled for this layer; configurable: {', '.join(sorted(config) + list(DEPTHS))}")
