"""Guards: a run whose every request failed cannot pass, and a run that sent nothing is
never a pass. Real k6, a real Prometheus, a real target answering 500 to everything."""

from __future__ import annotations

import json

import pytest
import yaml

from orchestrator.verdict import guards
from orchestrator.config.load import validate_data
from orchestrator.config.schema import json_schema
from orchestrator.errors import ConfigError
from tests.answering_server import AnsweringServer
from tests.conftest import demo_stack, run_cli

P95_ONLY = [{"name": "p95", "sli": "http_p95", "pass": "< 1"}]


def config_with(objectives, gate=None, **scenarios):
    data = {
        "scenarios": scenarios or {
            "api": {"vus": 1, "duration": "1s", "requests": [{"name": "home", "path": "/"}]},
            "chat": {"protocol": "websocket", "vus": 1, "duration": "1s"},
            "both": {"include": ["api", "chat"]},
        },
        "objectives": objectives,
    }
    if gate is not None:
        data["gate"] = gate
    return validate_data(data)


# ---- which guards a scenario gets ----------------------------------------------------------------


def test_no_objective_on_errors_gets_a_guard_per_kind_of_traffic():
    config = config_with(P95_ONLY)
    assert [g.name for g in guards.guard_objectives(config, "api")] == ["guard:errors"]
    assert [g.name for g in guards.guard_objectives(config, "chat")] == ["guard:ws_messages"]
    assert [g.name for g in guards.guard_objectives(config, "both")] == ["guard:errors", "guard:ws_messages"]
    http, ws = guards.guard_objectives(config, "both")
    assert (http.sli, http.pass_, http.key, http.weight) == ("error_ratio", "< 0.05", True, 0.0)
    assert (ws.query, ws.pass_, ws.key, ws.weight) == (guards.WS_GUARD_QUERY, ">= 0.95", True, 0.0)


@pytest.mark.parametrize("watcher, unguarded", [
    ({"sli": "error_ratio"}, {"chat"}),
    ({"sli": "checks"}, set()),
    ({"sli": "ws_message_success"}, {"api"}),
    ({"query": 'max(last_over_time(k6_http_req_failed_rate{testid="$testid"}[$window]))'}, {"chat"}),
    ({"query": 'sum(k6_http_reqs_total{testid="$testid",expected_response="false"})'}, {"chat"}),
    ({"query": 'min(last_over_time(k6_checks_rate{testid="$testid"}[$window]))'}, set()),
    ({"query": 'min(last_over_time(k6_ws_reply_success_rate{testid="$testid"}[$window]))'}, {"api"}),
    # Counting requests is not watching their failures.
    ({"query": 'sum(last_over_time(k6_http_reqs_total{testid="$testid"}[$window]))'}, {"api", "chat"}),
])
def test_an_objective_that_watches_errors_replaces_the_guard(watcher, unguarded):
    config = config_with(P95_ONLY + [{"name": "watch", "pass": "< 1", **watcher}])
    guarded = {s for s in ("api", "chat") if guards.guard_objectives(config, s)}
    assert guarded == unguarded


def test_the_guards_limits_are_configurable_and_off_only_explicitly():
    tuned = config_with(P95_ONLY, gate={"guards": {"http_failed_max": 0.01, "ws_success_min": 0.99}})
    assert [g.pass_ for g in guards.guard_objectives(tuned, "both")] == ["< 0.01", ">= 0.99"]
    off = config_with(P95_ONLY, gate={"guards": {"enabled": False}})
    assert guards.guard_objectives(off, "both") == []
    assert guards.note(off, "both") == guards.OFF_NOTE and "the user's choice" in guards.OFF_NOTE
    assert guards.describe(off, "api") == guards.OFF_NOTE
    assert guards.note(config_with(P95_ONLY), "api") is None
    schema = json_schema()["$defs"]["GuardSettings"]["properties"]
    assert set(schema) == {"enabled", "http_failed_max", "ws_success_min"}
    with pytest.raises(ConfigError) as refused:
        config_with(P95_ONLY, gate={"guards": {"http_failed_max": 0}})
    assert [line.startswith("gate.guards.http_failed_max: must be > 0") for line in refused.value.lines] == [True]


def test_no_objectives_at_all_stay_inconclusive_without_guards():
    # "no objectives configured" says more than a guard would.
    assert guards.guard_objectives(config_with([]), "api") == []


def test_a_hand_written_script_is_guarded_on_http():
    assert [g.name for g in guards.guard_objectives(config_with(P95_ONLY), "own-script")] == ["guard:errors"]


def test_nothing_sent_is_inconclusive_something_sent_is_no_grade(tmp_path):
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"metrics": {"iterations": {"count": 5}, "vus": {"value": 1}}}))
    assert guards.sent_in_summary(summary) == 0
    grade = guards.no_traffic_grade(0, from_summary=True)
    assert grade.result.value == "inconclusive" and grade.reason.startswith("k6 sent no requests")
    summary.write_text(json.dumps({"metrics": {"ws_sessions": {"count": 3}}}))
    assert guards.sent_in_summary(summary) == 3 and guards.no_traffic_grade(3, from_summary=True) is None
    assert guards.sent_in_summary(tmp_path / "missing.json") is None
    assert "no summary" in guards.no_traffic_grade(None, from_summary=False).reason


# ---- real runs -------------------------------------------------------------------------------------


def _aim_at(server, objectives, gate=None):
    def edit(path):
        data = yaml.safe_load(path.read_text())
        data["target"]["base_url"] = server.url
        data["target"]["health_path"] = None  # the failing target fails /health too; the guard is the point
        data["objectives"] = objectives
        if gate is not None:
            data["gate"] = gate
        path.write_text(yaml.safe_dump(data))

    return edit


