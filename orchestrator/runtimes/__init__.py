"""Where k6 runs. Every runtime has one shape (runtimes/base.py: `Runtime`, `RuntimeBase`);
this table is the one list of them, read by the CLI's `--runtime` choices, `perfctl run`,
`clean`, `rollback` and `recover`.

Kept free of imports (the CLI reads CHOICES while building `--help`, which must stay fast):
a runtime's module is imported only when the runtime is used.

A new runtime: one module with a RuntimeBase subclass (`for_run`, `run`, and the hooks it
needs), plus one line here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.runtimes.base import Runtime, RunContext

# name -> (its class as "module:Class", chosen by --runtime). ssh follows from --hosts;
# --instances N is the local runtime with N processes (or k8s runners).
REGISTRY: dict[str, tuple[str, bool]] = {
    "local": ("orchestrator.runtimes.local:LocalRuntime", True),
    "docker": ("orchestrator.runtimes.docker:DockerRuntime", True),
    "k8s": ("orchestrator.runtimes.k8s:K8sRuntime", True),
    "ssh": ("orchestrator.runtimes.ssh:SshRuntime", False),
}
CHOICES: tuple[str, ...] = tuple(name for name, (_, offered) in REGISTRY.items() if offered)


def check_choice(runtime: str) -> None:
    if runtime not in CHOICES:
        from orchestrator.errors import UsageError

        raise UsageError(f"--runtime {runtime}: not available in this version (available: {', '.join(CHOICES)})")


def chosen(runtime: str, *, instances: int = 1, hosts: tuple[str, ...] = ()) -> str:
    """The runtime a run uses: --runtime, unless --hosts makes it ssh."""
    check_choice(runtime)
    if runtime == "k8s":
        return runtime  # the operator splits the test itself (k8s.parallelism)
    if hosts:
        return "ssh"
    return runtime


def runtime_class(name: str) -> "type[Runtime]":
    path, _ = REGISTRY[name]
    module_name, _, class_name = path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_runtime(name: str, context: "RunContext") -> "Runtime":
    """The runtime `name` (see `chosen`) built for one run (base.RunContext)."""
    return runtime_class(name).for_run(context)


def runtime_classes() -> "list[type[Runtime]]":
    """Every runtime whose module imports here (a missing optional dependency skips one)."""
    classes = []
    for name in REGISTRY:
        try:
            classes.append(runtime_class(name))
        except ImportError:
            continue
    return classes


def ran_elsewhere(record) -> str | None:  # a ledger RunRecord
    """Where a recorded run's k6 ran when that is not a process of this machine, else None."""
    for runtime in runtime_classes():
        where = runtime.ran_elsewhere(record)
        if where:
            return where
    return None
