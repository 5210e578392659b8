"""orchestrator/report/plan_summary.py: a line per k6 scenario of a generated script's plan."""

from __future__ import annotations

import pytest

from orchestrator.report.plan_summary import describe_plan, shape
from orchestrator.config.load import load_config
from orchestrator.k6.features import K6Features
from orchestrator.render.script import render_scenario
from tests.conftest import plan_of, write_config


def test_ramping_vus_collapses_holds_and_adds_the_stage_durations():
    options = {"executor": "ramping-vus", "startVUs": 0, "stages": [
        {"duration": "1m", "target": 2000}, {"duration": "2m", "target": 5000}, {"duration": "10m", "target": 10000},
        {"duration": "5m", "target": 10000}, {"duration": "5m", "target": 0}]}
    assert shape(options) == "0 → 2,000 → 5,000 → 10,000 → 0 VUs over 23m 00s"


def test_ramping_arrival_rate_names_its_time_unit():
    options = {"executor": "ramping-arrival-rate", "startRate": 5, "timeUnit": "1m",
               "stages": [{"duration": "30s", "target": 50}]}
    assert shape(options) == "5 → 50 iterations per 1m over 30 s"


def test_ramping_without_stages_or_with_unreadable_durations():
    assert shape({"executor": "ramping-vus"}) == "0 VUs over 0 ms"
    assert shape({"executor": "ramping-vus", "stages": [{"duration": "soon", "target": 3}, {"target": 3}]}) == \
        "0 → 3 VUs over 0 ms"


@pytest.mark.parametrize("options, expected", [
    ({"executor": "constant-vus", "vus": 4, "duration": "20s"}, "4 VUs for 20s"),
    ({"executor": "constant-vus"}, "1 VUs for ?"),
    ({"executor": "constant-arrival-rate", "rate": 100, "timeUnit": "1s", "duration": "1m", "preAllocatedVUs": 10,
      "maxVUs": 50}, "100 iterations per 1s for 1m (up to 50 VUs)"),
    ({"executor": "constant-arrival-rate", "rate": 100, "duration": "1m", "preAllocatedVUs": 10},
     "100 iterations per 1s for 1m (up to 10 VUs)"),
    ({"executor": "per-vu-iterations", "iterations": 3, "vus": 2}, "3 iterations, 2 VUs"),
    ({"executor": "shared-iterations", "iterations": 1000, "vus": 20}, "1,000 iterations, 20 VUs"),
    ({"executor": "externally-controlled"}, "externally-controlled"),
    ({}, ""),
])
def test_each_executor(options, expected):
    assert shape(options) == expected


def test_describe_plan_one_entry_per_k6_scenario_skipping_junk():
    plan = {"scenarios": {"main": {"executor": "constant-vus", "vus": 2, "duration": "5s"}, "junk": "text"}}
    assert describe_plan(plan) == [{"part": "main", "executor": "constant-vus", "shape": "2 VUs for 5s"}]
    assert describe_plan({}) == [] and describe_plan({"scenarios": None}) == [] and describe_plan("x") == []


def test_describe_plan_of_a_generated_script(tmp_path):
    # The plan perfctl renders (conftest.plan_of runs the real renderer): the line reads its numbers.
    config = """
version: 1
scenarios:
  main:
    executor: ramping-vus
    start_vus: 0
    stages: [{duration: 10s, target: 5}, {duration: 20s, target: 5}, {duration: 5s, target: 0}]
    requests: [{name: h, path: /health}]
"""
    loaded = load_config(write_config(tmp_path / "perfctl.yaml", config))
    parts = describe_plan(plan_of(render_scenario(loaded, "main", K6Features((1, 1, 0))).text))
    assert [(p["executor"], p["shape"]) for p in parts] == [("ramping-vus", "0 → 5 → 0 VUs over 35 s")]
