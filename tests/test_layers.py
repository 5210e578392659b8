"""The package's import graph: no circle, and no import from a lower layer to a higher one.

Read from the source with ast, so every dependency counts: top-level imports, imports inside
functions (still a dependency, only a later one) and imports under `if TYPE_CHECKING:` (a
module named in a type is one this module knows about).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "orchestrator"

# The flow's lower layers: they must not reach up into where runs are started and driven.
LOWER = ("orchestrator.config", "orchestrator.verdict", "orchestrator.ledger", "orchestrator.k6", "orchestrator.report")
HIGHER = ("orchestrator.runtimes", "orchestrator.commands", "orchestrator.cli", "orchestrator.run")

# Edges allowed to break a rule, each with why: none today. An entry must name an edge that
# exists (a test checks), so the list cannot outlive its reason.
KNOWN: dict[tuple[str, str], str] = {}
# `python -m orchestrator` is the command line too.
CLI_FACES = ("orchestrator.cli", "orchestrator.__main__")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every orchestrator module `path` imports (absolute imports; `from pkg import module` names the module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from orchestrator.config import profiles` imports the module config.profiles.
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names]
        else:
            assert not (isinstance(node, ast.ImportFrom) and node.level), f"{path}: relative import; use orchestrator.*"
            continue
        for name in names:
            # `import orchestrator.config.model` depends on the module itself (its packages are only on the way).
            while name not in known and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in known and name.startswith("orchestrator"):
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    names = set(mods)
    return {name: imports_of(path, names) - {name} for name, path in mods.items()}


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan), as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def broken_rules(edges: dict[str, set[str]]) -> list[str]:
    problems = []
    for importer, imported_set in sorted(edges.items()):
        for imported in sorted(imported_set):
            if (importer, imported) in KNOWN:
                continue
            if within(importer, LOWER) and within(imported, HIGHER):
                problems.append(f"{importer} -> {imported}: a lower layer imports a higher one")
            elif within(imported, ("orchestrator.cli",)) and not within(importer, CLI_FACES):
                problems.append(f"{importer} -> {imported}: only cli/ is the command line")
            elif within(imported, ("orchestrator.commands",)) and not within(
                importer, ("orchestrator.cli", "orchestrator.commands")
            ):
                problems.append(f"{importer} -> {imported}: commands are called by cli/ only")
    return problems


def test_the_graph_is_read_from_every_module():
    edges = graph()
    assert "orchestrator.config.model" in edges and "orchestrator.cli.runs" in edges
    # `from orchestrator.config import profiles` is an edge to the module, not to the package.
    assert "orchestrator.config.profiles" in edges["orchestrator.render.script"]


def test_no_import_circle():
    edges = graph()
    for importer, imported in KNOWN:
        edges[importer].discard(imported)
    assert cycles(edges) == []


def package_of(module: str) -> str:
    """orchestrator.verdict.gate -> orchestrator.verdict; a top-level module is its own."""
    return ".".join(module.split(".")[:2])


def test_no_circle_between_packages():
    # Module by module is not enough: verdict/ -> report/ -> verdict/ would tie two packages
    # into one even if no two files import each other.
    between: dict[str, set[str]] = {}
    for importer, imported in graph().items():
        between.setdefault(package_of(importer), set()).update(
            package_of(m) for m in imported if package_of(m) != package_of(importer))
    assert cycles(between) == []


def test_lower_layers_do_not_import_higher_ones():
    assert broken_rules(graph()) == []


def test_the_known_edges_still_exist():
    # An edge fixed elsewhere must leave the list, or the list would hide a new one later.
    edges = graph()
    assert [pair for pair in KNOWN if pair[1] not in edges.get(pair[0], set())] == []


def test_the_checks_can_fail():
    edges = {"orchestrator.a": {"orchestrator.b"}, "orchestrator.b": {"orchestrator.a"}, "orchestrator.c": set()}
    assert cycles(edges) == [["orchestrator.a", "orchestrator.b"]]
    upward = {"orchestrator.verdict.gate": {"orchestrator.run.pipeline"}, "orchestrator.report.html": {"orchestrator.cli"}}
    assert len(broken_rules(upward)) == 2


# ---- what a lower layer reaches, through any chain of imports ---------------------------------

@functools.cache
def _graph() -> dict[str, frozenset[str]]:
    return {name: frozenset(imported) for name, imported in graph().items()}


def reached(start: str) -> dict[str, str]:
    """Every module `start` reaches -> the module that imports it on the way."""
    edges, via, todo = _graph(), {}, [start]
    while todo:
        current = todo.pop()
        for name in edges.get(current, ()):
            if name not in via and name != start:
                via[name] = current
                todo.append(name)
    return via


def chain(via: dict[str, str], start: str, end: str) -> str:
    steps = [end]
    while steps[-1] != start:
        steps.append(via[steps[-1]])
    return " -> ".join(reversed(steps))


@pytest.mark.parametrize("module", sorted(m for m in modules() if within(m, LOWER)))
def test_a_lower_layer_never_reaches_a_higher_one(module):
    # Not even through a leaf: what judges a run, writes its reports or knows k6 never depends
    # on where k6 runs or how a run is driven; k6/ never on the renderer.
    via = reached(module)
    above = HIGHER + (("orchestrator.render",) if within(module, ("orchestrator.k6",)) else ())
    assert sorted(chain(via, module, name) for name in via if within(name, above)) == []


def test_the_reach_is_followed_through_chains():
    # The check must be able to fail: a run's execution does reach the runtimes.
    assert "orchestrator.runtimes" in reached("orchestrator.run.execute")
    assert "orchestrator.sli" in reached("orchestrator.cli.runs")


def readme_layers() -> list[str]:
    """The packages in README's Layout block, top to bottom."""
    text = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    block = text[text.index("## Layout"):].split("```")[1]
    return [f"orchestrator.{line.split()[0].rstrip('/')}" for line in block.splitlines()
            if line.startswith("  ") and not line.startswith("   ")  # a package's own line, not a continuation
            and line.split()[0].endswith("/") and line.split()[0] != "examples/"]


def test_the_readme_lists_packages_in_an_order_the_imports_keep():
    # "Each folder imports only folders below it in this list": the README's promise, checked.
    order = readme_layers()
    assert set(order) >= {package_of(m) for m in modules() if m.count(".") >= 2} - {"orchestrator.demo"}
    upward = sorted(f"{importer} -> {imported}" for importer, imported_set in graph().items()
                    for imported in imported_set
                    if package_of(importer) in order and package_of(imported) in order
                    and order.index(package_of(imported)) < order.index(package_of(importer)))
    assert upward == []
