"""monitoring/ against the real tools: promtool runs the alert-rule unit tests, and every
PromQL expression of every dashboard panel returns data from a real Prometheus that a
real k6 run (HTTP + WebSocket, remote write) and the reference backend filled."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import pytest

from orchestrator.prometheus import Prometheus
from orchestrator.stack import prometheus_config_text
from orchestrator.config import load_config
from tests.conftest import REPO

MONITORING = REPO / "monitoring"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")


@needs_promtool
def test_alert_rules_pass_their_promtool_unit_tests():
    tests = sorted((MONITORING / "prometheus" / "tests").glob("*.yml"))
    assert tests
    proc = subprocess.run([PROMTOOL, "test", "rules", *map(str, tests)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_promtool
def test_promtool_accepts_the_rules_and_a_generated_config(tmp_path):
    rules = MONITORING / "prometheus" / "rules"
    check = subprocess.run([PROMTOOL, "check", "rules", *map(str, rules.glob("*.yml"))], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    config = load_config(REPO / "examples/demo/perfctl.yaml", environ={}).config
    path = tmp_path / "prometheus.yml"
    path.write_text(prometheus_config_text(config, rules_dir=str(rules)))
    check = subprocess.run([PROMTOOL, "check", "config", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "4 rules found" in check.stdout


def _panel_queries():
    for path in sorted((MONITORING / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                yield f"{dashboard['uid']}: {panel['title']} [{target['refId']}]", target["expr"]


def _fill(expr: str, *, testid: str, job: str, rate_interval: str) -> str:
    # Grafana's variables as it would substitute them for this run.
    for name, value in (("$__rate_interval", rate_interval), ("$testid", testid), ("$job", job)):
        expr = expr.replace(name, value)
    assert "$" not in expr, f"an unfilled variable in {expr}"
    return expr


@pytest.mark.e2e
def test_every_dashboard_query_returns_data_for_a_real_run(stack):
    result = stack.cli("run", "demo", "--duration", "4s")
    assert result.code in (0, 98, 99), result.output  # the verdict does not matter here, the data does
    record = json.loads((stack.last_run() / "run.json").read_text())
    prom = Prometheus(stack.prometheus.url)
    missing = []
    queries = list(_panel_queries())
    assert len(queries) >= 20
    for where, expr in queries:
        promql = _fill(expr, testid=record["id"], job="backend", rate_interval="3s")
        series = prom.query_range(promql, start=record["start"], end=record["end"] + 2, step=1)
        values = [v for _, points in series for _, v in points if not math.isnan(v)]
        if not values:
            missing.append(f"{where}: {promql}")
    assert not missing, "panels without data:\n" + "\n".join(missing)
