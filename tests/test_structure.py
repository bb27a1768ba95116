"""The library's import graph has no cycle (the evaluation cells, the grid runner and its Ray engine
included): each module can be read, and imported, on its own terms."""
from __future__ import annotations

import ast
from pathlib import Path

import mspd_core

ROOT = Path(mspd_core.__file__).resolve().parent


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the mspd_core modules it imports (anywhere in the file, lazy imports included)."""
    graph = {}
    for path in ROOT.rglob("*.py"):
        name = _module(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("mspd_core"):
                    continue
                for alias in node.names:  # "from . import x" imports the module x
                    candidate = ROOT.parent / f"{target}.{alias.name}".replace(".", "/")
                    deps.add(f"{target}.{alias.name}" if candidate.with_suffix(".py").exists() or candidate.is_dir() else target)
            elif isinstance(node, ast.Import):
                deps |= {alias.name for alias in node.names if alias.name.startswith("mspd_core")}
        graph[name] = deps - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                found.append(stack[stack.index(dep):] + [dep])
            elif dep in graph and dep not in state:
                visit(dep, stack + [dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert {"mspd_core.cells", "mspd_core.grid", "mspd_core.distributed"} <= graph.keys()
    assert "mspd_core.grid" not in graph["mspd_core.distributed"] and "mspd_core.evaluate" not in graph["mspd_core.distributed"]
    assert not cycles(graph), cycles(graph)


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert not cycles({"a": {"b"}, "b": set()})
