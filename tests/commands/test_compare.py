"""`perfctl compare` math (pure): directions from criteria and metric names, deltas, regressions."""

from __future__ import annotations

import pytest

from orchestrator.commands import compare


@pytest.mark.parametrize(
    ("criterion", "better"),
    [("< 0.01", "lower"), ("<= +10%", "lower"), ("< 5 and <= +10%", "lower"), (">= 95", "higher"),
     ("> 1 and >= -5%", "higher"), ("between 90 and 110", None), ("== 1", None), ("< 5 and > 1", None), ("nonsense", None)],
)
def test_direction_comes_from_the_criterion(criterion, better):
    assert compare.criterion_direction(criterion) == better


def verdict(**values):
    return {"objectives": [{"name": n, "value": v, "criterion": c, "result": "pass"} for n, (v, c) in values.items()]}


def test_objective_regressions_follow_the_criterion():
    a = verdict(latency=(100.0, "< 500"), loop=(100.0, ">= 95"), flat=(1.0, "== 1"), lag=(0.0, "< 500"))
    b = verdict(latency=(120.0, "< 500"), loop=(99.0, ">= 95"), flat=(2.0, "== 1"), lag=(3.0, "< 500"))
    rows = {r.name: r for r in compare.objective_rows(a, b, tolerance=5.0)}
    assert rows["latency"].delta == 20.0 and rows["latency"].delta_percent == pytest.approx(20.0)
    assert rows["latency"].regression and not rows["latency"].improvement
    assert not rows["loop"].regression  # 1% lower is within the 5% tolerance
    assert not rows["flat"].regression and not rows["flat"].improvement  # no direction, never marked
    # From 0, any change for the worse is a regression (no percent exists).
    assert rows["lag"].delta_percent is None and rows["lag"].regression


def test_missing_values_are_shown_and_a_lost_value_is_a_regression():
    a = verdict(only_a=(1.0, "< 5"), gone=(None, "< 5"), lost=(1.0, "< 5"))
    b = verdict(only_b=(1.0, "< 5"), gone=(2.0, "< 5"), lost=(None, "< 5"))
    rows = {r.name: r for r in compare.objective_rows(a, b, tolerance=0.0)}
    assert set(rows) == {"only_a", "only_b", "gone", "lost"}
    assert all(r.delta is None for r in rows.values())
    # B no longer measures what A did: not knowing is never "no regression".
    assert rows["lost"].regression and rows["only_a"].regression
    assert not rows["only_b"].regression and not rows["gone"].regression


def test_k6_summary_is_flattened_with_directions():
    metrics_a = {"http_req_duration": {"avg": 10.0, "p(95)": 20.0, "min": 1.0}, "http_reqs": {"count": 100, "rate": 50.0},
                 "checks": {"passes": 10, "fails": 0, "value": 1.0}, "data_sent": {"count": 5.0}}
    metrics_b = {"http_req_duration": {"avg": 10.2, "p(95)": 30.0, "min": 3.0}, "http_reqs": {"count": 90, "rate": 40.0},
                 "checks": {"passes": 8, "fails": 2, "value": 0.8}, "data_sent": {"count": 50.0}}
    rows = {r.name: r for r in compare.k6_rows(metrics_a, metrics_b, tolerance=5.0)}
    assert rows["http_req_duration.p(95)"].regression
    assert not rows["http_req_duration.avg"].regression  # +2%
    assert not rows["http_req_duration.min"].regression  # min has no direction
    assert rows["http_reqs.rate"].regression and rows["checks.value"].regression and rows["checks.fails"].regression
    assert not rows["data_sent.count"].regression  # no direction
    assert compare.flatten_summary({"x": {"values": {"avg": 1, "ok": True}}}) == {"x.avg": 1.0}


def test_sub_millisecond_moves_are_noise_not_regressions():
    # The case: http_req_blocked.avg 0.00997 -> 0.0144 ms is +44%, and 4 microseconds.
    a = {"http_req_blocked": {"avg": 0.00997, "p(95)": 0.02, "count": 300}, "http_req_duration": {"p(95)": 2.0, "count": 300}}
    b = {"http_req_blocked": {"avg": 0.0144, "p(95)": 0.05, "count": 310}, "http_req_duration": {"p(95)": 302.0, "count": 600}}
    rows = {r.name: r for r in compare.k6_rows(a, b, tolerance=5.0)}
    blocked = rows["http_req_blocked.avg"]
    assert blocked.delta_percent > 40 and not blocked.regression and blocked.noise and blocked.unit == "ms"
    assert rows["http_req_duration.p(95)"].regression and not rows["http_req_duration.p(95)"].noise
    # How many samples a trend has is the amount of work: no direction, never marked.
    assert rows["http_req_duration.count"].better is None and not rows["http_req_duration.count"].regression


