"""The shape every monitoring stack has: a Prometheus (and, where it applies, Grafana) that
perfctl makes answer for a config, stops, reports on, and queries.

Two implementations: `local.LocalStack` (a Prometheus process on this machine) and
`stack.DockerStack` (containers). Which one a config uses is decided in one place,
`monitoring.select.for_config`; everyone else holds a `Stack` and does not ask again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from orchestrator.monitoring.prometheus import Prometheus


@dataclass(frozen=True)
class ServiceState:
    """One container of the docker stack, as `perfctl status` shows it."""

    name: str
    container: str
    status: str  # running, exited, ... or "missing"
    url: str


@dataclass(frozen=True)
class StackState:
    """What `perfctl status` says about the stack."""

    url: str  # prometheus.url, a password in it shown as ***
    ready: bool
    managed_pid: int | None  # the Prometheus process perfctl started from this state dir, if it runs
    containers: tuple[ServiceState, ...] | None = None  # the docker stack's; None for a local process


@dataclass(frozen=True)
class Stopped:
    """What `stop` ended or removed. Each command says it in its own words."""

    removed: tuple[str, ...] = ()  # "Prometheus at URL" (local), or container, volume and network names
    data: Path | None = None  # the local data directory that purge removed

    def __bool__(self) -> bool:
        return bool(self.removed)


@runtime_checkable
class Stack(Protocol):
    kind: str  # "local" or "docker": what the config (or --runtime) chose

    @property
    def url(self) -> str:
        """prometheus.url without a trailing slash."""

    def ensure(self) -> bool:
        """Make Prometheus answer at prometheus.url with this config's scrape jobs (a changed
        config is applied to a Prometheus perfctl runs); Grafana too where the stack has it on.
        True if this call started Prometheus. EnvironmentProblem (exit 3) if it cannot."""

    def stop(self, *, purge: bool = False) -> Stopped:
        """Stop what this state dir started; purge also removes the data."""

    def status(self) -> StackState:
        """Whether Prometheus answers, and what perfctl runs for it."""

    def client(self) -> "Prometheus":
        """The client of the config's Prometheus (headers, token, TLS), built once per stack."""
