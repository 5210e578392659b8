"""`perfctl stack compose`: write the compose file, Prometheus config and objectives dashboard
generated from orchestrator/monitoring/services.py and dashboards.py (a test keeps the committed copies equal)."""

from __future__ import annotations

from pathlib import Path

from orchestrator import console
from orchestrator.monitoring.dashboards import OBJECTIVES_FILE, objectives_dashboard_text
from orchestrator.ledger.store import write_output
from orchestrator.monitoring.prometheus_config import prometheus_config_text
from orchestrator.monitoring.services import compose_config, compose_yaml

COMPOSE_FILE = Path("docker-compose.yml")
PROMETHEUS_FILE = Path("monitoring/prometheus/prometheus.yml")
OBJECTIVES_DASHBOARD = Path("monitoring/grafana/objectives") / OBJECTIVES_FILE


def generated_files() -> dict[Path, str]:
    config = compose_config()
    return {
        COMPOSE_FILE: compose_yaml(config),
        PROMETHEUS_FILE: prometheus_config_text(config),
        OBJECTIVES_DASHBOARD: objectives_dashboard_text(config),
    }


def compose(directory: Path) -> int:
    for relative, text in generated_files().items():
        path = directory / relative
        write_output(path, text)
        console.info(f"wrote {path}")
    return 0
