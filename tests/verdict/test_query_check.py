"""Custom objectives' PromQL caught before any load: parse errors by a real Prometheus, trend
stats k6 does not export and metrics no scenario defines without one. The target counts
every request it gets, so "no load sent" is measured, not assumed."""

from __future__ import annotations

import pytest
import yaml

from orchestrator.commands.demo import write_demo_config
from orchestrator.config.load import load_config, validate_data
from orchestrator.verdict.gate import QueryContext, Window
from orchestrator.monitoring.local import LocalPrometheus
from orchestrator.netutil import free_port
from orchestrator.verdict.query_check import custom_objectives, fill_for_check, stat_suffix, static_problems
from tests.answering_server import AnsweringServer
from tests.conftest import demo_stack, tune_for_tests

BROKEN = {"name": "broken_rate", "query": "sum(rate(foo[$window]", "pass": "< 1"}
P90 = {"name": "reply_p90", "query": 'max(last_over_time(k6_ws_reply_time_p90{testid="$testid"}[$window]))', "pass": "< 1"}
UNDEFINED = {"name": "orders", "query": 'sum(last_over_time(k6_orders_placed_total{testid="$testid"}[$window]))', "pass": "> 0"}
GOOD = {"name": "rps_custom", "query": 'sum(last_over_time(k6_http_reqs_total{testid="$testid"}[$window])) / $seconds',
        "pass": "> 1"}


def config(objectives, **k6):
    return validate_data({
        "k6": k6,
        "scenarios": {"api": {"vus": 1, "duration": "1s", "requests": [{"name": "home", "path": "/"}],
                              "metrics": {"cart_size": "trend", "orders_placed": "counter"}}},
        "objectives": objectives,
    })


def problems(objectives, **k6):
    cfg = config(objectives, **k6)
    return static_problems(cfg, custom_objectives(cfg))


# ---- static rules ------------------------------------------------------------------------------------


def test_k6_names_trend_stats_without_brackets_and_dots():
    assert [stat_suffix(s) for s in ("p(90)", "p(99.9)", "avg", "med")] == ["p90", "p999", "avg", "med"]


def test_a_trend_stat_k6_does_not_export_names_the_fix():
    (line,) = problems([P90])
    assert line.startswith("objectives[0] 'reply_p90': k6_ws_reply_time_p90 is trend stat 'p(90)'")
    assert line.endswith('add "p(90)" to k6.trend_stats')
    assert problems([P90], trend_stats=["p(90)"]) == []
    p999 = {**P90, "query": 'max(k6_cart_size_p999{testid="$testid"})'}
    assert problems([p999])[0].endswith('add "p(99.9)" to k6.trend_stats')
    assert problems([p999], trend_stats=["p(99.9)"]) == []


def test_a_metric_no_scenario_defines_names_the_fix():
    undefined = {**UNDEFINED, "query": UNDEFINED["query"].replace("orders_placed", "refunds")}
    (line,) = problems([undefined])
    assert line.startswith("objectives[0] 'orders': k6_refunds_total: no scenario defines the k6 metric 'refunds'")
    assert "scenarios.NAME.metrics: {refunds: counter}" in line
    assert problems([UNDEFINED]) == []  # orders_placed is declared
    wrong_type = {**UNDEFINED, "query": 'sum(k6_orders_placed_rate{testid="$testid"})'}
    assert problems([wrong_type])[0].endswith("'orders_placed' is a counter, which k6 sends as k6_orders_placed_total")


def test_built_in_and_perfctl_metrics_and_label_values_pass():
    queries = [
        GOOD["query"],
        'max(last_over_time(k6_http_req_duration_p95{testid="$testid",name="k6_not_a_metric"}[$window]))',
        'min(last_over_time(k6_ws_reply_success_rate{testid="$testid"}[$window]))',
        'max(k6_vus{testid="$testid"}) + max(k6_vus_max{testid="$testid"})',
        'histogram_quantile(0.95, sum(k6_http_req_duration_seconds{testid="$testid"}))',
        'sum(rate(backend_loop_iterations_total{job="$job"}[$rate_range]))',
    ]
    assert problems([{"name": f"q{i}", "query": q, "pass": "> 0"} for i, q in enumerate(queries)]) == []


def test_a_hand_written_script_may_define_its_own_metrics():
    cfg = config([{**UNDEFINED, "query": 'sum(k6_refunds_total{testid="$testid"})'}, P90])
    (line,) = static_problems(cfg, custom_objectives(cfg), own_metrics=True)
    assert "reply_p90" in line  # the trend-stat rule still holds: k6.trend_stats applies to any script


