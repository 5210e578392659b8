"""Rendering: what the generated k6 script says, for each k6 version, and that k6 accepts it.
Real k6 (`k6 inspect`); no load is sent here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from orchestrator.config.load import load_config
from orchestrator.errors import ConfigError, UsageError
from orchestrator.k6.binary import detect_features, find_k6, inspect_script
from orchestrator.k6.features import K6Features
from orchestrator.render.script import Overrides, hand_written, render_scenario

V1_1, V1_6, V2 = K6Features((1, 1, 0)), K6Features((1, 6, 0)), K6Features((2, 0, 0))

# Every scenario kind perfctl renders, in one config.
KINDS = {
    "constant": {"executor": "constant-vus", "vus": 2, "duration": "3s", "requests": [{"name": "h", "path": "/health"}]},
    "ramping": {"executor": "ramping-vus", "start_vus": 1, "stages": [{"duration": "2s", "target": 4}],
                "requests": [{"name": "h", "path": "/health"}]},
    "constant-rate": {"executor": "constant-arrival-rate", "rate": 20, "duration": "3s", "pre_allocated_vus": 2,
                      "requests": [{"name": "h", "path": "/health"}]},
    "ramping-rate": {"executor": "ramping-arrival-rate", "rate": 5, "stages": [{"duration": "3s", "target": 20}],
                     "requests": [{"name": "h", "path": "/health"}]},
    "per-vu": {"executor": "per-vu-iterations", "vus": 2, "iterations": 3, "requests": [{"name": "h", "path": "/health"}]},
    "shared": {"executor": "shared-iterations", "vus": 2, "iterations": 6, "requests": [{"name": "h", "path": "/health"}]},
    **{
        f"profile-{name}": {"profile": profile, "requests": [{"name": "h", "path": "/health"}]}
        for name, profile in {
            "smoke": {"name": "smoke", "vus": 1, "duration": "2s"},
            "load": {"name": "load", "vus": 3, "ramp_up": "1s", "hold": "1s", "ramp_down": "1s"},
            "spike": {"name": "spike", "start_vus": 1, "peak_vus": 4, "ramp_up": "1s", "hold": "1s", "ramp_down": "1s", "recover": "1s"},
            "soak": {"name": "soak", "vus": 2, "duration": "2s", "ramp_up": "1s", "ramp_down": "1s"},
            "stress": {"name": "stress", "peak_vus": 4, "steps": 2, "ramp_up": "1s", "hold": "1s", "ramp_down": "1s"},
            "breakpoint": {"name": "breakpoint", "peak_rate": 30, "duration": "3s", "abort_delay": "2s"},
            "throughput": {"name": "throughput", "rate": 20, "duration": "3s"},
        }.items()
    },
    "websocket": {"protocol": "websocket", "executor": "constant-vus", "vus": 2, "duration": "3s",
                  "websocket": {"path": "/api/chat", "messages": [{"text": "hi {vu}"}]}},
    "flow": {
        "executor": "per-vu-iterations", "vus": 1, "iterations": 2, "flow": "sequence",
        "auth": {"mode": "per-vu", "register": {"method": "POST", "path": "/api/auth/register", "json": {"username": "u{rand}"}},
                 "login": {"method": "POST", "path": "/api/auth/login", "json": {"username": "u{rand}", "password": "${PW}"}}},
        "data": {"conv": {"values": ["a", "b"], "order": "sequential"}, "users": {"file": "users.csv"}},
        "metrics": {"sent": "counter", "send_time": "trend", "ok": "rate", "size": "gauge"},
        "requests": [
            {"name": "send", "method": "POST", "path": "/api/messages", "json": {"conversation_id": "{conv}", "text": "{users.name}"},
             "capture": {"msg": "id"}, "feeds": {"sent": "success", "send_time": "duration", "ok": "success", "size": "json:id"},
             "thresholds": {"http_req_duration": ["p(95)<900"]}},
            {"name": "history", "path": "/api/v1/conversations/{conv}/messages"},
        ],
        "thresholds": {"http_req_failed": [{"threshold": "rate<0.1", "abort_on_fail": True, "delay_abort_eval": "5s"}]},
    },
    "shared-auth": {"executor": "constant-vus", "vus": 1, "duration": "2s",
                    "auth": {"login": {"method": "POST", "path": "/api/auth/login", "json": {"username": "a", "password": "${PW}"}}},
                    "requests": [{"name": "verify", "path": "/api/auth/verify"}]},
    "env-token": {"executor": "constant-vus", "vus": 1, "duration": "2s", "auth": {"token": "${API_TOKEN}", "scheme": ""},
                  "requests": [{"name": "verify", "path": "/api/auth/verify"}]},
}
KINDS["everything"] = {"include": [k for k in KINDS]}


def write_config(tmp_path: Path, scenarios: dict, **top) -> Path:
    (tmp_path / "users.csv").write_text('name,city\n"Ada, the first",London\nGrace,"New ""York"""\n')
    data = {"name": "t", "target": {"base_url": "http://127.0.0.1:1"}, "scenarios": scenarios, **top}
    path = tmp_path / "perfctl.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def k6():
    binary = find_k6()
    return binary, detect_features(binary)


