"""The pure parts of flat memory: which runs go flat and why, k6 thresholds as PromQL
objectives, the run record's round trip, the request table's judged thresholds, and the live
gate's k6-like timing. The whole thing against real k6 and Prometheus: tests/e2e/test_flat_memory_e2e.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from orchestrator.config.load import load_config
from orchestrator.errors import UsageError
from orchestrator.k6.breakdown import RequestRow, Threshold, with_judged_thresholds
from orchestrator.k6.memory import MemoryMode, as_recorded, decide, flat_config, k6_flags
from orchestrator.k6.thresholds import K6Threshold, metric_kinds, objective_of, objectives_of, thresholds_of
from orchestrator.ledger.record import RunRecord
from orchestrator.verdict.live_gate import LiveGate
from tests.conftest import write_config

BASE = """\
version: 1
target: {{base_url: "http://127.0.0.1:9"}}
k6: {k6}
scenarios:
  short:
    vus: 1
    duration: 30s
    requests: [{{name: home, path: /}}]
    thresholds: {{http_req_duration: ["p(95)<500"], checks: ["rate>0.99"]}}
  long:
    vus: 1
    duration: 20m
    requests: [{{name: home, path: /}}]
  soaked:
    profile: {{name: soak, vus: 2, duration: 2m}}
    requests: [{{name: home, path: /}}]
