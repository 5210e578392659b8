"""Gate pieces without servers: the live gate's breach/grace logic (Prometheus replaced at its
seam by scripted values), the new objective fields, baselines from a ledger on disk, and
`history` reading only what it shows."""

from __future__ import annotations

import json

import pytest

from orchestrator.verdict import baseline
from orchestrator.verdict import gate
from orchestrator.commands import history
from orchestrator.config.load import validate_data
from orchestrator.errors import ConfigError, EnvironmentProblem
from orchestrator.ledger.store import Ledger, RunDir
from orchestrator.verdict.live_gate import LiveGate

SCENARIOS = {"s": {"vus": 1, "duration": "1s", "requests": [{"name": "h", "path": "/"}]}}


def config(objectives, gate_settings=None):
    return validate_data({"scenarios": SCENARIOS, "objectives": objectives, "gate": gate_settings or {}})


class ScriptedPrometheus:
    """Answers scalar() with the next scripted value; records the queries and times."""

    def __init__(self, values):
        self.values = list(values)
        self.asked = []

    def scalar(self, promql, *, at=None):
        self.asked.append((promql, at))
        value = self.values.pop(0)
        if isinstance(value, Exception):
            raise value
        return value


LOOP = {"name": "loop", "sli": "loop_rate_min", "job": "backend", "pass": ">= 90", "warning": ">= 80", "live": True, "grace": "4s"}


def live(values, objectives=(LOOP,), interval="2s"):
    cfg = config(list(objectives), {"live_interval": interval})
    clock = {"now": 1000.0}
    prom = ScriptedPrometheus(values)
    g = LiveGate(cfg, prom, cfg.objectives, run_id="r1", start=1000.0, clock=lambda: clock["now"])
    return g, prom, clock


def step(g, clock, seconds):
    clock["now"] += seconds
    return g.poll()


def test_a_breach_longer_than_grace_stops_the_run():
    g, prom, clock = live([50.0, 50.0, 50.0])
    assert step(g, clock, 2) is None  # first breach at t=2
    assert step(g, clock, 2) is None  # 2 s of breach < 4 s grace
    reason = step(g, clock, 2)  # 4 s: stop
    assert reason and "live objective 'loop'" in reason and "50" in reason
    assert g.stopped.breached_seconds == 4
    # The check pins its query to now, over a recent window of the backend's job.
    query, at = prom.asked[-1]
    assert at == 1006.0 and 'job="backend"' in query
    assert step(g, clock, 2) == reason and len(prom.asked) == 3  # no more queries once stopped


def test_a_passing_or_warning_check_ends_the_breach_and_no_data_keeps_it():
    g, _, clock = live([50.0, 85.0, 50.0, 50.0, None, 50.0])
    assert step(g, clock, 2) is None  # breach starts at 1002
    assert step(g, clock, 2) is None  # warning is not a breach: timer reset
    assert step(g, clock, 2) is None  # breach again from 1006
    assert step(g, clock, 2) is None  # 2 s
    assert step(g, clock, 2) is None  # no data: unknown, the timer runs on
    assert step(g, clock, 2) is not None  # 1014 - 1006 = 8 s >= 4 s


def test_checks_are_rate_limited_and_only_live_objectives_are_checked():
    other = {"name": "errors", "sli": "error_ratio", "pass": "< 0.01"}
    g, prom, clock = live([100.0, 100.0], objectives=(LOOP, other))
    assert step(g, clock, 0.5) is None and prom.asked == []  # before the first interval
    step(g, clock, 1.5)
    step(g, clock, 0.2)  # too soon for another check
    assert len(prom.asked) == 1
    assert bool(live([], objectives=(other,))[0]) is False  # nothing live: no watch at all


def test_an_unreachable_prometheus_does_not_stop_the_run():
    g, _, clock = live([EnvironmentProblem("gone"), 50.0, 50.0, 50.0])
    assert step(g, clock, 2) is None
    assert [step(g, clock, 2) for _ in range(3)][-1] is not None


def test_new_objective_fields_are_validated():
    with pytest.raises(ConfigError) as err:
        config([
            {"name": "a", "sli": "kafka_lag_after", "job": "backend", "pass": "< 5"},
            {"name": "b", "sli": "loop_rate_min", "job": "backend", "pass": ">= -5%", "live": True},
            {"name": "c", "sli": "error_ratio", "pass": "< 1", "drain_seconds": "5s"},
            {"name": "d", "sli": "error_ratio", "pass": "< 1", "grace": "-1s"},
        ], {"baseline_runs": 0})
    text = "\n".join(err.value.lines)
    assert "objectives[0].drain_seconds" in text and "needs drain_seconds" in text
    assert "objectives[1].live" in text and "absolute" in text
    assert "objectives[2].drain_seconds" in text
    assert "objectives[3].grace" in text
    assert "gate.baseline_runs" in text