@pytest.fixture
def kinds(tmp_path):
    return load_config(write_config(tmp_path, KINDS), environ={})


def test_every_kind_renders_and_passes_k6_inspect(kinds, k6):
    binary, features = k6
    rendered = render_scenario(kinds, "everything", features)
    inspected = inspect_script(binary, rendered.text)
    # k6 read the same scenarios and thresholds perfctl planned.
    assert set(inspected["scenarios"]) == set(KINDS) - {"everything"}
    assert inspected["scenarios"]["profile-spike"]["startVUs"] == 1
    assert inspected["thresholds"]["http_req_duration{name:send}"] == ["p(95)<900"]
    # One script per kind, too (what `perfctl validate` does).
    for name in KINDS:
        inspect_script(binary, render_scenario(kinds, name, features).text)


def test_header_names_config_and_scenario(kinds):
    text = render_scenario(kinds, "flow", V1_1).text
    head = text.split("import ", 1)[0]
    assert f'// config:   "{kinds.path.parent.name}/perfctl.yaml"  (name "t", sha256' in head
    assert '// scenario: "flow"' in head
    assert "// Environment it reads: PW  (" in head  # what a plain `k6 run` needs
    assert '"flow": http, executor per-vu-iterations' in head
    assert re.search(r"sha256 [0-9a-f]{12}", head)


@pytest.mark.parametrize(("features", "module"), [(V1_1, "k6/experimental/websockets"), (V1_6, "k6/websockets"), (V2, "k6/websockets")])
def test_websocket_import_follows_the_k6_version(kinds, features, module):
    text = render_scenario(kinds, "websocket", features).text
    imports = re.findall(r'^import .* from "([^"]+)";$', text, re.M)
    assert module in imports
    assert [m for m in imports if "websockets" in m] == [module]
    assert f"for k6 {features.text}" in text


def test_http_only_scripts_import_no_websocket_or_data_module(kinds):
    text = render_scenario(kinds, "constant", V2).text
    assert "websockets" not in text and "k6/timers" not in text and "SharedArray" not in text
    assert "export function setup" not in text


def test_version_specific_flags():
    assert V1_1.summary_off_args == ["--no-summary"] and V2.summary_off_args == ["--summary-mode=disabled"]
    assert K6Features((0, 54, 0)).summary_off_args == ["--no-summary"]
    assert V1_6.live_control and not V2.live_control


def test_too_old_k6_is_a_usage_error_before_the_run(kinds):
    with pytest.raises(UsageError, match=r"WebSocket streaming needs k6 >= v0\.50\.0"):
        render_scenario(kinds, "websocket", K6Features((0, 48, 0)))
    with pytest.raises(UsageError, match="too old"):
        render_scenario(kinds, "constant", K6Features((0, 40, 0)))
    render_scenario(kinds, "constant", K6Features((0, 48, 0)))  # HTTP only: fine


