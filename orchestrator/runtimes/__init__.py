"""Where k6 runs: `local` (a child process) or `docker` (a container), one call shape.

`make_runtime` picks one by the name given to `--runtime`.
"""

from __future__ import annotations

from orchestrator.config import LoadedConfig
from orchestrator.errors import UsageError

RUNTIME_NAMES = ("local", "docker")


def make_runtime(name: str, loaded: LoadedConfig):
    if name == "local":
        from orchestrator.runtimes.local import LocalRuntime

        return LocalRuntime()
    if name == "docker":
        from orchestrator.runtimes.docker import DockerRuntime

        return DockerRuntime.for_config(loaded)
    raise UsageError(f"--runtime {name}: not available in this version (available: {', '.join(RUNTIME_NAMES)})")


def runtime_details(runtime) -> dict:
    """Extra facts run.json records about where k6 ran (the container of the docker runtime)."""
    details = getattr(runtime, "details", None)
    return details() if callable(details) else {}


def k6_window(runtime, start: float, end: float) -> tuple[float, float]:
    """When k6 ran. A container's creation and removal take seconds that are no part of the
    test window (the gate would read them as gaps), so the docker runtime reports its own."""
    own = getattr(runtime, "ran", None)
    return own if own else (start, end)