def test_drain_objectives_are_measured_after_the_end():
    cfg = config([{"name": "a", "sli": "kafka_lag_after", "job": "b", "drain_seconds": "5s", "pass": "< 5"},
                  {"name": "e", "sli": "error_ratio", "pass": "< 1"}])
    window = gate.Window(100.0, 110.0)
    assert [gate.measure_time(o, window) for o in cfg.objectives] == [115.0, 110.0]
    assert gate.drain_deadline(cfg.objectives, window, 0.5) == 116.0
    assert gate.drain_deadline(cfg.objectives[1:], window, 0.5) == 110.0


def test_custom_query_placeholders_are_all_filled():
    ctx = gate.QueryContext("run-1", gate.Window(1000.0, 1021.5), scrape_interval=0.5, push_interval=1.0)
    text = " ".join(gate.PLACEHOLDERS)
    filled = ctx.fill(text, job="backend")
    assert filled.split() == ["run-1", "22s", "1000.000", "1021.500", "21.500", "backend", "2s", "500ms", "3s"]
    assert "$" not in filled


def write_run(root, run_id, scenario, result, values, *, verdict=True):
    run = root / run_id
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"schema": "perfctl.run/v1", "id": run_id, "scenario": scenario, "result": result}))
    if verdict:
        objectives = [{"name": n, "value": v} for n, v in values.items()]
        (run / "verdict.json").write_text(json.dumps({"scenario": scenario, "result": result, "objectives": objectives}))


def test_last_pass_is_the_mean_of_the_newest_passing_runs_of_the_scenario(tmp_path):
    write_run(tmp_path, "001", "s", "pass", {"p95": 100.0, "rps": 10.0})
    write_run(tmp_path, "002", "s", "pass", {"p95": 200.0, "rps": "NaN"})
    write_run(tmp_path, "003", "other", "pass", {"p95": 999.0})
    write_run(tmp_path, "004", "s", "fail", {"p95": 999.0})
    write_run(tmp_path, "005", "s", "pass", {"p95": 300.0, "rps": None})
    write_run(tmp_path, "006", "s", "pass", {"p95": 1.0})
    found = baseline.resolve(Ledger(tmp_path), "last-pass", scenario="s", runs_wanted=3, exclude="006")
    assert found.runs == ("005", "002", "001")
    assert found.values == {"p95": 200.0, "rps": 10.0}
    assert baseline.resolve(Ledger(tmp_path), "last-pass", scenario="none", runs_wanted=3).runs == ()
    one = baseline.resolve(Ledger(tmp_path), "004", scenario="s", runs_wanted=3)
    assert one.runs == ("004",) and one.values == {"p95": 999.0}


def test_history_of_a_scenario_reads_only_the_verdicts_it_shows(tmp_path, monkeypatch):
    for i in range(3000):
        write_run(tmp_path, f"{i:05d}", "a" if i % 10 else "b", "pass", {"p95": float(i)}, verdict=(i % 10 == 0))
    opened = []
    real = RunDir.read_json

    def counting(self, name):
        opened.append(name)
        return real(self, name)

    monkeypatch.setattr(RunDir, "read_json", counting)
    rows = history.run_rows(Ledger(tmp_path), scenario="b", limit=5)
    assert [r["id"] for r in rows] == ["02950", "02960", "02970", "02980", "02990"]
    assert opened.count("verdict.json") == 5
    assert opened.count("run.json") <= 50  # the newest runs until five of `b` were found


def test_custom_queries_on_the_runs_k6_series_get_the_k6_gap_check():
    from orchestrator.config.objectives import Objective
    from orchestrator.verdict.gate import reads_k6_metrics

    custom_k6 = Objective(name="c", query='sum(last_over_time(k6_http_reqs_total{testid="$testid"}[$window]))', **{"pass": "> 0"})
    custom_backend = Objective(name="b", query="max(max_over_time(queue_depth[$window]))", **{"pass": "< 9"})
    assert reads_k6_metrics(custom_k6)
    assert not reads_k6_metrics(custom_backend)
    assert reads_k6_metrics(Objective(name="e", sli="error_ratio", **{"pass": "< 1"}))
    assert not reads_k6_metrics(Objective(name="l", sli="loop_rate_min", job="backend", **{"pass": "> 1"}))
