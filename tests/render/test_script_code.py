"""Generated scripts (render/code.py) send the right bytes: every scenario here is run by the
real k6 against one local server (tests/suites_server.py), and what the server saw, the checks
and the metrics are compared with sent_by_scenario.json. That file was recorded from perfctl's
earlier, independent script (one that interpreted its plan at run time) before it was removed,
the two agreeing on every scenario; a change to what a scenario sends must change it on purpose.
And what decides for Python what JavaScript would do (JSON text, key order, number format) is
checked against k6's own JavaScript. No timing here: memory and CPU are bench/, figure 9."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from orchestrator.config.load import load_config
from orchestrator.k6.binary import detect_features, find_k6, inspect_script
from orchestrator.render import code
from orchestrator.render.script import render_scenario
from tests.suites_server import SuitesServer

pytestmark = pytest.mark.e2e

TRICKY = 'q"uote `tick` $${not_env} </script> \\ back\nline2\r\n\tü 漢字 🚀 \u2028 {unknown} {row'
SECRET = "s3cr3t-never-on-disk"
ROWS = [{"n": 1, "s": "x/y?z#w", "a": {"b": [1, None]}}, {"n": 2.5, "s": "ü &=+@h:1", "a": {"b": "t"}}]

SCENARIOS = {
    "strings": {  # every string context, with pool rows, built-ins and environment values
        "executor": "per-vu-iterations", "vus": 1, "iterations": 3, "flow": "sequence",
        "data": {"row": {"values": ROWS, "order": "sequential"}, "word": {"values": ["alpha", 7, None], "order": "sequential"}},
        "requests": [
            {"name": "raw", "method": "POST", "path": "/echo", "body": TRICKY,
             "headers": {"X-Secret": "${RUN_SECRET}", "X-Fixed": "a {unknown} b"},
             "query": {"q": "a b&c=d", "lit": "{unknown}", "k{x}": "{row.s}", "v": "n{row.n}-{vu}"}},
            {"name": "as_json", "method": "POST", "path": "/echo", "json": {
                "text": TRICKY, TRICKY: [TRICKY, 1.5, None, True], "n": 1.0, "big": 1e21, "small": 1e-7, "neg": -0.0,
                "huge": 2**60, "2": "int key", "1": "first", "01": "a string key", "nested": {"z": [{"y": "{vu}"}]}}},
            {"name": "rows", "method": "PUT", "path": "/echo", "json": {
                "whole": "{row}", "num": "{row.n}", "deep": "{row.a.b}", "missing": "{row.nope}",
                "mixed": "n={row.n} vu={vu} it={iter} w={word}", "unknown": "{nobody}", "word": "{word}",
                "env": "${RUN_SECRET}", "literal": "$${RUN_SECRET}"}},
            {"name": "path", "path": "/api/v1/conversations/{row.s}/messages", "expect_status": [200, 404],
             "expect_json": ["messages"]},
            {"name": "text", "method": "POST", "path": "/echo", "body": "row={row} s={row.s} vu={vu} {word}"},
            {"name": "missing", "path": "/nowhere/{row.nope}/{nobody}", "expect_status": [404]},
        ],
    },
    "flow": {  # per-VU login, its token in a header and a body, captures used by later requests
        "executor": "per-vu-iterations", "vus": 1, "iterations": 4, "flow": "sequence", "think_time": "10ms",
        "auth": {"mode": "per-vu", "token_path": "access_token",
                 "login": {"method": "POST", "path": "/api/v1/auth/login", "expect_status": [200],
                           "json": {"email": "u{vu}@x", "password": "${RUN_PASSWORD}", "token": "{token}"}}},
        "requests": [
            {"name": "early", "path": "/api/agents/{agent_id}", "expect_status": [404]},
            {"name": "create", "method": "POST", "path": "/api/agents", "json": {"name": "a-{vu}-{iter}", "t": "{token}"},
             "expect_status": [201], "capture": {"agent_id": "id", "agent_name": "name"}},
            {"name": "get", "path": "/api/agents/{agent_id}", "expect_status": [200], "expect_json": ["id", "model"],
             "headers": {"X-Name": "fixed"}},
            {"name": "delete", "method": "DELETE", "path": "/api/agents/{agent_id}", "expect_status": [204],
             "query": {"name": "{agent_name}"}},
            {"name": "fail_capture", "path": "/health", "capture": {"nothing": "no.such"}},
            {"name": "never", "path": "/health"},
        ],
    },
    "env-token": {  # a token from the environment, no scheme; the header the target sets too
        "executor": "per-vu-iterations", "vus": 1, "iterations": 2,
        "auth": {"token": "${RUN_SECRET}", "scheme": "", "header": "X-Token"},
        "requests": [{"name": "verify", "path": "/auth/verify", "expect_status": [401], "headers": {"X-Token": "override"}},
                     ],
    },
    "mix": {  # a weighted pick with an idle share: which request is random, what each sends is not
        "executor": "per-vu-iterations", "vus": 1, "iterations": 12, "idle_weight": 1,
        "requests": [{"name": "a", "method": "POST", "path": "/echo", "body": "a {vu}", "weight": 2},
                     {"name": "b", "path": "/health?x=1", "weight": 1, "expect_status": [200]}],
    },
    "files": {  # rows from files (sequential and once per iteration of the test), custom metrics fed
        "executor": "shared-iterations", "vus": 1, "iterations": 3, "flow": "sequence",
        "data": {"tenant": {"file": "tenants.csv", "order": "sequential"}, "item": {"file": "items.json", "order": "unique"}},
        "metrics": {"calls": "counter", "took": "trend", "good": "rate", "size": "gauge", "bad": "rate", "sizes": "trend"},
        "requests": [
            {"name": "models", "path": "/api/tenants/{tenant.tenant_id}/models",
             "headers": {"X-API-Key": "{tenant.api_key}", "X-Number": "{item.value}"}, "expect_status": [200],
             "expect_json": ["models"],
             "feeds": {"calls": "always", "took": "duration", "good": "success", "bad": "failure", "size": "json:models.#",
                       "sizes": "json:models.#"}},
            {"name": "echo_item", "method": "POST", "path": "/echo", "query": {"kind": "{item.kind}"},
             "json": {"value": "{item.value}", "label": "item of kind {item.kind}", "id": "{uuid}", "again": "{uuid}"},
             "feeds": {"calls": "success", "good": "always", "size": "json:value"}},
        ],
    },
    "register-login": {  # register then log in per VU, sharing {uuid}; the token in a per-call header
        "executor": "per-vu-iterations", "vus": 1, "iterations": 2, "flow": "sequence",
        "auth": {"mode": "per-vu",
                 "register": {"method": "POST", "path": "/auth/register", "expect_status": [201],
                              "json": {"username": "u-{uuid}", "password": "${RUN_PASSWORD}"}, "capture": {"uid": "id"}},
                 "login": {"method": "POST", "path": "/auth/login", "expect_status": [200],
                           "json": {"username": "u-{uuid}", "password": "${RUN_PASSWORD}", "uid": "{uid}"}}},
        "requests": [{"name": "verify", "path": "/auth/verify", "expect_status": [200], "headers": {"X-Iter": "{iter}"}}],
    },
    "shared-login": {
        "executor": "shared-iterations", "vus": 1, "iterations": 3,
        "auth": {"mode": "shared", "token_path": "access_token",
                 "login": {"method": "POST", "path": "/api/v1/auth/login", "json": {"email": "ops@acme", "password": "${RUN_PASSWORD}"}}},
        "requests": [{"name": "conversations", "path": "/api/v1/conversations", "expect_status": [200]}],
    },
    "ws-login": {
        "protocol": "websocket", "executor": "per-vu-iterations", "vus": 1, "iterations": 2,
        "auth": {"mode": "per-vu", "token_path": "access_token",
                 "login": {"method": "POST", "path": "/api/v1/auth/login", "json": {"email": "w{vu}@x", "password": "pw"}}},
        "websocket": {"path": "/ws/chat", "messages": ["token {token}"], "reply_timeout": "5s"},
    },
    "ws": {
        "protocol": "websocket", "executor": "per-vu-iterations", "vus": 1, "iterations": 3,
        "data": {"word": {"values": ["alpha", {"obj": 1}, 3], "order": "sequential"}},
        "websocket": {"path": "/ws/chat", "messages": [{"text": "stream {word} back"}, "plain {vu}", "{word}", 5],
                      "reply_timeout": "5s", "headers": {"X-Secret": "${RUN_SECRET}"}},
    },
    "env-shapes": {  # `${NAME}` in pool rows (keys too), in JSON keys, beside placeholders, starting a path
        "executor": "per-vu-iterations", "vus": 1, "iterations": 2, "flow": "sequence",
        "data": {"who": {"values": [{"name": "${RUN_SECRET}", "k-${RUN_KEY}": "v", "lit": "$${x}", "n": 3, "7": "seven"},
                                    "plain ${RUN_KEY:-d} {vu}"], "order": "sequential"}},
        "requests": [
            {"name": "env_path", "method": "POST", "path": "${RUN_PREFIX}", "query": {"a": "${RUN_KEY}-{vu}", "k{vu}": "${RUN_KEY}"},
             "json": {"{vu}": "{who}", "k-${RUN_KEY}": "{who.name}", "n": {"{iter}": [1, "{who.lit}", "{who.n}"], "0": None},
                      "plain": "{who.k-k1}", "9": "{iter}", "{nobody}": "{who.7}"}},
            {"name": "mixed", "method": "POST", "path": "/echo", "body": "vu={vu} key=${RUN_KEY} row={who}",
             "headers": {"X-Fixed": "${RUN_KEY}/{vu}/{who.name}"}},
            {"name": "evil", "path": "${RUN_EVIL}", "expect_status": [200]},
            {"name": "env_sub", "path": "${RUN_PREFIX}/sub/{iter}", "expect_status": [404, 405]},
            {"name": "after", "method": "POST", "path": "/echo", "json": {"k-${RUN_KEY}": ["${RUN_KEY}", "{vu}"]}},
        ],
    },
    "ws-env": {  # a WebSocket path from the environment, and a message with placeholder keys
        "protocol": "websocket", "executor": "per-vu-iterations", "vus": 1, "iterations": 2,
        "websocket": {"path": "${RUN_WS}", "messages": [{"{vu}": "x ${RUN_KEY} {iter}"}, "m ${RUN_KEY} {vu}"],
                      "reply_timeout": "5s"},
    },
    "ws-evil": {  # a WebSocket path from the environment that would leave the origin: never opened
        "protocol": "websocket", "executor": "per-vu-iterations", "vus": 1, "iterations": 2,
        "websocket": {"path": "${RUN_EVIL}", "messages": ["never"], "reply_timeout": "5s"},
    },
}
# RUN_EVIL would make the URL `http://127.0.0.1:PORT@127.0.0.1:1/x`: refused by the script, never sent.
RUN_ENV = {"RUN_SECRET": SECRET, "RUN_PASSWORD": "pw-" + SECRET, "RUN_KEY": "k1", "RUN_PREFIX": "/echo",
           "RUN_WS": "/ws/chat", "RUN_EVIL": "@127.0.0.1:1/x"}


def _normal(text: str) -> str:
    """Values the server makes up anew each time (tokens, ids) as their kind."""
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text)
    return re.sub(r"\b[0-9a-f]{32}\b", "<token>", text)


def _seen(state, since_requests: int, since_ws: int) -> list:
    kept = ("content-type", "x-secret", "x-fixed", "x-name", "x-token", "authorization", "x-api-key", "x-number", "x-iter")
    out = [(r["method"], _normal(r["target"]), _normal(r["body"].decode("utf-8", "replace")),
            {k.lower(): _normal(v) for k, v in r["headers"].items() if k.lower() in kept})
           for r in state.requests[since_requests:]]
    return out + [("ws", path, _normal(text)) for path, text in state.ws_messages[since_ws:]]


EXPECTED = Path(__file__).with_name("sent_by_scenario.json")


@pytest.fixture(scope="module")
def sent(tmp_path_factory):
    """Each scenario run by k6: -> ({scenario: (what the server saw, checks, http_reqs, metrics fed)}, scripts)."""
    work = tmp_path_factory.mktemp("sent")
    (work / "items.json").write_text(json.dumps([
        {"kind": "int", "value": 1}, {"kind": "float", "value": 2.5}, {"kind": "object", "value": {"a": ["x", None]}}]))
    (work / "tenants.csv").write_text("tenant_id,api_key,plan\nacme,key-acme-1,pro\nglobex,key-globex-2,\"free, trial\"\n")
    binary = find_k6()
    features = detect_features(binary)
    out, scripts = {}, {}
    with SuitesServer() as server:
        config = {"name": "same", "target": {"base_url": server.url + "/", "headers": {"X-Fixed": "target",
                                                                                        "X-Name": "from target"}},
                  "scenarios": SCENARIOS}
        (work / "perfctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        loaded = load_config(work / "perfctl.yaml", environ={})
        env = {**os.environ, "K6_NO_USAGE_REPORT": "true", **RUN_ENV}
        for name in SCENARIOS:
            script = scripts[name] = render_scenario(loaded, name, features)
            inspect_script(binary, script.text)  # the init context runs without the run's variables
            path = work / f"{name}.js"
            path.write_text(script.text)
            requests, frames = len(server.state.requests), len(server.state.ws_messages)
            proc = subprocess.run([binary, "run", "-q", "--summary-export", str(work / "s.json"), str(path)],
                                  cwd=work, env=env, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stderr[-2000:]
            summary = json.loads((work / "s.json").read_text())
            checks = {c["name"]: (c["passes"], c["fails"]) for c in summary["root_group"]["checks"].values()}
            reqs = summary["metrics"].get("http_reqs", {}).get("count")
            # Custom metrics as fed: every number but the durations (those differ run to run).
            fed = {metric: {k: v for k, v in values.items() if metric != "took" and k not in ("thresholds", "rate")}
                   for metric, values in summary["metrics"].items()
                   if metric in SCENARIOS["files"]["metrics"] or metric == "perfctl_refused_requests"}
            out[name] = (_seen(server.state, requests, frames), checks, reqs, fed)
    return out, scripts


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "mix"])  # the mix is random: its own test
def test_each_scenario_sends_the_recorded_bytes_and_checks(sent, name):
    seen, checks, reqs, fed = json.loads(json.dumps(sent[0][name]))  # tuples as the file's lists
    expected = json.loads(EXPECTED.read_text())[name]
    assert seen == expected["sent"]
    assert checks == expected["checks"] and reqs == expected["http_reqs"] and fed == expected["metrics"]
    assert seen or name == "ws-evil", "nothing reached the server"  # ws-evil: refused before it connects


def test_what_the_strings_scenario_sent_is_right_in_itself(sent):
    # As recorded, and right: a few of the bytes checked by hand.
    seen = sent[0]["strings"][0]
    raw = seen[0]
    assert raw[0] == "POST" and raw[2] == TRICKY.replace("$${", "${")
    assert raw[1] == "/echo?q=a%20b%26c%3Dd&lit=%7Bunknown%7D&k%7Bx%7D=x%2Fy%3Fz%23w&v=n1-1"
    assert raw[3]["x-secret"] == SECRET and raw[3]["x-fixed"] == "a {unknown} b"
    as_json = json.loads(seen[1][2])
    assert as_json["n"] == 1 and seen[1][2].startswith('{"1":"first","2":"int key","text":')
    rows = json.loads(seen[2][2])
    assert rows["whole"] == ROWS[0] and rows["num"] == 1 and rows["deep"] == [1, None] and rows["missing"] == "{row.nope}"
    assert rows["unknown"] == "{nobody}" and rows["env"] == SECRET and rows["literal"] == "${RUN_SECRET}"
    assert seen[3][1] == "/api/v1/conversations/x%2Fy%3Fz%23w/messages"
    assert seen[5][1] == "/nowhere/%7Brow.nope%7D/%7Bnobody%7D"  # as written (k6 encodes the braces)


def test_the_login_token_and_captures_reach_the_later_requests(sent):
    seen, checks, _, _ = sent[0]["flow"]
    login = [r for r in seen if r[1] == "/api/v1/auth/login"]
    assert len(login) == 1 and json.loads(login[0][2])["token"] == "{token}"  # no token yet while logging in
    create = [json.loads(r[2]) for r in seen if r[1] == "/api/agents"]
    assert {c["t"] for c in create} == {"<token>"} and len(create) == 4
    assert [r for r in seen if r[1] == "/api/agents/<uuid>" and r[0] == "GET"][0][3]["authorization"] == "Bearer <token>"
    assert checks["get: json has model"] == (4, 0) and checks["delete: status in 204"] == (4, 0)
    assert checks["fail_capture: captures nothing"] == (0, 4) and "never: status 2xx/3xx" not in checks
    assert [r[1] for r in seen if r[0] == "DELETE"][0].startswith("/api/agents/<uuid>?name=a-")


def test_a_token_from_the_environment_and_the_header_a_request_overrides(sent):
    seen, checks, _, _ = sent[0]["env-token"]
    assert [r[3]["x-token"] for r in seen] == ["override", "override"] and checks == {"verify: status in 401": (2, 0)}


def test_the_mix_sends_only_its_requests_each_as_written(sent):
    seen, checks, reqs, _ = sent[0]["mix"]
    assert reqs == len(seen) and 0 < reqs <= 12
    assert {(r[0], r[1], r[2]) for r in seen} <= {("POST", "/echo", "a 1"), ("GET", "/health?x=1", "")}
    assert set(checks) <= {"a: status 2xx/3xx", "b: status in 200"} and all(f == 0 for _, f in checks.values())


def test_websocket_frames_are_the_messages_filled(sent):
    seen = sent[0]["ws"][0]
    frames = [r[2] for r in seen if r[0] == "ws"]
    assert frames[:4] == ['{"text":"stream alpha back"}', "plain 1", "alpha", "5"]
    assert frames[5:7] == ["plain 1", '{"obj":1}'] and frames[10] == "3"


def test_files_metrics_logins_and_uuids_as_sent(sent):
    runs, _ = sent
    seen, checks, _, fed = runs["files"]
    assert [r[3]["x-api-key"] for r in seen[::2]] == ["key-acme-1", "key-globex-2", "key-acme-1"]
    assert [r[3]["x-number"] for r in seen[::2]][:2] == ["1", "2.5"]  # a number header as k6 sends it
    items = [json.loads(r[2]) for r in seen[1::2]]
    assert [i["value"] for i in items] == [1, 2.5, {"a": ["x", None]}] and items[0]["id"] == "<uuid>" == items[0]["again"]
    assert fed["calls"]["count"] == 6 and fed["good"]["passes"] == 6 and fed["bad"]["fails"] == 3
    assert checks["models: json has models"] == (3, 0)
    seen, checks, _, _ = runs["register-login"]
    register, login = json.loads(seen[0][2]), json.loads(seen[1][2])
    assert register["username"] == login["username"] == "u-<uuid>" and login["uid"] == "<uuid>"
    assert checks["verify: status in 200"] == (2, 0) and [r[3].get("x-iter") for r in seen[2:]] == ["0", "1"]
    seen, checks, _, _ = runs["shared-login"]
    assert [r[1] for r in seen] == ["/api/v1/auth/login"] + ["/api/v1/conversations"] * 3
    assert checks["conversations: status in 200"] == (3, 0)
    seen, checks, _, _ = runs["ws-login"]
    assert [r[2] for r in seen if r[0] == "ws"] == ["token <token>", "token <token>"]
    assert checks["/ws/chat: reply done within 5000 ms"] == (2, 0)


def test_secrets_stay_references_in_the_script(sent):
    _, scripts = sent
    for name in SCENARIOS:
        text = scripts[name].text
        assert SECRET not in text and "pw-" not in text and text.isascii()
        assert "const C = PLAN.code;" in text  # the config's values: one JSON table


JS_JSON_CASES = [
    1, 1.0, -0.0, 0.1, 1.5, 123.456, 1e21, 1e-7, 1.5e-7, 123456789012345678901234567890, 2**53 + 1, 1e300, 5e-324,
    12345.6789e10, 0.000001, 1e20, -2.5e-10, True, None, "", "a\"b\\c\n\r\t\b\f\x01\x1f\x7f ü 🚀 \u2028\u2029",
    {"b": 1, "1": 2, "01": 3, "4294967294": 4, "4294967295": 5, "0": 6, "-1": 7, "1.5": 8, "10": 9},
    [1, [2, {"x": None}], "y"],
]


def test_json_text_is_what_k6s_javascript_writes(tmp_path):
    # k6 parses each value's JSON and writes it back with JSON.stringify: the oracle is k6 itself.
    cases = [json.dumps(value, ensure_ascii=True) for value in JS_JSON_CASES]
    script = tmp_path / "oracle.js"
    script.write_text(
        "export const options = { iterations: 1, vus: 1 };\n"
        f"const CASES = {json.dumps(cases)};\n"
        "export default function () {}\n"
        "export function handleSummary() {\n"
        "  return { [__ENV.OUT]: JSON.stringify(CASES.map((text) => JSON.stringify(JSON.parse(text)))) };\n}\n")
    out = tmp_path / "out.json"
    done = subprocess.run([find_k6(), "run", "-q", "-e", f"OUT={out}", str(script)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "K6_NO_USAGE_REPORT": "true"})
    assert done.returncode == 0, done.stderr
    assert [code.js_json(value) for value in JS_JSON_CASES] == json.loads(out.read_text())


def test_encode_uri_component_matches_javascript():
    assert code.js_uri_component("a b&c=d/é?#@:+!~*'()-_.") == "a%20b%26c%3Dd%2F%C3%A9%3F%23%40%3A%2B!~*'()-_."


def test_values_from_the_environment_land_where_the_config_puts_them(sent):
    seen, checks, _, fed = sent[0]["env-shapes"]
    first = json.loads(seen[0][2])  # pool row 0: its `${...}` keys and values read, `$${` a literal `${`
    assert seen[0][1] == "/echo?a=k1-1&k1=k1" and first["1"]["name"] == SECRET and first["1"]["k-k1"] == "v"
    assert first["1"]["lit"] == "${x}" and first["k-k1"] == SECRET and first["plain"] == "v" and first["9"] == "0"
    # A variable's value beside placeholders is sent as it is; the row (a string) is not filled again.
    assert seen[5][2] == "vu=1 key=k1 row=plain k1 {vu}" and seen[5][3]["x-fixed"] == "k1/1/{who.name}"
    # The path from the environment that would leave the origin: refused both times, never sent.
    assert checks["evil: URL stays on the configured origin"] == (0, 2) and fed["perfctl_refused_requests"]["count"] == 2
    assert [r[1] for r in seen].count("/echo/sub/0") == 1 and not any("@" in r[1] for r in seen)
    ws = sent[0]["ws-env"][0]
    assert [r[2] for r in ws if r[0] == "ws"] == ['{"1":"x k1 0"}', "m k1 1", '{"1":"x k1 1"}', "m k1 1"]
    assert sent[0]["ws-evil"][1] == {"${RUN_EVIL}: URL stays on the configured origin": (0, 2)}