def test_objective_floors_follow_the_unit_of_their_query():
    def objective(value, query, criterion="< 1"):
        return {"name": "x", "value": value, "criterion": criterion, "result": "pass", "query": query}

    p95 = 'max(last_over_time(k6_http_req_duration_p95{testid="r"}[5s]))'  # seconds
    ratio = '(sum(last_over_time(k6_http_reqs_total{testid="r",expected_response="false"}[5s])) or vector(0)) / 1'
    cases = [
        (p95, 0.0021, 0.0029, False),  # +38%, 0.8 ms: noise
        (p95, 0.0021, 0.3021, True),  # +300 ms
        (ratio, 0.0, 0.0005, False),  # 0.05 percentage point from 0: noise
        (ratio, 0.0, 0.01, True),  # 1 point
    ]
    for query, va, vb, regression in cases:
        (row,) = compare.objective_rows({"objectives": [objective(va, query)]}, {"objectives": [objective(vb, query)]}, 5.0)
        assert row.regression is regression, (query, va, vb)
        assert row.noise is not regression
    # Floors are settings: with a 500 ms floor even +300 ms is noise.
    (row,) = compare.objective_rows({"objectives": [objective(0.0021, p95)]}, {"objectives": [objective(0.3021, p95)]}, 5.0,
                                    compare.Floors(duration_ms=500))
    assert not row.regression and row.noise


def test_split_name_keeps_percentiles_and_tagged_names_whole():
    assert compare.split_name("http_req_duration.p(99.9)") == ("http_req_duration", "p(99.9)")
    assert compare.split_name("http_req_duration{name:api.v1}.avg") == ("http_req_duration{name:api.v1}", "avg")
    assert compare.flatten_summary({"d": {"p(99.9)": 3}}) == {"d.p(99.9)": 3.0}


def _ledger_with_two_runs(root, p95_a: float, p95_b: float):
    import json

    from orchestrator.ledger.store import Ledger

    ledger = Ledger(root)
    for run_id, p95 in (("a", p95_a), ("b", p95_b)):
        run = ledger.create(run_id, {"scenario": "demo", "status": "finished"})
        (run.path / "verdict.json").write_text(json.dumps({"schema": "perfctl.verdict/v1", "result": "pass", "objectives": []}))
        (run.path / "summary.json").write_text(json.dumps({"metrics": {"http_req_duration": {"p(95)": p95}}}))


def test_cli_floors_come_from_gate_compare_and_the_options(tmp_path):
    import yaml

    from orchestrator.commands.demo import write_demo_config
    from tests.conftest import run_cli

    config = write_demo_config(tmp_path, backend_port=1, prometheus_port=2)
    data = yaml.safe_load(config.read_text())
    data["results_dir"] = "results"
    data["gate"] = {"compare": {"duration_floor_ms": 500}}
    config.write_text(yaml.safe_dump(data))
    _ledger_with_two_runs(tmp_path / "results", 2.0, 302.0)

    def cli(*args):
        return run_cli("compare", "a", "b", "-c", str(config), *args, cwd=tmp_path)

    quiet = cli("--fail-on-regression")
    assert quiet.code == 0 and "~ noise" in quiet.stdout and "500 ms" in quiet.stdout, quiet.output
    loud = cli("--fail-on-regression", "--duration-floor", "1")
    assert loud.code == 99 and "REGRESSION" in loud.stdout
    assert "+15000%" in loud.stdout
    bad = cli("--ratio-floor", "-1")
    assert bad.code == 2 and "--ratio-floor: must be a number >= 0" in bad.stderr
    data["gate"] = {"compare": {"count_floor": -1}}
    config.write_text(yaml.safe_dump(data))
    invalid = cli()
    assert invalid.code == 2 and "gate.compare.count_floor" in invalid.stderr