"""


@dataclass
class Script:
    """What decide() reads of a rendered script (render/script.RenderedScript)."""

    expected_seconds: float
    parts: tuple = ()
    thresholds: dict = field(default_factory=dict)
    plan: dict = field(default_factory=dict)
    source: object = None  # a hand-written script's path
    text: str = ""


def _loaded(tmp_path, k6: str = "{}"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    return load_config(write_config(tmp_path / "perfctl.yaml", BASE.format(k6=k6)))


def _script(loaded, name: str):
    from orchestrator.k6.features import K6Features
    from orchestrator.render.script import render_scenario

    return render_scenario(loaded, name, K6Features((1, 1, 0)))


# ---- which runs go flat -------------------------------------------------------------------------


def test_auto_keeps_short_runs_exact_and_takes_long_and_soak_runs_flat(tmp_path):
    loaded = _loaded(tmp_path)
    k6 = loaded.config.k6
    short = decide(k6, _script(loaded, "short"))
    assert not short.flat and short.why == "planned 30s, within k6.flat_after 10m"
    long = decide(k6, _script(loaded, "long"))
    assert long.flat and long.why == "planned 20m > k6.flat_after 10m"
    soak = decide(k6, _script(loaded, "soaked"))  # 4 minutes in all, but a soak
    assert soak.flat and soak.why == "a soak profile (soaked)"


def test_the_setting_chooses_and_k8s_cannot_run_flat(tmp_path):
    flat = _loaded(tmp_path, "{memory: flat}")
    mode = decide(flat.config.k6, _script(flat, "short"))
    assert mode.flat and mode.why == "k6.memory: flat"
    assert mode.thresholds == {"http_req_duration": ["p(95)<500"], "checks": ["rate>0.99"]}
    assert mode.kinds == {"checks": "rate", "http_req_duration": "time-trend"}
    assert decide(flat.config.k6, _script(flat, "long"), runtime="docker").flat
    with pytest.raises(UsageError, match="k6.memory: flat is not available with --runtime k8s"):
        decide(flat.config.k6, _script(flat, "short"), runtime="k8s", runtime_can=False)
    auto = _loaded(tmp_path / "auto")
    there = decide(auto.config.k6, _script(auto, "long"), runtime="k8s", runtime_can=False)
    assert not there.flat and there.why == "--runtime k8s: k6's own summary and thresholds"
    exact = _loaded(tmp_path / "exact", "{memory: exact, flat_after: 1s}")
    assert decide(exact.config.k6, _script(exact, "long")) == MemoryMode("exact", "k6.memory: exact")


def test_a_hand_written_script_with_its_own_handle_summary_stays_exact_unless_asked(tmp_path):
    own = Script(3600, source="load.js", text="export function handleSummary(data) { return {}; }")
    auto = decide(_loaded(tmp_path).config.k6, own)
    assert not auto.flat and auto.why == "the script exports handleSummary, which a flat k6 would not call"
    assert decide(_loaded(tmp_path / "flat", "{memory: flat}").config.k6, own).flat  # the user's choice
    assert decide(_loaded(tmp_path / "plain").config.k6, Script(3600, source="load.js", text="export default () => {}")).flat


def test_flat_flags_and_config(tmp_path):
    loaded = _loaded(tmp_path, "{memory: flat}")
    mode = decide(loaded.config.k6, _script(loaded, "short"))
    assert k6_flags(mode, ["--no-summary"]) == ["--no-thresholds", "--no-summary"]
    assert k6_flags(MemoryMode("exact", "x"), ["--no-summary"]) == []
    judged = flat_config(loaded, "short", mode).config
    assert judged.k6.native_histograms is True
    added = [o for o in judged.objectives if o.name.startswith("k6:")]
    assert [o.name for o in added] == ["k6:http_req_duration:p(95)<500", "k6:checks:rate>0.99"]
    assert all(o.key and o.weight == 0 and o.scenarios == ["short"] and not o.live for o in added)
    again = flat_config(flat_config(loaded, "short", mode), "short", mode).config  # judged again: no twins
    assert [o.name for o in again.objectives] == [o.name for o in judged.objectives]
    assert flat_config(loaded, "short", MemoryMode("exact", "x")) is loaded


def test_a_recorded_flat_run_is_judged_again_the_same_way(tmp_path):
    loaded = _loaded(tmp_path)  # perfctl.yaml says auto: the record decides
    mode = MemoryMode("flat", "planned 1h > k6.flat_after 10m", {"http_reqs": ["count>1"]}, {"http_reqs": "counter"})
    record = RunRecord.from_json({"scenario": "short", "k6_memory": mode.as_dict()})
    assert RunRecord.from_json(record.to_json()).identity.k6_memory == mode.as_dict()
    assert MemoryMode.from_dict(record.identity.k6_memory) == mode
    config = as_recorded(loaded, record).config
    assert config.k6.native_histograms and [o.name for o in config.objectives][-1] == "k6:http_reqs:count>1"
    assert as_recorded(loaded, RunRecord.from_json({"scenario": "short"})) is loaded
    assert MemoryMode.from_dict({"mode": "sideways"}) is None and MemoryMode.from_dict(None) is None


# ---- thresholds as PromQL ------------------------------------------------------------------------

KINDS = metric_kinds({"metrics": {"cart_value": {"type": "trend", "time": False},
                                  "login_time": {"type": "trend", "time": True}}})


def _query(key: str, text: str) -> str:
    return objective_of(K6Threshold(key, text), KINDS).query


def test_trends_read_native_histograms_in_k6s_units():
    assert _query("http_req_duration", "p(95)<500") == (
        '(histogram_quantile(0.95, sum(k6_http_req_duration_seconds{testid="$testid"})) * 1000)')
    assert _query("login_time", "med<100") == '(histogram_quantile(0.5, sum(k6_login_time_seconds{testid="$testid"})) * 1000)'
    assert _query("cart_value", "avg>3") == ('(sum(histogram_sum(k6_cart_value{testid="$testid"}))'
                                              ' / sum(histogram_count(k6_cart_value{testid="$testid"})))')
    assert "histogram_quantile(1, " in _query("http_req_duration", "max<900")
    # A hand-written script's own Trend: whichever form k6 sent.
    unknown = _query("my_trend", "p(99)<5")
    assert "k6_my_trend_seconds" in unknown and ") or histogram_quantile(0.99, sum(k6_my_trend{" in unknown


def test_counters_rates_and_gauges():
    assert _query("http_reqs", "count>=100") == 'sum(last_over_time(k6_http_reqs_total{testid="$testid"}[$window]))'
    assert _query("http_reqs", "rate>10") == 'sum(last_over_time(k6_http_reqs_total{testid="$testid"}[$window])) / $seconds'
    failed = _query("http_req_failed{name:login}", "rate<0.01")
    assert 'k6_http_reqs_total{testid="$testid",name="login",expected_response="false"}' in failed
    assert failed.endswith('/ sum(last_over_time(k6_http_reqs_total{testid="$testid",name="login"}[$window]))')
    # Several series of a rate: the worst one decides, on the failing side of the operator.
    assert _query("checks", "rate>0.99") == 'min(last_over_time(k6_checks_rate{testid="$testid"}[$window]))'
    assert _query("ws_reply_success", "rate<=0.5").startswith("max(")
    assert _query("vus", "value<100") == 'max(last_over_time(k6_vus{testid="$testid"}[$window]))'


def test_criteria_names_units_and_live():
    objective = objective_of(K6Threshold("http_req_duration{name:send, method:POST}", "p(99) <= 800"), KINDS)
    assert objective.name == "k6:http_req_duration{name:send, method:POST}:p(99)<=800"
    assert objective.pass_ == "<= 800" and objective.unit == "ms" and objective.key and objective.weight == 0
    assert 'name="send",method="POST"' in objective.query
    assert objective_of(K6Threshold("checks", "rate===1"), KINDS).pass_ == "== 1"
    aborts = objective_of(K6Threshold("http_req_failed", "rate<0.05", abort_on_fail=True, delay_abort_eval="30s"), KINDS)
    assert (aborts.live, aborts.grace, aborts.live_after, aborts.live_window, aborts.unit) == (True, 0.0, 30.0, "run", "ratio")
    assert objective_of(K6Threshold("http_reqs", "rate>1"), KINDS).unit == "req/s"


def test_a_tag_value_never_leaves_its_promql_string():
    query = _query('http_req_duration{name:a" or on() vector(1) or x="}', "p(95)<1")
    assert 'name="a\\" or on() vector(1) or x=\\""' in query
    with pytest.raises(UsageError, match="expected metric or metric"):
        _query('http_req_duration{name:a"}) or vector(1) #}', "p(95)<1")  # no braces inside a selector


@pytest.mark.parametrize(("key", "text", "said"), [
    ("http_req_duration", "count>1", "http_req_duration is a trend, which takes avg, min, max, med or p(N)"),
    ("http_reqs", "p(95)<1", "http_reqs is a counter, which takes count or rate"),
    ("checks", "value<1", "checks is a rate, which takes rate"),
    ("vus", "rate<1", "vus is a gauge, which takes value"),
    ("http_reqs{name", "count>1", "expected metric or metric{tag:value}"),
    ("http_reqs{name=x}", "count>1", "'name=x' is not tag:value"),
    ("http_reqs", "count >> 1", "not k6's grammar"),
])
def test_thresholds_k6_would_refuse_are_usage_errors(key, text, said):
    with pytest.raises(UsageError) as caught:
        objective_of(K6Threshold(key, text), KINDS)
    assert said in caught.value.message


def test_both_of_k6s_threshold_forms_are_read():
    found = thresholds_of({"http_reqs": ["count>1", {"threshold": "rate>2", "abortOnFail": True, "delayAbortEval": "5s"}],
                           "checks": "rate>0.9"})
    assert found == [K6Threshold("http_reqs", "count>1"), K6Threshold("http_reqs", "rate>2", True, "5s"),
                     K6Threshold("checks", "rate>0.9")]
    assert [o.name for o in objectives_of({"http_reqs": ["count>1"]}, KINDS)] == ["k6:http_reqs:count>1"]


def test_request_rows_show_the_thresholds_the_gate_judged():
    rows = [RequestRow("send", 10, 0.0, 0.1), RequestRow("history", 5, 0.0, 0.2, (Threshold("m", "t", None),))]
    judged = with_judged_thresholds(rows, {"k6:http_req_duration{name:send}:p(95)<500": True, "error_ratio": False,
                                           "k6:http_reqs:count>1": False})
    assert judged[0].thresholds == (Threshold("http_req_duration", "p(95)<500", True),)
    assert judged[1].thresholds == rows[1].thresholds


# ---- the live gate, as k6's abortOnFail times it -------------------------------------------------


class RecordingPrometheus:
    """The Prometheus client's seam: answers every query with `value`, keeping what was asked."""

    def __init__(self, value: float):
        self.value, self.asked = value, []

    def scalar(self, promql: str, *, at: float | None = None) -> float:
        self.asked.append(promql)
        return self.value