def _variant(stack, name, **changes):
    data = yaml.safe_load(stack.config_path.read_text())
    data.update(changes)
    path = stack.workspace / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.e2e
def test_every_request_failing_fails_the_guard_and_off_is_the_users_choice(tmp_path):
    with AnsweringServer(500) as server, demo_stack(tmp_path / "ws", edit=_aim_at(server, P95_ONLY)) as stack:
        checked = stack.cli("validate")
        assert checked.code == 0, checked.output
        assert "guard:errors (failed HTTP requests < 0.05, key)" in checked.output

        result = stack.cli("run", "chat-http", "--duration", "3s")
        assert result.code == 99, result.output
        assert "guard:errors" in result.output
        verdict = stack.verdict()
        assert verdict["result"] == "fail"
        grades = {o["name"]: o for o in verdict["objectives"]}
        assert grades["p95"]["result"] == "pass"  # a 500 answers fast: p95 alone would have passed
        assert grades["guard:errors"]["result"] == "fail" and grades["guard:errors"]["value"] == 1
        assert any("key objective 'guard:errors' failed" in r for r in verdict["reasons"])
        assert "guard:errors: perfctl's guard, added because no objective watches errors (gate.guards)" in verdict["reasons"]
        assert verdict["guards"] == {"enabled": True, "note": None, "added": ["guard:errors"]}
        assert server.count > 20
        # Without k6's summary the request count comes from Prometheus: requests were sent.
        failed_run = stack.last_run()
        (failed_run / "summary.json").unlink()
        again = stack.cli("evaluate", failed_run.name, "--json")
        assert again.code == 99, again.output
        assert "k6_requests" not in by_name(json.loads(again.stdout))

        off = _variant(stack, "off", gate={"guards": {"enabled": False}})
        result = run_cli("run", "chat-http", "--duration", "3s", "-c", str(off), cwd=stack.workspace)
        assert result.code == 0, result.output
        assert "guards off: the user's choice" in result.output
        verdict = stack.verdict()
        assert verdict["result"] == "pass" and [o["name"] for o in verdict["objectives"]] == ["p95"]
        assert guards.OFF_NOTE in verdict["reasons"] and verdict["guards"]["note"] == guards.OFF_NOTE
        assert guards.OFF_NOTE in (stack.last_run() / "report.md").read_text()


@pytest.mark.e2e
def test_a_run_that_sent_no_requests_is_never_a_pass(tmp_path):
    # Only a backend objective, guards off: before this rule the healthy backend made it a pass.
    objectives = [{"name": "up", "sli": "target_up", "job": "backend", "pass": "== 1"}]
    with AnsweringServer(200) as server, demo_stack(
        tmp_path / "ws", edit=_aim_at(server, objectives, gate={"guards": {"enabled": False}})
    ) as stack:
        script = stack.workspace / "idle.js"
        script.write_text(
            "import { sleep } from 'k6';\n"
            "export const options = { vus: 1, duration: '3s' };\n"
            "export default function () { sleep(0.5); }\n"
        )
        result = stack.cli("run", "idle", "--script", str(script))
        assert result.code == 98, result.output
        verdict = stack.verdict()
        assert verdict["result"] == "inconclusive"
        assert by_name(verdict)["up"]["result"] == "pass"
        assert any("k6 sent no requests" in r for r in verdict["reasons"]), verdict["reasons"]
        assert server.count == 0
        # Without a summary, Prometheus has no request counter of the run either: still no pass.
        (stack.last_run() / "summary.json").unlink()
        again = stack.cli("evaluate", stack.last_run().name, "--json")
        assert again.code == 98, again.output
        assert "no request counters of this run in Prometheus" in by_name(json.loads(again.stdout))["k6_requests"]["reason"]


def by_name(verdict):
    return {o["name"]: o for o in verdict["objectives"]}


@pytest.mark.e2e
def test_websocket_sessions_that_never_connect_fail_the_ws_guard(tmp_path):
    # The 500 server refuses every WebSocket upgrade: no message is ever sent or answered.
    objectives = [{"name": "connect", "sli": "ws_connect_p95", "pass": "< 5"}]
    with AnsweringServer(500) as server, demo_stack(tmp_path / "ws", edit=_aim_at(server, objectives)) as stack:
        result = stack.cli("run", "websocket", "--duration", "3s")
        assert result.code == 99, result.output
        grade = by_name(stack.verdict())["guard:ws_messages"]
        assert grade["result"] == "fail" and grade["value"] == 0, grade
        assert by_name(stack.verdict())["connect"]["result"] == "pass"


@pytest.mark.e2e
def test_a_healthy_target_passes_both_guards(tmp_path):
    objectives = P95_ONLY + [{"name": "connect", "sli": "ws_connect_p95", "pass": "< 5", "scenarios": ["websocket", "demo"]}]

    def edit(path):
        data = yaml.safe_load(path.read_text())
        data["objectives"] = objectives
        path.write_text(yaml.safe_dump(data))

    with demo_stack(tmp_path / "ws", edit=edit) as stack:  # the reference backend, no fault
        result = stack.cli("run", "demo", "--duration", "4s")
        assert result.code == 0, result.output
        grades = by_name(stack.verdict())
        assert grades["guard:errors"]["result"] == "pass" and grades["guard:errors"]["value"] == 0
        assert grades["guard:ws_messages"]["result"] == "pass" and grades["guard:ws_messages"]["value"] == 1
        assert stack.verdict()["percent"] == 100  # weight 0: the guards change no score
