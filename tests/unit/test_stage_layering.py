"""Stages flow one way (issue 13): recipe (zoo, data) -> train (compress) -> export -> lower (passes)
-> {estimate, emulate, build} -> report, with shared helpers below the stages and orchestration
(pipeline, demo, cli) above them.

Every `import` / `from ... import` in toolchain/ is read with ast, including the ones inside
functions (the toolchain imports heavy libraries lazily, so most stage-to-stage edges are there).
Two rules:
1. no module imports a module of a higher rank;
2. a stage's own modules are imported only by that stage and by the orchestration layer: stages
   hand each other files (QONNX, dataflow.onnx, <verb>.json), never function calls. Libraries
   (compress, passes, inputs) and the shared base may be imported by any module above them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BASE, RECIPE, TRAIN_LIB, TRAIN, EXPORT, LOWER_LIB, LOWER, SIBLINGS, REPORT, ORCHESTRATION = range(10)

# module prefix -> (rank, stage name or None for a library / the shared base). Longest prefix wins.
LAYERS: dict[str, tuple[int, str | None]] = {
    "toolchain": (BASE, None),
    "toolchain.errors": (BASE, None),
    "toolchain.fileio": (BASE, None),
    "toolchain.onnxio": (BASE, None),
    "toolchain.defaults": (BASE, None),
    "toolchain.contract": (BASE, None),
    "toolchain.equality": (BASE, None),
    "toolchain.hoststeps": (BASE, None),
    "toolchain.schemas": (BASE, None),  # every verb's JSON contract (schema_version, units)
    "toolchain.zoo": (RECIPE, None),
    "toolchain.data": (RECIPE, None),
    "toolchain.compress": (TRAIN_LIB, None),
    "toolchain.train": (TRAIN, "train"),
    "toolchain.export": (EXPORT, "export"),
    "toolchain.passes": (LOWER_LIB, None),
    "toolchain.inputs": (LOWER_LIB, None),
    "toolchain.lower": (LOWER, "lower"),
    "toolchain.estimate": (SIBLINGS, "estimate"),
    "toolchain.emulate": (SIBLINGS, "emulate"),
    "toolchain.backends": (SIBLINGS, "build"),
    "toolchain.report": (REPORT, "report"),
    "toolchain.pipeline": (ORCHESTRATION, None),
    "toolchain.api": (ORCHESTRATION, None),  # the Python API (`import hil`): the verbs as functions
    "toolchain.demo": (ORCHESTRATION, None),
    "toolchain.cli": (ORCHESTRATION, None),
    "toolchain.sweep": (ORCHESTRATION, None),  # the DSE loop drives every stage (issue 10)
    "toolchain.targets": (ORCHESTRATION, None),  # hil run / serve: emulator, C-sim (build), boards (issue 11)
    "toolchain.cli_targets": (ORCHESTRATION, None),
}


def layer_of(module: str) -> tuple[int, str | None]:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in LAYERS:
            return LAYERS[key]
    raise KeyError(module)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, imported toolchain module) for every import in the file, at any depth. For
    `from toolchain.x import y` both toolchain.x and toolchain.x.y are candidates; y counts as a
    module when such a file exists."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "toolchain"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "toolchain":
            out.append((node.lineno, node.module))
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                file = root / Path(*sub.split("."))
                if file.with_suffix(".py").exists() or file.is_dir():
                    out.append((node.lineno, sub))
    return out


SOURCES = sorted((ROOT / "toolchain").rglob("*.py"))


def edge_problem(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported`, or None when the edge is allowed."""
    (my_rank, my_stage), (rank, stage) = layer_of(importer), layer_of(imported)
    if rank > my_rank:
        return f"rank {rank} is above {my_rank}"
    if stage is not None and stage != my_stage and my_rank != ORCHESTRATION:
        return f"stage {stage!r} is used only by the orchestration layer"
    return None


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted((root / "toolchain").rglob("*.py")):
        me = module_name(path, root)
        for line, target in imports(path, root):
            if why := edge_problem(me, target):
                found.append(f"{path.relative_to(root)}:{line}: {me} imports {target} ({why})")
    return found


def test_every_toolchain_module_has_a_layer():
    for path in SOURCES:
        layer_of(module_name(path))  # KeyError names a module the table does not place


def test_no_stage_imports_a_stage_above_it_or_beside_it():
    assert violations() == []


def test_the_check_sees_function_level_imports(tmp_path):
    # the rule must catch the lazy imports the toolchain uses everywhere, not only module-level ones
    probe = ROOT / "toolchain" / "estimate.py"
    found = [t for _, t in imports(probe)]
    assert "toolchain.contract" in found  # module level
    assert "hw.cost.calibrated" not in found  # not ours: only toolchain edges are ranked
    src = tmp_path / "x.py"
    src.write_text("def f():\n    from toolchain.lower import lower_model\n    import toolchain.emulate\n")
    assert [t for _, t in imports(src)] == ["toolchain.lower", "toolchain.emulate"]


@pytest.mark.parametrize("importer, imported, allowed", [
    ("toolchain.estimate", "toolchain.lower", False),  # below, but another stage: go through files
    ("toolchain.lower", "toolchain.export", False),
    ("toolchain.train", "toolchain.export", False),  # above
    ("toolchain.compress.footprint", "toolchain.export", False),
    ("toolchain.report.html", "toolchain.emulate", False),
    ("toolchain.emulate", "toolchain.backends.csim", False),  # a sibling
    ("toolchain.contract", "toolchain.passes.common", False),  # the base stays below the libraries
    ("toolchain.emulate", "toolchain.inputs", True),  # a library below
    ("toolchain.export", "toolchain.compress.checkpoint", True),
    ("toolchain.pipeline", "toolchain.lower", True),  # orchestration
    ("toolchain.backends.finn", "toolchain.backends.staging", True),  # within a stage
])
def test_edge_rule(importer, imported, allowed):
    assert (edge_problem(importer, imported) is None) is allowed


def test_a_stage_calling_back_is_found(tmp_path):
    """The check run on a copy of the tree in which emulate imports a helper from export again."""
    for path in SOURCES:
        dest = tmp_path / path.relative_to(ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(path.read_text())
    emulate = tmp_path / "toolchain" / "emulate.py"
    emulate.write_text(emulate.read_text() + "\n\ndef _late():\n    from toolchain.export import run_qonnx\n")
    found = violations(tmp_path)
    assert len(found) == 1 and "toolchain.emulate imports toolchain.export" in found[0]