def test_thresholds_as_k6_objects_and_per_request_tags(kinds):
    plan = render_scenario(kinds, "flow", V1_1).plan
    assert plan["thresholds"]["http_req_failed"] == [{"threshold": "rate<0.1", "abortOnFail": True, "delayAbortEval": "5s"}]
    assert plan["thresholds"]["http_req_duration{name:send}"] == ["p(95)<900"]
    assert plan["metrics"] == {
        "sent": {"type": "counter", "time": False},
        "send_time": {"type": "trend", "time": True},  # fed with durations: a time Trend (ms)
        "ok": {"type": "rate", "time": False},
        "size": {"type": "gauge", "time": False},
    }


def test_breakpoint_profile_renders_abort_thresholds(kinds):
    plan = render_scenario(kinds, "profile-breakpoint", V1_1).plan
    assert plan["scenarios"]["profile-breakpoint"]["executor"] == "ramping-arrival-rate"
    assert {"threshold": "rate<0.05", "abortOnFail": True, "delayAbortEval": "2s"} in plan["thresholds"]["http_req_failed"]


def test_shared_auth_logs_in_in_setup_and_passes_data(kinds):
    text = render_scenario(kinds, "shared-auth", V1_1).text
    assert "export const setup = () => {" in text and "exec.test.abort(`login for scenario" in text
    # setup()'s data reaches the iteration, which takes its part's token from it
    assert "export const run_shared_auth = (data) => {" in text and "data && data.tokens ? data.tokens[" in text
    assert "tokens[C[" in text and "] = login0();" in text  # one login, before the test, for this part


def test_secrets_stay_environment_references(tmp_path):
    path = write_config(tmp_path, {k: KINDS[k] for k in ("flow", "env-token", "shared-auth")},
                        target={"base_url": "http://127.0.0.1:1", "headers": {"X-Key": "${API_KEY}"}})
    secrets = {"PW": "pw-5ecret-Zq", "API_TOKEN": "tok-5ecret-Zq", "API_KEY": "key-5ecret-Zq"}
    loaded = load_config(path, environ=secrets)
    for name in ("flow", "env-token", "shared-auth"):
        text = render_scenario(loaded, name, V1_1).text
        for value in secrets.values():
            assert value not in text
    # What the script carries is the reference, resolved by k6 from its environment at run time.
    plan = render_scenario(loaded, "env-token", V1_1).plan
    assert plan["parts"]["env-token"]["auth"]["token"] == "${API_TOKEN}"
    assert plan["headers"] == {"X-Key": "${API_KEY}"}


def test_data_files_are_read_by_k6_not_copied(kinds):
    text = render_scenario(kinds, "flow", V1_1).text
    assert "Ada, the first" not in text and "London" not in text
    assert 'import { SharedArray } from "k6/data";' in text
    pool = render_scenario(kinds, "flow", V1_1).plan["parts"]["flow"]["data"]["users"]
    assert pool["source"] == "csv" and Path(pool["path"]).is_absolute()


def test_data_files_lists_what_k6_will_open(kinds):
    from orchestrator.render.script import data_files

    assert data_files(render_scenario(kinds, "flow", V1_1)) == [str((kinds.path.parent / "users.csv").resolve())]
    assert data_files(render_scenario(kinds, "constant", V1_1)) == []


def test_bad_data_files_are_config_errors(tmp_path):
    scen = {"s": {"executor": "constant-vus", "vus": 1, "duration": "1s", "data": {"u": {"file": "missing.csv"}},
                  "requests": [{"name": "h", "path": "/{u.x}"}]}}
    loaded = load_config(write_config(tmp_path, scen), environ={})
    with pytest.raises(ConfigError, match=r"scenarios\.s\.data\.u\.file: .*missing\.csv does not exist"):
        render_scenario(loaded, "s", V1_1)
    (tmp_path / "missing.csv").write_text("a,b\n1,2,3\n")
    with pytest.raises(ConfigError, match="CSV row 2 has 3 fields"):
        render_scenario(loaded, "s", V1_1)
    (tmp_path / "missing.csv").write_text("a,b\n")
    with pytest.raises(ConfigError, match="has no rows"):
        render_scenario(loaded, "s", V1_1)


