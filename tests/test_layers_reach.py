"""The import graph has layers: what judges a run (verdict/), writes its reports (report/) and
knows k6 (k6/) never reaches up into where k6 runs (runtimes/), how a run is driven (run/),
the commands or the CLI; k6/ never imports the renderer. Read from the sources (every import,
also those inside functions, followed through orchestrator/), so a lazy import counts too."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

import orchestrator

PACKAGE = Path(orchestrator.__file__).parent
ABOVE = ("orchestrator.runtimes", "orchestrator.run", "orchestrator.commands", "orchestrator.cli")


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(source: str) -> set[str]:
    """The orchestrator modules a source imports (`from pkg import mod` counts as pkg.mod)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("orchestrator"):
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                found.add(dotted if dotted in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("orchestrator"))
    return {name for name in found if name in MODULES}


@functools.cache
def _imports_of(module: str) -> frozenset[str]:
    return frozenset(_imports(MODULES[module].read_text(encoding="utf-8")))


def _reached(start: str) -> dict[str, str]:
    """Every module `start` reaches -> the module that imports it on the way."""
    via: dict[str, str] = {}
    todo = [start]
    while todo:
        current = todo.pop()
        for name in _imports_of(current):
            if name not in via and name != start:
                via[name] = current
                todo.append(name)
    return via


def _chain(via: dict[str, str], start: str, end: str) -> str:
    chain = [end]
    while chain[-1] != start:
        chain.append(via[chain[-1]])
    return " -> ".join(reversed(chain))


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


LOWER = sorted(name for name in MODULES if _under(name, ("orchestrator.verdict", "orchestrator.report", "orchestrator.k6")))


@pytest.mark.parametrize("module", LOWER)
def test_lower_layers_do_not_import_upwards(module):
    via = _reached(module)
    upwards = sorted(_chain(via, module, name) for name in via if _under(name, ABOVE))
    if _under(module, ("orchestrator.k6",)):
        upwards += sorted(_chain(via, module, name) for name in via if _under(name, ("orchestrator.render",)))
    assert upwards == []


def test_the_scan_sees_an_upward_import():
    # The check must be able to fail: the pipeline does reach the runtimes, through a lazy import too.
    assert "orchestrator.runtimes" in _reached("orchestrator.run.execute")
    assert _imports("def f():\n    from orchestrator.verdict import slo\n") == {"orchestrator.verdict.slo"}
