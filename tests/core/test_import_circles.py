"""The four import circles of issue 20 (section 10) stay removed: no module of each group reaches
itself through imports, counting every import (inside functions and under ``TYPE_CHECKING``
too: a circle a type checker follows is still a circle a reader follows)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

GROUPS = {
    "cli app, audit and judge commands": (
        "assay.cli.app",
        "assay.cli.audit_commands",
        "assay.cli.judge_commands",
    ),
    "cli data commands": (
        "assay.cli.data_commands",
        "assay.cli.data_kb_commands",
        "assay.cli.data_lint_commands",
        "assay.cli.data_provenance_commands",
        "assay.cli.data_sampling_commands",
    ),
    "data lint context and outcomes": ("assay.data.lint.context", "assay.data.lint.outcomes"),
    "run evaluation and spec": ("assay.run.evaluation", "assay.run.spec"),
}


def _module_names() -> dict[str, Path]:
    names = {}
    for path in (SRC / "assay").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """Modules of ``known`` that ``name`` imports anywhere (in functions, under TYPE_CHECKING)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m in known and m != name}


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A path of imports from ``start`` to ``goal`` (package inits skipped), or ``None``."""
    seen = {start}
    frontier = [[start]]
    while frontier:
        path = frontier.pop()
        for nxt in graph[path[-1]]:
            if nxt == goal:
                return [*path, nxt]
            if nxt not in seen and not goal.startswith(nxt + "."):
                seen.add(nxt)
                frontier.append([*path, nxt])
    return None


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = _module_names()
    # A package's __init__ re-exports its modules: an edge to a package is not a circle through
    # its modules, so packages are left out (their modules are imported directly).
    modules = {n: p for n, p in known.items() if p.name != "__init__.py"}
    return {name: _imports(path, name, modules) for name, path in modules.items()}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_no_module_of_the_group_imports_itself_back(graph, group: str) -> None:
    circles = [
        " -> ".join(found)
        for module in GROUPS[group]
        if (found := _reaches(graph, module, module)) is not None
    ]
    assert circles == []


def test_the_graph_sees_imports_inside_functions(graph) -> None:
    # A sanity check that the test can fail: app imports judge helpers inside its commands,
    # and a type-only import counts.
    assert "assay.cli.judge_commands" in graph["assay.cli.app"]
    assert "assay.data.lint.stored_runs" in graph["assay.data.lint.context"]