def test_the_filled_query_points_back_into_the_objectives_text():
    cfg = config([{"name": "q", "query": 'rate(x{testid="$testid"}[$rate_range]) / $seconds', "pass": "> 0"}])
    filled, where = fill_for_check(cfg, cfg.objectives[0])
    assert filled == 'rate(x{testid="perfctl-validate"}[4s]) / 60.000'  # 4 scrape intervals of 1s
    ctx = QueryContext("perfctl-validate", Window(0.0, 60.0), 1.0, 5.0)
    assert filled == ctx.fill(cfg.objectives[0].query)  # exactly as the gate fills it
    assert len(where) == len(filled) + 1
    template = cfg.objectives[0].query
    assert template[where[filled.index("/")]] == "/" and where[-1] == len(template)


# ---- before any load, for real -------------------------------------------------------------------------


def _aim_at(server, objectives):
    def edit(path):
        data = yaml.safe_load(path.read_text())
        data["target"]["base_url"] = server.url  # it answers 200 to /health and everything else, and counts
        data["objectives"] = objectives
        path.write_text(yaml.safe_dump(data))

    return edit


@pytest.mark.e2e
def test_broken_promql_is_exit_2_naming_objective_and_position_before_any_load(tmp_path):
    with AnsweringServer(200) as server, demo_stack(tmp_path / "ws", edit=_aim_at(server, [GOOD, BROKEN])) as stack:
        for command in (["validate"], ["run", "chat-http", "--duration", "3s"]):
            result = stack.cli(*command)
            assert result.code == 2, result.output
            assert "objectives[1] 'broken_rate': PromQL parse error at char 22" in result.stderr, result.output
            assert "unclosed left parenthesis" in result.stderr
            assert "Traceback" not in result.output
        assert server.count == 0  # not even the health gate's request: the check comes before it
        assert stack.runs() == []


@pytest.mark.e2e
def test_a_correct_custom_query_passes_validate(tmp_path):
    with AnsweringServer(200) as server, demo_stack(tmp_path / "ws", edit=_aim_at(server, [GOOD])) as stack:
        result = stack.cli("validate")
        assert result.code == 0, result.output
        assert "custom queries: Prometheus parsed every one" in result.stderr + result.stdout
        assert server.count == 0


def _fresh_workspace(tmp_path, server, objectives):
    """perfctl.yaml on a machine where no Prometheus runs (its port is free)."""
    path = write_demo_config(tmp_path / "fresh", backend_port=int(server.url.rsplit(":", 1)[1]), prometheus_port=free_port())
    tune_for_tests(path)
    _aim_at(server, objectives)(path)
    return path


@pytest.mark.e2e
@pytest.mark.parametrize("objective, fix", [(P90, 'add "p(90)" to k6.trend_stats'),
                                            (UNDEFINED, "declare it under a scenario's metrics")])
def test_names_k6_will_not_send_are_exit_2_with_the_fix_without_prometheus(tmp_path, objective, fix):
    from tests.conftest import run_cli

    with AnsweringServer(200) as server:
        path = _fresh_workspace(tmp_path, server, [objective])
        for command in (["validate"], ["run", "chat-http", "--duration", "3s"]):
            result = run_cli(*command, "-c", str(path), cwd=path.parent)
            assert result.code == 2, result.output
            assert f"'{objective['name']}'" in result.stderr and fix in result.stderr, result.output
        assert server.count == 0
        assert not LocalPrometheus.for_config(load_config(path).config, path).client().ready()  # nothing started


@pytest.mark.e2e
def test_a_run_that_starts_prometheus_checks_the_syntax_before_k6(tmp_path):
    from tests.conftest import run_cli

    with AnsweringServer(200) as server:
        path = _fresh_workspace(tmp_path, server, [BROKEN])
        checked = run_cli("validate", "-c", str(path), cwd=path.parent)
        assert checked.code == 0, checked.output  # Prometheus is not running: skipped, and said
        assert "syntax is not checked" in checked.stderr
        prometheus = LocalPrometheus.for_config(load_config(path).config, path)
        try:
            result = run_cli("run", "chat-http", "--duration", "3s", "-c", str(path), cwd=path.parent)
            assert result.code == 2, result.output
            assert "'broken_rate': PromQL parse error at char 22" in result.stderr
        finally:
            prometheus.stop()
        assert set(server.paths) == {"/health"}  # the health gate only: k6 never started
        assert not (path.parent / "results").exists() or not any((path.parent / "results").iterdir())
