"""The house has no circles: every import between embspace's modules runs one way.

Every import statement counts, at module level and inside functions, and so does a package's
``__init__``: importing ``embspace.texts._encoders`` runs ``embspace/texts/__init__.py`` first, and
``from . import x`` reads the package itself unless ``x`` is one of its modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import embspace

ROOT = Path(embspace.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _package_of(name: str) -> str:
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def _targets(name: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The embspace modules an import statement in module `name` runs."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        base = node.module or ""
    else:
        base = _package_of(name)
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        base = f"{base}.{node.module}" if node.module else base
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def _with_packages(importer: str, target: str) -> list[str]:
    """`target` and the packages above it that the importer is not already inside."""
    parts = target.split(".")
    chain = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return [
        m
        for m in chain
        if m in MODULES and not (importer == m or importer.startswith(m + ".") and MODULES[m].name == "__init__.py")
    ]


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(name, node):
                    if target.split(".")[0] == "embspace":
                        graph[name].update(t for t in _with_packages(name, target) if t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_function_level_and_package_imports():
    graph = import_graph()
    assert "embspace.search" in graph["embspace.space"]  # module level
    assert "embspace._subwords" in graph["embspace.space"]  # inside a method
    assert "embspace.texts" in graph["embspace.evaluate._sts"]  # a package's __init__
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


CORE = [
    "embspace.errors",
    "embspace.space",
    "embspace.search",
    "embspace.store",
    "embspace.formats",
    "embspace._files",
    "embspace._subwords",
    "embspace._version",
]
KINDS = ("embspace.words", "embspace.texts")
VERBS = ("embspace.evaluate", "embspace.reduce", "embspace.tune", "embspace.index")
TOP = ("embspace.explore", "embspace.cli", "embspace.__main__")


def _inside(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


@pytest.mark.parametrize("module", CORE)
def test_the_core_knows_no_kind_of_data_no_verb_and_no_front_end(module):
    reached = _reach(import_graph(), module)
    above = sorted(m for m in reached if _inside(m, KINDS + VERBS + TOP))
    assert not above, f"{module} reaches {above}"


def test_search_works_on_arrays_alone():
    assert import_graph()["embspace.search"] <= {"embspace.errors"}


def test_only_the_front_ends_import_the_front_ends():
    graph = import_graph()
    for module, targets in graph.items():
        if not _inside(module, TOP):
            assert not [t for t in targets if _inside(t, TOP)], f"{module} imports {sorted(targets)}"
