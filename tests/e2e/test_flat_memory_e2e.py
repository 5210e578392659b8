"""Flat memory (k6/memory.py) end to end: real k6 with --no-thresholds and no summary, a real
Prometheus from nothing, the reference backend. k6's thresholds are judged by the gate from
Prometheus, an abortOnFail one stops the run through the live gate, and summary.json is
perfctl's, computed from the same series.

The exactness check runs k6 once the exact way with native histograms on: k6's own summary
and threshold verdicts beside the numbers perfctl computes from that run's series."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from orchestrator.config.load import load_config
from orchestrator.k6 import prom_summary
from orchestrator.k6.thresholds import K6Threshold, metric_kinds, objective_of
from orchestrator.monitoring.prometheus import Prometheus
from orchestrator.verdict import gate
from orchestrator.verdict import slo
from tests.conftest import demo_stack

pytestmark = pytest.mark.e2e

PASSING = {
    "http_req_duration": ["p(95)<2000", "avg<2000", "med<2000"],
    "http_req_failed": ["rate<0.01"],
    "checks": ["rate>0.99"],
    "http_reqs": ["count>10"],
    "vus": ["value<=4"],
}


def _flat(thresholds: dict, request_thresholds: dict | None = None, memory: str = "flat"):
    def edit(config_path):
        data = yaml.safe_load(config_path.read_text())
        data["k6"]["memory"] = memory
        scenario = data["scenarios"]["chat-http"]
        scenario["thresholds"] = thresholds
        if request_thresholds:
            scenario["requests"][0]["thresholds"] = request_thresholds  # send_message
        config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return edit


def _grades(verdict: dict) -> dict:
    return {o["name"]: o for o in verdict["objectives"]}


def test_a_flat_run_is_judged_from_prometheus_on_a_fresh_machine(tmp_path):
    edit = _flat(PASSING, {"http_req_duration": ["p(95)<1500"]})
    with demo_stack(tmp_path, edit=edit) as stack:
        result = stack.cli("run", "chat-http", "--duration", "5s", "--run-id", "flat")
        assert result.code == 0, result.output
        assert "k6 memory: flat (k6.memory: flat)" in result.stderr, result.stderr
        run = stack.workspace / "results" / "flat"
        record = json.loads((run / "run.json").read_text())
        assert record["k6_memory"]["mode"] == "flat" and record["k6_native_histograms"] is True
        argv = record["k6"]["argv"]
        assert "--no-thresholds" in argv and "--no-summary" in argv and "--summary-export" not in argv

        # summary.json is perfctl's, from Prometheus: the same shape, the same requests.
        summary = json.loads((run / "summary.json").read_text())
        assert summary["perfctl"]["source"] == "prometheus"
        metrics = summary["metrics"]
        requests = metrics["http_reqs"]["count"]
        assert requests > 20 and metrics["http_reqs"]["rate"] == pytest.approx(requests / summary["perfctl"]["run_seconds"])
        duration = metrics["http_req_duration"]
        assert 0 < duration["min"] <= duration["med"] <= duration["p(95)"] <= duration["p(99)"] <= duration["max"]
        assert metrics["http_req_failed"] == {"passes": 0, "fails": requests, "value": 0.0}
        assert metrics["vus_max"]["value"] == 4 and metrics["iterations"]["count"] > 0

        verdict = stack.verdict(run)
        assert verdict["result"] == "pass", verdict["reasons"]
        names = [o["name"] for o in verdict["objectives"]]
        assert len(names) == len(set(names)), names  # each threshold judged once
        grades = _grades(verdict)
        assert "k6_thresholds" not in grades  # k6 judged none itself
        judged = {name: g for name, g in grades.items() if name.startswith("k6:")}
        assert set(judged) == {
            "k6:http_req_duration:p(95)<2000", "k6:http_req_duration:avg<2000", "k6:http_req_duration:med<2000",
            "k6:http_req_failed:rate<0.01", "k6:checks:rate>0.99", "k6:http_reqs:count>10", "k6:vus:value<=4",
            "k6:http_req_duration{name:send_message}:p(95)<1500",
        }
        assert all(g["result"] == "pass" and g["value"] is not None and g["key"] for g in judged.values()), judged
        assert judged["k6:http_reqs:count>10"]["value"] == requests
        # The headline's p95 and the threshold's value are one number: the same histogram.
        assert judged["k6:http_req_duration:p(95)<2000"]["value"] == pytest.approx(duration["p(95)"])
        row = next(r for r in verdict["k6"]["requests"] if r["name"] == "send_message")
        assert row["thresholds"] == [{"metric": "http_req_duration", "text": "p(95)<1500", "failed": False}]
        assert "flat" in verdict["k6_memory"]["said"] and verdict["k6_memory"]["why"] == "k6.memory: flat"
        assert "k6 memory: flat" in (run / "report.md").read_text()

        # Judged again later (`evaluate`), the run is read the way it ran.
        again = stack.cli("evaluate", "flat")
        assert again.code == 0, again.output
        assert "k6:http_reqs:count>10" in again.stdout


def test_a_failed_threshold_fails_the_gate_and_abort_on_fail_stops_the_run(tmp_path):
    thresholds = {
        "http_req_duration": ["p(95)<0.001"],  # no loopback request is that fast: fails at the end
        "http_reqs": [{"threshold": "count<15", "abort_on_fail": True, "delay_abort_eval": "1s"}],
    }
    with demo_stack(tmp_path, edit=_flat(thresholds)) as stack:
        planned = 40
        started = time.monotonic()
        result = stack.cli("run", "chat-http", "--duration", f"{planned}s", "--run-id", "abort")
        took = time.monotonic() - started
        assert result.code == 99, result.output
        run = stack.workspace / "results" / "abort"
        record = json.loads((run / "run.json").read_text())
        # The live gate stopped k6 as k6's own abortOnFail would have, long before the plan's end.
        assert record["live_gate"]["objective"] == "k6:http_reqs:count<15", record["live_gate"]
        assert took < planned, took
        grades = _grades(stack.verdict(run))
        assert grades["k6:http_req_duration:p(95)<0.001"]["result"] == "fail"
        assert grades["k6:http_reqs:count<15"]["result"] == "fail" and grades["k6:http_reqs:count<15"]["value"] >= 15
        assert grades["live_gate"]["result"] == "fail"


def test_a_threshold_the_metric_cannot_take_is_refused_before_any_load(tmp_path):
    with demo_stack(tmp_path, edit=_flat({"http_req_duration": ["count>1"]})) as stack:
        result = stack.cli("run", "chat-http", "--duration", "5s")
        assert result.code == 2, result.output
        assert "http_req_duration is a trend, which takes avg, min, max, med or p(N)" in result.stderr
        assert "Traceback" not in result.output and not stack.runs()


def test_flat_numbers_match_k6s_own_on_the_same_run(tmp_path):
    """One exact run with native histograms: k6's summary and threshold verdicts against what a
    flat run would compute from the same series (k6/prom_summary.py, k6/thresholds.py)."""
    thresholds = {**PASSING, "http_req_duration": ["p(95)<2000", "p(95)<0.001"]}

    def edit(config_path):
        _flat(thresholds, memory="exact")(config_path)
        data = yaml.safe_load(config_path.read_text())
        data["k6"]["native_histograms"] = True
        config_path.write_text(yaml.safe_dump(data, sort_keys=False))

    with demo_stack(tmp_path, edit=edit) as stack:
        result = stack.cli("run", "chat-http", "--duration", "5s", "--run-id", "exact")
        assert result.code == 99, result.output  # k6's own p(95)<0.001 failed
        run = stack.workspace / "results" / "exact"
        record = json.loads((run / "run.json").read_text())
        exact = json.loads((run / "summary.json").read_text())["metrics"]
        loaded = load_config(stack.config_path)
        prom = Prometheus(loaded.config.prometheus.url)
        window = gate.Window(record["start"], record["end"])
        ctx = gate.QueryContext("exact", window, loaded.config.prometheus.scrape_interval, loaded.config.k6.push_interval)
        computed = prom_summary.build(prom, ctx.fill, at=window.end, seconds=window.seconds)["metrics"]

        for counter in ("http_reqs", "iterations", "data_sent", "data_received"):
            assert computed[counter]["count"] == exact[counter]["count"], counter
        assert computed["http_req_failed"]["value"] == exact["http_req_failed"]["value"]
        assert computed["http_req_duration"]["avg"] == pytest.approx(exact["http_req_duration"]["avg"], rel=1e-6)
        # Native histograms (schema 3 here): a bucket spans ~9%; interpolation can land anywhere in it.
        for key in ("med", "p(90)", "p(95)"):
            assert computed["http_req_duration"][key] == pytest.approx(exact["http_req_duration"][key], rel=0.2), key
        assert computed["http_req_duration"]["max"] >= exact["http_req_duration"]["max"] * 0.9

        # Every threshold: the gate's reading of it agrees with k6's own verdict on the same run.
        kinds = metric_kinds()
        for key, items in thresholds.items():
            for text in items:
                objective = objective_of(K6Threshold(key, text), kinds)
                value = prom.scalar(gate.objective_query(objective, ctx), at=window.end)
                graded = slo.grade(gate.spec_of(objective), value)
                k6_failed = exact[key]["thresholds"][text]
                assert (graded.result is slo.Result.FAIL) == k6_failed, (key, text, value)


def test_a_flat_run_whose_perfctl_died_is_recovered_without_a_k6_summary(tmp_path):
    from tests.test_survive_support import k6_ref, k6_started, record, start_perfctl, stop_leftovers, wait_for, wait_k6_progress

    with demo_stack(tmp_path, edit=_flat(PASSING)) as stack:
        proc = start_perfctl(stack, "run", "chat-http", "--duration", "5s")
        run = None
        try:
            run = k6_started(stack)
            wait_k6_progress(run, 1)
            proc.kill()  # perfctl dies; k6 goes on to the end of its plan
            proc.wait(timeout=10)
            k6 = k6_ref(run)
            wait_for(lambda: not k6.alive(), timeout=60, what="k6 to end on its own")
            assert not (run / "summary.json").exists()  # a flat k6 writes none

            result = stack.cli("recover", run.name)
            assert result.code == 0, result.output
            final = record(run)
            assert final["status"] == "finished" and final["k6_exit_code"] == 0, final
            assert final["k6_exit_inferred"] == "k6's last lines (every scenario done)"
            assert json.loads((run / "summary.json").read_text())["perfctl"]["source"] == "prometheus"
            grades = _grades(json.loads((run / "verdict.json").read_text()))
            assert grades["k6:http_reqs:count>10"]["result"] == "pass", grades
            assert all(g["value"] is not None for name, g in grades.items() if name.startswith("k6:")), grades
        finally:
            if proc.poll() is None:
                proc.kill()
            stop_leftovers(run)
