"""The project's import graph, read from the source (function-local imports included): no module imports
itself through others, and the layers point one way (canonical_model ← core ← admin_api ← prasan.cli)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("canonical_model", "core", "admin_api", "plugins", "prasan")


def modules(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            if "scaffold_template" in path.parts:  # templates of a generated package, not the hub's code
                continue
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imported(module: str, path: Path, known: dict[str, Path], node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join([*parts, base] if base else parts)
        # `from package import submodule` depends on the submodule; `from module import name` on the module.
        submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
        yield from submodules
        if len(submodules) < len(node.names):
            yield base


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = modules(root)
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _imported(name, path, known, node):
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_through_others() -> None:
    assert cycles(import_graph()) == []


def test_the_check_finds_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "core"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from core.b import thing\n")
    (package / "b.py").write_text("def f():\n    from core import a  # function-local imports count\n")
    assert cycles(import_graph(tmp_path)) == [["core.a", "core.b"]]


def _reaches(graph: dict[str, set[str]], source_prefix: str, target_prefix: str) -> list[str]:
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module.split(".")[0] == source_prefix
        for target in targets
        if target.split(".")[0] == target_prefix or target.startswith(target_prefix + ".")
    )


def test_the_layers_point_one_way() -> None:
    graph = import_graph()
    assert _reaches(graph, "canonical_model", "core") == []
    assert _reaches(graph, "core", "admin_api") == []  # the CLI and the demo, which need both, are in prasan.cli
    assert _reaches(graph, "core", "plugins") == []
    assert _reaches(graph, "core", "prasan") == []  # prasan is the public face over core, never under it
    assert _reaches(graph, "admin_api", "plugins") == []
