"""The JSON contract of every verb's `--json` object (and of the <verb>.json it leaves in a run folder).

Each object carries `schema_version` (SCHEMA_VERSION) and a `units` map (key -> unit, dotted paths
for nested keys; `*` stands for any layer or FIFO name). The JSON Schema of each verb ships beside
this file as `<verb>.schema.json` (package data); tests/unit/test_json_schemas.py validates every
verb's real output against it. A consumer checks `schema_version` before reading: the number changes
whenever a key changes meaning or unit.

    versioned({"latency_cycles": 12}, {"latency_cycles": "clock cycles"})
    schema("estimate")   # the parsed JSON Schema of `hil estimate --json`
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# 2: per-frame figures (emulate per_layer *_per_frame), part capacities and utilization in percent,
#    null for a resource the cost model does not estimate (FF under --cost finn), units maps.
# (1 was the unversioned output before issue 18.)
SCHEMA_VERSION = 2
VERBS = ("train", "export", "lower", "estimate", "emulate", "build", "report", "synth", "run", "sweep", "pareto", "demo")
_DIR = Path(__file__).parent


def versioned(result: dict[str, Any], units: dict[str, str]) -> dict[str, Any]:
    """`result` with schema_version first and the units map last (the same dict, updated)."""
    out = {"schema_version": SCHEMA_VERSION, **result, "units": dict(units)}
    result.clear()
    result.update(out)
    return result


def schema(verb: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `hil <verb> --json`."""
    if verb not in VERBS:
        raise KeyError(f"no schema for verb {verb!r}; schemas exist for: {', '.join(VERBS)}")
    return json.loads((_DIR / f"{verb}.schema.json").read_text())
