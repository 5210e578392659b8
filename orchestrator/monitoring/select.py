"""Which monitoring stack a config uses: the one place that reads prometheus.runtime.

Everything that needs Prometheus (commands, the run, recover, evaluate, rollback) asks
`for_config(loaded)` once and holds the Stack it gets: its `client()` is the one Prometheus
client of that command or run, wherever Prometheus runs (a local process, a container, or a
managed store at prometheus.url that perfctl only queries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.errors import UsageError
from orchestrator.monitoring.services import LOOPBACK_BIND

if TYPE_CHECKING:
    from orchestrator.config.model import LoadedConfig
    from orchestrator.monitoring.base import Stack


def for_config(loaded: "LoadedConfig", *, runtime: str | None = None, grafana: bool | None = None,
               bind: str = LOOPBACK_BIND) -> "Stack":
    """The config's stack: prometheus.runtime, or `runtime` (start/stop-monitoring's --runtime).
    `grafana` (None: grafana.enabled) and `bind` (where containers listen) apply to docker."""
    kind = runtime or loaded.config.prometheus.runtime
    if kind == "docker":
        from orchestrator.monitoring.stack import DockerStack

        return DockerStack(loaded, grafana_enabled=grafana, bind=bind)
    if bind != LOOPBACK_BIND:
        raise UsageError("--bind: only for --runtime docker; the local Prometheus listens where prometheus.url says")
    from orchestrator.monitoring.local import LocalStack

    return LocalStack(loaded)
