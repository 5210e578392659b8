"""Every scenario kind, rendered and run for real by k6 against a local server (tests/suites_server.py):
all of them in ONE k6 process (k6 `scenarios`), a few seconds long, then k6's own summary and the
server's records are read. No Prometheus here: that path is tested in test_scenarios_e2e.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from orchestrator.config.load import load_config
from orchestrator.k6.binary import detect_features, find_k6, inspect_script
from orchestrator.render.script import render_scenario
from tests.suites_server import SuitesServer

pytestmark = pytest.mark.e2e

# Strings that must arrive at the server byte for byte: quotes, backticks, `${...}` (written
# `$${...}` so it is not an environment reference), a closing script tag, newlines, non-ASCII.
TRICKY = 'q"uote \'single\' `tick` $${not_env} </script><!-- \\ back\\slash\nline2\r\n\tü ñ 漢字 ✓ 🚀 \u2028'
TRICKY_SENT = TRICKY.replace("$${", "${")
SECRET = "s3cr3t-Zq9-never-on-disk"

H = [{"name": "health", "path": "/health", "expect_status": [200]}]
RATE = 20  # iterations per second of the arrival-rate parts
SECONDS = 3

SCENARIOS = {
    "constant": {"executor": "constant-vus", "vus": 2, "duration": f"{SECONDS}s", "think_time": "100ms", "requests": H},
    "ramping": {"executor": "ramping-vus", "start_vus": 1, "stages": [{"duration": f"{SECONDS}s", "target": 3}],
                "think_time": "100ms", "requests": H},
    "constant-rate": {"executor": "constant-arrival-rate", "rate": RATE, "duration": f"{SECONDS}s",
                      "pre_allocated_vus": 4, "max_vus": 10, "requests": H},
    "ramping-rate": {"executor": "ramping-arrival-rate", "rate": 5, "pre_allocated_vus": 4, "max_vus": 10,
                     "stages": [{"duration": f"{SECONDS}s", "target": RATE}], "requests": H},
    "starved": {  # too few VUs for the rate against a 300 ms endpoint: k6 must drop iterations, and say so
        "executor": "constant-arrival-rate", "rate": RATE, "duration": f"{SECONDS}s", "pre_allocated_vus": 1, "max_vus": 1,
        "requests": [{"name": "slow", "path": "/slow", "expect_status": [200]}],
    },
    "per-vu": {"executor": "per-vu-iterations", "vus": 2, "iterations": 3, "requests": H},
    "shared": {"executor": "shared-iterations", "vus": 2, "iterations": 6, "requests": H},
    "spike": {"profile": {"name": "spike", "start_vus": 1, "peak_vus": 3, "ramp_up": "1s", "hold": "1s",
                          "ramp_down": "500ms", "recover": "500ms"}, "think_time": "100ms", "requests": H},
    "stress": {"profile": {"name": "stress", "peak_vus": 2, "steps": 2, "ramp_up": "500ms", "hold": "500ms",
                           "ramp_down": "500ms"}, "think_time": "100ms", "requests": H},
    "breakpoint": {"profile": {"name": "breakpoint", "peak_rate": 15, "duration": f"{SECONDS}s"}, "requests": H},
    "websocket": {
        "protocol": "websocket", "executor": "constant-vus", "vus": 2, "duration": f"{SECONDS}s",
        "data": {"word": {"values": ["alpha", "beta"]}},
        "websocket": {"path": "/ws/chat", "messages": [{"text": "stream {word} back"}, {"text": "again, VU {vu}"}],
                      "reply_timeout": "5s"},
    },
    "ws-missing": {  # a WebSocket path the server does not have: a failed connect, counted and checked
        "protocol": "websocket", "executor": "per-vu-iterations", "vus": 1, "iterations": 1,
        "websocket": {"path": "/ws/nope", "reply_timeout": "2s"},
    },
    "tenants": {  # data file, sequential rows, per-row headers, custom metrics
        "executor": "per-vu-iterations", "vus": 2, "iterations": 6,
        "data": {"tenant": {"file": "tenants.csv", "order": "sequential"}},
        "metrics": {"tenant_calls": "counter", "tenant_time": "trend", "tenant_ok": "rate", "last_len": "gauge"},
        "requests": [{"name": "models", "path": "/api/tenants/{tenant.tenant_id}/models",
                      "headers": {"X-API-Key": "{tenant.api_key}"}, "expect_status": [200], "expect_json": ["models"],
                      "feeds": {"tenant_calls": "success", "tenant_time": "duration", "tenant_ok": "success",
                                "last_len": "json:models.#"}}],
    },
    "json-pool": {  # a JSON file's rows, one per iteration of the test (`unique`), keep their JSON types
        "executor": "shared-iterations", "vus": 2, "iterations": 3,
        "data": {"item": {"file": "items.json", "order": "unique"}},
        "requests": [{"name": "echo_item", "method": "POST", "path": "/echo", "query": {"kind": "{item.kind}"},
                      "json": {"value": "{item.value}", "label": "item of kind {item.kind}"}}],
    },
    "register-login": {  # per-VU register then login, then a flow that captures ids
        "executor": "per-vu-iterations", "vus": 2, "iterations": 3, "flow": "sequence",
        "auth": {"mode": "per-vu",
                 "register": {"method": "POST", "path": "/auth/register", "expect_status": [201],
                              "json": {"username": "u-{uuid}", "password": "${RUN_PASSWORD}"}},
                 "login": {"method": "POST", "path": "/auth/login", "expect_status": [200],
                           "json": {"username": "u-{uuid}", "password": "${RUN_PASSWORD}"}}},
        "requests": [
            {"name": "create", "method": "POST", "path": "/api/agents", "json": {"name": "a-{vu}-{iter}"},
             "expect_status": [201], "capture": {"agent_id": "id"}},
            {"name": "get", "path": "/api/agents/{agent_id}", "expect_status": [200], "expect_json": ["id"]},
            {"name": "delete", "method": "DELETE", "path": "/api/agents/{agent_id}", "expect_status": [204]},
        ],
    },
    "shared-login": {
        "executor": "shared-iterations", "vus": 2, "iterations": 4,
        "auth": {"mode": "shared", "token_path": "access_token",
                 "login": {"method": "POST", "path": "/api/v1/auth/login", "json": {"email": "ops@acme", "password": "${RUN_PASSWORD}"}}},
        "requests": [{"name": "conversations", "path": "/api/v1/conversations", "expect_status": [200]}],
    },
    "fixed-mix": {  # fixed requests (no placeholder, no auth): the iteration's direct path, with an idle share
        "executor": "per-vu-iterations", "vus": 1, "iterations": 40, "idle_weight": 1,
        "metrics": {"mix_sent": "counter"},
        "requests": [
            {"name": "mix_a", "method": "POST", "path": "/echo", "body": "mix-a", "weight": 1, "feeds": {"mix_sent": "always"}},
            {"name": "mix_b", "method": "POST", "path": "/echo", "body": "mix-b", "weight": 1, "feeds": {"mix_sent": "always"}},
        ],
    },
    "fixed-sequence": {
        "executor": "per-vu-iterations", "vus": 1, "iterations": 2, "flow": "sequence", "think_time": "10ms",
        "requests": [{"name": "seq_1", "method": "POST", "path": "/echo", "body": "seq-1"},
                     {"name": "seq_2", "method": "POST", "path": "/echo", "body": "seq-2"}],
    },
    "strings": {
        "executor": "per-vu-iterations", "vus": 1, "iterations": 1, "flow": "sequence",
        "requests": [
            {"name": "raw", "method": "POST", "path": "/echo", "body": TRICKY, "headers": {"X-Secret": "${RUN_SECRET}"}},
            {"name": "as_json", "method": "POST", "path": "/echo", "json": {"text": TRICKY, TRICKY: [TRICKY, 1.5, None]}},
        ],
    },
}


@pytest.fixture(scope="module")
def everything(tmp_path_factory):
    """One k6 run of every kind; -> (server state, summary metrics, k6 exit code, script text, run dir)."""
    work = tmp_path_factory.mktemp("kinds")
    (work / "items.json").write_text(json.dumps([
        {"kind": "int", "value": 1}, {"kind": "float", "value": 2.5}, {"kind": "object", "value": {"a": ["x", None]}},
    ]))
    (work / "tenants.csv").write_text("tenant_id,api_key,plan\nacme,key-acme-1,pro\nglobex,key-globex-2,\"free, trial\"\n")
    with SuitesServer() as server:
        thresholds = {f"iterations{{scenario:{name}}}": ["count>0"] for name in SCENARIOS}
        thresholds.update({f"dropped_iterations{{scenario:{name}}}": ["count>=0"] for name in ("constant-rate", "starved")})
        scenarios = dict(SCENARIOS)
        scenarios["constant"] = {**scenarios["constant"], "thresholds": thresholds}
        scenarios["all"] = {"include": list(SCENARIOS)}
        config = {"name": "kinds", "target": {"base_url": server.url}, "scenarios": scenarios}
        (work / "perfctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        loaded = load_config(work / "perfctl.yaml", environ={})
        binary = find_k6()
        script = render_scenario(loaded, "all", detect_features(binary))
        inspect_script(binary, script.text)
        (work / "script.js").write_text(script.text)
        env = {**os.environ, "K6_NO_USAGE_REPORT": "true", "RUN_SECRET": SECRET, "RUN_PASSWORD": "pw-" + SECRET}
        proc = subprocess.run(
            [binary, "run", "-q", "--summary-export", str(work / "summary.json"), str(work / "script.js")],
            cwd=work, env=env, capture_output=True, text=True, timeout=120,
        )
        (work / "k6.log").write_text(proc.stdout + proc.stderr)
        summary = json.loads((work / "summary.json").read_text())
        yield server.state, {**summary["metrics"], "root_group": summary["root_group"]}, proc, script.text, work


def test_all_kinds_ran_with_their_checks_passing(everything):
    _, metrics, proc, _, _ = everything
    assert proc.returncode == 0, proc.stderr[-2000:]
    checks = metrics["root_group"]["checks"]
    failing = {name: c["fails"] for name, c in checks.items() if c["fails"]}
    assert failing == {"/ws/nope: connected": 1}, failing  # only the deliberately missing WebSocket path
    assert checks["/ws/nope: connected"]["passes"] == 0
    assert metrics["checks"]["fails"] == 1 and metrics["checks"]["passes"] > 50
    for name in SCENARIOS:
        assert metrics[f"iterations{{scenario:{name}}}"]["count"] > 0, name
    assert metrics["iterations{scenario:per-vu}"]["count"] == 6
    assert metrics["iterations{scenario:shared}"]["count"] == 6
    assert metrics["iterations{scenario:tenants}"]["count"] == 12


def test_websocket_streams_chunks_until_done(everything):
    _, metrics, _, _, _ = everything
    assert metrics["ws_reply_success"]["passes"] >= 4 and metrics["ws_reply_success"]["fails"] == 0
    assert metrics["ws_connect_success"]["passes"] >= 2 and metrics["ws_connect_success"]["fails"] == 1  # /ws/nope
    # The first chunk comes before the whole reply: both were measured, per reply.
    assert metrics["ws_first_chunk_time"]["count"] == metrics["ws_reply_time"]["count"] == metrics["ws_reply_success"]["passes"]
    assert metrics["ws_first_chunk_time"]["avg"] <= metrics["ws_reply_time"]["avg"]
    assert metrics["ws_msgs_received"]["count"] >= 4 * metrics["ws_reply_success"]["passes"]  # >= 3 chunks + done


def test_arrival_rate_is_delivered_within_k6s_accounting(everything):
    _, metrics, _, _, _ = everything
    planned = RATE * SECONDS
    done = metrics["iterations{scenario:constant-rate}"]["count"]
    dropped = metrics["dropped_iterations{scenario:constant-rate}"]["count"]
    assert abs(done + dropped - planned) <= 1, (done, dropped)
    assert dropped == 0  # enough VUs: the rate was really delivered
    # Starved of VUs, k6 drops iterations and reports them: started + dropped still add up to the plan.
    done = metrics["iterations{scenario:starved}"]["count"]
    dropped = metrics["dropped_iterations{scenario:starved}"]["count"]
    assert dropped > planned / 2, (done, dropped)
    assert abs(done + dropped - planned) <= 2, (done, dropped)


def test_custom_metrics_are_fed_by_named_requests(everything):
    _, metrics, _, _, _ = everything
    assert metrics["tenant_calls"]["count"] == 12
    assert metrics["tenant_time"]["count"] == 12 and metrics["tenant_time"]["avg"] > 0
    assert metrics["tenant_ok"]["passes"] == 12 and metrics["tenant_ok"]["fails"] == 0
    assert metrics["last_len"]["value"] == 2  # json:models.# of the response


def test_data_rows_and_auth_reached_the_server(everything):
    state, _, _, _, _ = everything
    keys = {(path, h.get("X-Api-Key") or h.get("X-API-Key")) for path, h in state.headers if path.startswith("/api/tenants/")}
    assert keys == {("/api/tenants/acme/models", "key-acme-1"), ("/api/tenants/globex/models", "key-globex-2")}
    registered = [json.loads(body) for path, body in state.bodies if path == "/auth/register"]
    assert len(registered) == 2  # one per VU, once
    assert all(r["password"] == "pw-" + SECRET for r in registered)
    assert not state.agents  # every created agent was fetched and deleted with its captured id


def test_tricky_strings_arrive_byte_exact(everything):
    state, _, _, _, _ = everything
    bodies = [body for path, body in state.bodies if path == "/echo"]
    (raw,) = [b for b in bodies if b.startswith(b"q")]
    (as_json,) = [b for b in bodies if b.startswith(b'{"text"')]  # keys go out in the config's order
    assert raw == TRICKY_SENT.encode("utf-8")
    assert json.loads(as_json) == {"text": TRICKY_SENT, TRICKY_SENT: [TRICKY_SENT, 1.5, None]}
    (headers,) = [h for path, h in state.headers if path == "/echo" and "X-Secret" in h]
    assert headers["X-Secret"] == SECRET


def test_secrets_are_not_written_anywhere(everything):
    _, _, _, text, work = everything
    assert "// Environment it reads: RUN_PASSWORD, RUN_SECRET  (" in text  # the names, never the values
    for path in Path(work).rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_json_pool_rows_keep_their_types_and_each_is_used_once(everything):
    state, _, _, _, _ = everything
    bodies = [json.loads(body) for path, body in state.bodies if path == "/echo" and body.startswith(b'{"value"')]
    assert sorted(bodies, key=lambda b: b["label"]) == [
        {"value": 2.5, "label": "item of kind float"},
        {"value": 1, "label": "item of kind int"},
        {"value": {"a": ["x", None]}, "label": "item of kind object"},
    ]


def test_fixed_requests_take_the_direct_path_with_weights_order_and_feeds(everything):
    state, metrics, _, text, _ = everything
    bodies = [body for path, body in state.bodies if path == "/echo"]
    mixed = [b for b in bodies if b.startswith(b"mix-")]
    # 40 iterations, weights 1:1 plus an idle share of 1: both requests went, some iterations only idled.
    assert 0 < mixed.count(b"mix-a") and 0 < mixed.count(b"mix-b") and len(mixed) < 40, len(mixed)
    assert metrics["mix_sent"]["count"] == len(mixed)  # feeds run on the direct path too
    assert [b for b in bodies if b.startswith(b"seq-")] == [b"seq-1", b"seq-2", b"seq-1", b"seq-2"]
    # In every kind here a fixed request fills nothing on each call.
    fixed = text[text.index("export const run_fixed_mix"):text.index('// "fixed-sequence"')]
    assert "const C = PLAN.code;" in text and "PLAN.parts" not in text
    assert "(R" not in fixed and "text(" not in fixed and "JSON.stringify" not in fixed