def test_live_gate_waits_for_delay_abort_eval_and_reads_the_run_so_far(tmp_path):
    loaded = _loaded(tmp_path, "{memory: flat}")
    objective = objective_of(K6Threshold("http_reqs", "count<5", abort_on_fail=True, delay_abort_eval="10s"), KINDS)
    prom = RecordingPrometheus(50.0)
    now = [1000.0]
    live = LiveGate(loaded.config, prom, [objective], run_id="r", start=1000.0, clock=lambda: now[0])
    assert live.check(1005.0) is None and prom.asked == []  # before delayAbortEval: not asked at all
    stop = live.check(1030.0)
    assert stop is not None and stop.objective == "k6:http_reqs:count<5" and stop.breached_seconds == 0
    assert prom.asked == ['sum(last_over_time(k6_http_reqs_total{testid="r"}[30s]))']  # the whole run, not 4 s


def test_every_runtime_but_the_k6_operator_can_run_flat():
    from orchestrator.runtimes import REGISTRY, runtime_class

    assert {name for name in REGISTRY if not runtime_class(name).flat_memory} == {"k8s"}


def test_validate_says_which_scenarios_run_flat_and_refuses_what_the_gate_cannot_judge(tmp_path):
    from tests.conftest import run_cli

    config = write_config(tmp_path / "perfctl.yaml", BASE.format(k6="{}"))
    ok = run_cli("validate", "-c", str(config), cwd=tmp_path)
    assert ok.code == 0, ok.output
    assert "k6 memory: flat (planned 20m > k6.flat_after 10m)" in ok.stderr
    assert ok.stderr.count("k6 memory: flat") == 2  # long and soaked; short stays exact
    bad = config.read_text().replace('thresholds: {http_req_duration: ["p(95)<500"], checks: ["rate>0.99"]}',
                                     'thresholds: {http_req_duration: ["count>1"]}')
    config.write_text(bad.replace("k6: {}", "k6: {memory: flat}"))
    refused = run_cli("validate", "-c", str(config), cwd=tmp_path)
    assert refused.code == 2, refused.output
    assert "scenarios.short: k6 threshold 'count>1' on http_req_duration: http_req_duration is a trend" in refused.output
    assert "Traceback" not in refused.output
