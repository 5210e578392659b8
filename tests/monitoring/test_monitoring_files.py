"""monitoring/ against the real tools: promtool runs the alert-rule unit tests, and every
PromQL expression of every dashboard panel (the static ones and the objectives dashboard
generated from the config) returns data from a real Prometheus that real k6 runs (HTTP,
WebSocket, and two instances with native histograms; remote write) and the reference
backend filled."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import pytest
import requests

from orchestrator.monitoring import dashboards
from orchestrator.monitoring.prometheus import Prometheus
from orchestrator.monitoring.prometheus_config import prometheus_config_text
from orchestrator.config.load import load_config
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


# The demo example's scenarios this test runs, and the traffic each makes.
RUNS = (
    ("chat-http", ("--duration", "3s"), {"http"}),
    ("websocket", ("--duration", "3s"), {"websocket"}),
    # Two k6 processes: native histograms instead of trend stats (orchestrator/k6/native_histograms.py).
    ("demo", ("--duration", "3s", "--instances", "2"), {"http", "websocket"}),
)
# SLIs whose panel, at the run's end, shows exactly the value the gate graded (cumulative ones).
CUMULATIVE_SLIS = {"error_ratio", "http_p95", "checks", "ws_message_success"}


def _panel_targets(config):
    """(where, expr, applies) for every query of every dashboard Grafana gets for this config:
    the static ones and the objectives dashboard generated from it. applies(scenario, traffic)
    says whether a run of that scenario must give the query data."""
    boards = [json.loads(p.read_text()) for p in sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))]
    boards.append(dashboards.objectives_dashboard(config))
    for board in boards:
        for panel in board["panels"]:
            objective = None
            if board["uid"] == dashboards.OBJECTIVES_UID:
                objective = config.objectives[panel["id"] - 1]
                assert panel["title"].startswith(objective.name + ":")
            for target in panel["targets"]:
                # A k6 protocol's panels have data only for runs that make that traffic;
                # an objective's panel for the scenarios the objective applies to.
                needs = {kind for kind, prefix in (("http", "k6_http_"), ("websocket", "k6_ws_"))
                         if prefix in target["expr"]}

                def applies(scenario, traffic, objective=objective, needs=needs):
                    return objective.applies_to(scenario) if objective else needs <= traffic

                yield f"{board['uid']}: {panel['title']} [{target['refId']}]", target["expr"], applies


def _fill(expr: str, *, record: dict, job: str, rate_interval: str = "3s") -> str:
    # Grafana's variables as it would substitute them for this run's time range.
    seconds = record["end"] - record["start"]
    values = {
        "${__from:date:seconds}": f"{record['start']:.3f}",
        "${__to:date:seconds}": f"{record['end']:.3f}",
        "$__rate_interval": rate_interval,
        "$__range_s": f"{math.ceil(seconds)}",
        "$__range": f"{math.ceil(seconds)}s",
        "$__interval": "1s",
        "$testid": record["id"],
        "$job": job,
    }
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(name, values[name])
    assert "$" not in expr, f"an unfilled variable in {expr}"
    return expr


@pytest.mark.e2e
def test_every_dashboard_query_returns_data_for_http_websocket_and_multi_instance_runs(stack):
    """One Prometheus, three real runs: every panel that applies to a run shows its data, the
    percentile panels from trend stats (one k6) and from native histograms (--instances 2) alike,
    and each objective's panel ends on the value the gate graded."""
    config = load_config(stack.config_path).config
    targets = list(_panel_targets(config))
    assert len(targets) >= 30
    prom = Prometheus(stack.prometheus.url)
    missing, differ, checked = [], [], 0
    for scenario, args, traffic in RUNS:
        result = stack.cli("run", scenario, *args)
        assert result.code in (0, 98, 99), result.output  # the verdict does not matter here, the data does
        run = stack.last_run()
        record = json.loads((run / "run.json").read_text())
        assert bool(record.get("k6_native_histograms")) == ("--instances" in args)
        for where, expr, applies in targets:
            if not applies(scenario, traffic):
                continue
            promql = _fill(expr, record=record, job="backend")
            series = prom.query_range(promql, start=record["start"], end=record["end"] + 2, step=1)
            values = [v for _, points in series for _, v in points if not math.isnan(v)]
            checked += 1
            if not values:
                missing.append(f"{scenario}: {where}: {promql}")
        for obj, graded in zip(config.objectives, _graded(stack.verdict(run), config)):
            if obj.sli not in CUMULATIVE_SLIS or graded is None:
                continue
            # Where the panel's line ends: at k6's last sample (its stale markers follow it).
            promql = _fill(dashboards.grafana_query(obj), record=record, job="backend")
            shown = prom.scalar(promql, at=_last_k6_sample(stack.prometheus.url, record))
            if shown is None or not math.isclose(shown, graded, rel_tol=1e-9, abs_tol=1e-12):
                differ.append(f"{scenario}: {obj.name}: panel {shown}, gate {graded}")
    assert checked >= 80  # 25 for chat-http, 24 for websocket, every one of 33 for demo (today)
    assert not missing, "panels without data:\n" + "\n".join(missing)
    assert not differ, "objective panels that end elsewhere than the gate's value:\n" + "\n".join(differ)


def _last_k6_sample(url: str, record: dict) -> float:
    """The time of the run's last k6 sample (a range selector returns samples, never stale markers)."""
    answer = requests.post(f"{url}/api/v1/query", data={
        "query": f'{{testid="{record["id"]}"}}[{math.ceil(record["end"] - record["start"]) + 60}s]',
        "time": f"{record['end'] + 5:.3f}",
    }, timeout=10).json()
    samples = [p for s in answer["data"]["result"] for p in s.get("values", []) + s.get("histograms", [])]
    return max(float(t) for t, _ in samples)


def _graded(verdict: dict, config) -> list[float | None]:
    by_name = {o["name"]: o["value"] for o in verdict["objectives"]}
    return [by_name.get(o.name) for o in config.objectives]