def test_metric_mistakes(tmp_path):
    base = {"executor": "constant-vus", "vus": 1, "duration": "1s"}
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, {"s": {**base, "requests": [{"name": "h", "path": "/", "feeds": {"nope": "success"}}]}}), environ={})
    assert "'h' feeds 'nope', which is not declared under metrics" in err.value.lines[0]
    loaded = load_config(write_config(tmp_path, {"s": {**base, "metrics": {"checks": "rate"}, "requests": [{"name": "h", "path": "/"}]}}), environ={})
    with pytest.raises(ConfigError, match="metric k6 or perfctl already defines"):
        render_scenario(loaded, "s", V1_1)
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, {"s": {**base, "requests": [{"name": "h", "path": "/"}], "thresholds": {"http_req_duration": ["p95 < 500"]}}}), environ={})
    assert "is not a k6 threshold" in err.value.lines[0]


def test_rate_and_stage_overrides(kinds):
    plan = render_scenario(kinds, "constant-rate", V1_1, Overrides(rate=7)).plan
    assert plan["scenarios"]["constant-rate"]["rate"] == 7
    opts = render_scenario(kinds, "ramping-rate", V1_1, Overrides(rate=40)).plan["scenarios"]["ramping-rate"]
    assert opts["startRate"] == 10 and opts["stages"] == [{"duration": "3s", "target": 40}]  # scaled, shape kept
    opts = render_scenario(kinds, "ramping", V1_1, Overrides(stages=((5.0, 2), (1.0, 0)))).plan["scenarios"]["ramping"]
    assert opts["stages"] == [{"duration": "5s", "target": 2}, {"duration": "1s", "target": 0}]
    opts = render_scenario(kinds, "profile-spike", V1_1, Overrides(vus=8)).plan["scenarios"]["profile-spike"]
    assert opts["startVUs"] == 2 and max(s["target"] for s in opts["stages"]) == 8
    with pytest.raises(UsageError, match="--rate: scenario 'constant' has no arrival-rate executor"):
        render_scenario(kinds, "constant", V1_1, Overrides(rate=5))
    with pytest.raises(UsageError, match="--stage: scenario 'per-vu' has no ramping executor"):
        render_scenario(kinds, "per-vu", V1_1, Overrides(stages=((1.0, 1),)))
    # In a combined run, --rate reaches only the arrival-rate parts.
    plan = render_scenario(kinds, "everything", V1_1, Overrides(rate=9)).plan
    assert plan["scenarios"]["constant-rate"]["rate"] == 9 and "rate" not in plan["scenarios"]["constant"]


def test_hand_written_script_overrides_become_k6_flags(tmp_path):
    script = hand_written("mine", tmp_path / "x.js", "x", {"totalDuration": "1m30s", "thresholds": {"a": ["rate<1"]}},
                          Overrides(vus=3, stages=((10.0, 5),)))
    assert script.k6_args == ("--vus", "3", "--stage", "10s:5")
    assert script.has_thresholds and script.expected_seconds == 10
    assert hand_written("m", tmp_path / "x.js", "x", {"totalDuration": "1m30s"}, Overrides()).expected_seconds == 90
    with pytest.raises(UsageError, match="--rate: not available with --script"):
        hand_written("m", tmp_path / "x.js", "x", {}, Overrides(rate=3))


@pytest.mark.parametrize(
    ("options", "planned"),
    [
        ('{ scenarios: { a: { executor: "constant-vus", vus: 2, duration: "12s" } } }', 12),
        ('{ scenarios: { a: { executor: "constant-vus", vus: 1, duration: "5s" },'
         ' b: { executor: "ramping-vus", startTime: "3s", stages: [{ duration: "4s", target: 2 }, { duration: "2s", target: 0 }] } } }', 9),
        ('{ vus: 2, duration: "7s" }', 7),
        ('{ stages: [{ duration: "3s", target: 5 }, { duration: "1s", target: 0 }] }', 4),
    ],
)
def test_hand_written_script_is_announced_with_its_own_length(tmp_path, options, planned):
    """k6's totalDuration adds every graceful stop (30 s): the plan is the scenarios' own length."""
    from orchestrator.k6.binary import inspect_file

    path = tmp_path / "own.js"
    path.write_text(f'import {{ sleep }} from "k6";\nexport const options = {options};\n'
                    "export default function () { sleep(1); }\n")
    inspected = inspect_file(find_k6(None), path)  # the real k6's reading of the script
    assert hand_written("own", path, path.read_text(), inspected, Overrides()).expected_seconds == planned


