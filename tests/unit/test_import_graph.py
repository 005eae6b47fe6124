"""The import graph of hw/ and toolchain/ (module-level and function-level imports and
importlib.import_module of a literal name, read with ast):
no cycles, and hw/ stays below toolchain/ and free of torch and brevitas."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hw", "toolchain")
FORBIDDEN_IN_HW = ("torch", "brevitas", "toolchain")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imports(name: str, path: Path, modules) -> set[str]:
    """Every module an import statement anywhere in the file (inside functions too) names:
    `from pkg import sub` names the submodule pkg.sub when there is one, else pkg."""
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in modules else base)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):  # importlib.import_module("a.b")
            out.add(node.args[0].value)
    return out


def import_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges between our modules, every imported module per module)."""
    modules = _modules()
    raw = {name: _imports(name, path, modules) for name, path in modules.items()}
    return {name: {m for m in imported if m in modules and m != name} for name, imported in raw.items()}, raw


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_module_and_function_level_imports():
    edges, raw = import_graph()
    assert "hw.cost.calibrated" in edges["hw.ops.base"]  # module level
    assert "qonnx.custom_op.registry" in raw["hw.cost.calibrated"]  # inside calibrated_resources()
    assert "hw.ops._swg_loop" in edges["hw.ops.swg"]  # inside swg_hls_flags()
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    cycles = _cycles(import_graph()[0])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_hw_has_no_import_cycle_and_ops_do_not_import_back_from_the_cost_models():
    edges, _ = import_graph()
    hw_edges = {name: {m for m in targets if m.startswith("hw.")} for name, targets in edges.items()
                if name.startswith("hw.")}
    assert _cycles(hw_edges) == []
    assert not any(m.startswith("hw.ops") for name in hw_edges if name.startswith("hw.cost") for m in hw_edges[name])


def test_hw_imports_neither_torch_nor_brevitas_nor_toolchain():
    _, raw = import_graph()
    bad = sorted((name, m) for name, imported in raw.items() if name.split(".")[0] == "hw" for m in imported
                 if m.split(".")[0] in FORBIDDEN_IN_HW)
    assert not bad, f"hw/ imports {bad}"