def test_config_strings_in_header_comments_cannot_break_out(tmp_path, k6):
    # Line breaks in a path are refused by the config (test_hardening_input); a description may hold them.
    path = "/a\u2028\u2029*/ `${x}` </script>b"
    scen = {"s": {"executor": "constant-vus", "vus": 1, "duration": "1s", "description": "two\nlines \u2028 */\r\n",
                  "requests": [{"name": "n", "path": path}]}}
    loaded = load_config(write_config(tmp_path, scen), environ={})
    text = render_scenario(loaded, "s", V1_1).text
    head = text.split("import ", 1)[0]
    assert all(line.startswith("//") for line in head.splitlines() if line), head
    assert "\u2028" not in text and "\u2029" not in text and "\r" not in text  # only escaped forms
    inspect_script(k6[0], text)


def test_describe_part_says_what_runs(kinds):
    from orchestrator.render.script import describe_part

    lines = {p.name: describe_part(p) for p in render_scenario(kinds, "everything", V1_1).parts}
    assert lines["profile-spike"] == "profile-spike: ramping-vus (spike), to 4 VUs (from 1) over 4s"
    assert lines["profile-throughput"] == "profile-throughput: constant-arrival-rate (throughput), 20/1s for 3s, VUs 10..40"
    assert lines["ramping-rate"] == "ramping-rate: ramping-arrival-rate, 5 to 20/1s over 3s, VUs 10..20"
    assert lines["per-vu"] == "per-vu: per-vu-iterations, 2 VUs, 3 iterations"


SIMPLE = {"s": {"vus": 1, "duration": "1s", "requests": [{"name": "health", "path": "/health"}]}}


def test_system_tags_are_the_lean_set_plus_what_thresholds_select_on(tmp_path, k6):
    binary, features = k6
    scenarios = {"s": {**SIMPLE["s"], "thresholds": {"http_req_duration{url:http://127.0.0.1:1/health,method:GET}": ["p(95)<500"],
                                                     "http_reqs{mytag:x}": ["count>=0"]}}}
    rendered = render_scenario(load_config(write_config(tmp_path, scenarios), environ={}), "s", features)
    # url joins because a threshold selects on it; mytag is no system tag (a custom tag needs none).
    assert rendered.plan["system_tags"] == [
        "status", "method", "name", "group", "check", "error_code", "scenario", "expected_response", "url"]
    assert "systemTags: PLAN.system_tags," in rendered.text
    assert sorted(inspect_script(binary, rendered.text)["systemTags"]) == sorted(rendered.plan["system_tags"])  # k6 took them


def test_system_tags_can_be_chosen_and_unknown_ones_are_refused(tmp_path):
    chosen = load_config(write_config(tmp_path, SIMPLE, k6={"system_tags": ["name", "status", "url"]}), environ={})
    assert render_scenario(chosen, "s", V1_1).plan["system_tags"] == ["name", "status", "url"]
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, SIMPLE, k6={"system_tags": ["name", "colour"]}), environ={})
    assert any(line.startswith("k6.system_tags[1]") for line in caught.value.lines), caught.value.lines


def test_the_compiled_template_is_kept_only_in_a_private_cache(tmp_path, monkeypatch):
    config = load_config(write_config(tmp_path, SIMPLE), environ={})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = render_scenario(config, "s", V1_1).text
    kept = list((tmp_path / "cache" / "perfctl" / "templates").iterdir())
    # The script's template and the header it includes, then the same script from the cache.
    assert len(kept) == 2 and render_scenario(config, "s", V1_1).text == first
    shared = tmp_path / "shared"
    (shared / "perfctl" / "templates").mkdir(parents=True)
    (shared / "perfctl" / "templates").chmod(0o777)  # others could plant code here: not used
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared))
    assert render_scenario(config, "s", V1_1).text == first
    assert list((shared / "perfctl" / "templates").iterdir()) == []
