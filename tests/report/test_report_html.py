"""report.html rendering (pure): one chart per objective and per load series, criterion lines
where the criteria are, every text escaped, nothing fetched from the network."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import pytest

from orchestrator.report import html as report_html
from orchestrator import criteria
from orchestrator.verdict import slo
from orchestrator.report import svg_chart
from orchestrator.report.html import ReportData
from orchestrator.report.svg_chart import Chart, Line


def grade(name, result, value, criteria, warning=None, baseline=None, key=False):
    return slo.Grade(name=name, result=slo.Result(result), value=value, score=1.0, weight=1.0, key=key,
                     criteria=criteria, warning=warning, baseline=baseline, reason="why <b>")


def data(objective_names, points=None):
    points = points if points is not None else [(100.0, 1.0), (101.0, 2.0), (102.0, 3.0)]
    return ReportData(
        run_id="run-<1>", start=100.0, end=104.0, until=104.0,
        objectives=[Chart(title=n, points=points) for n in objective_names],
        load=[Chart(title=t, points=points) for t in ("VUs", "requests/s", "failed requests")],
    )


def verdict(grades):
    return slo.decide(grades)


def test_one_svg_per_objective_and_load_series():
    grades = [grade("a", "pass", 3, "< 5"), grade("b", "fail", 3, ">= 10", warning=">= 8")]
    html = report_html.render(data(["a", "b"]), verdict(grades), {"scenario": "s"})
    assert html.count("<svg") == 2 + 3
    assert re.findall(r'data-chart="([^"]+)"', html) == ["a", "b", "VUs", "requests/s", "failed requests"]
    assert "FAIL" in html


def test_criterion_lines_are_drawn_at_the_bounds_in_their_grades_colours():
    lines = report_html.criterion_lines(grade("x", "warning", 3, "< 5", warning="between 1 and 9"))
    assert [(line.y, line.colour) for line in lines] == [
        (5.0, report_html.PASS_LINE_COLOR), (1.0, report_html.WARNING_LINE_COLOR), (9.0, report_html.WARNING_LINE_COLOR)
    ]
    # The pass line is drawn in a green, the warning line in an amber: never the fail red.
    assert report_html.PASS_LINE_COLOR != report_html.RESULT_COLOR["fail"]
    # A relative bound is drawn from the baseline; without one there is nothing to draw.
    assert [line.y for line in report_html.criterion_lines(grade("r", "pass", 3, "<= +10%", baseline=200.0))] == [220.0]
    assert report_html.criterion_lines(grade("r", "inconclusive", 3, "<= +10%")) == ()


def test_criterion_labels_are_in_the_values_unit():
    g = slo.Grade(name="p95", result=slo.Result.PASS, value=0.1, score=1, weight=1, key=False, criteria="< 0.25",
                  warning="< 0.5", unit="s")
    assert [line.label for line in report_html.criterion_lines(g)] == ["pass < 250 ms", "warning < 500 ms"]


def test_chart_places_points_inside_the_plot_and_criterion_on_its_y():
    chart = Chart(title="c", points=[(0.0, 0.0), (10.0, 10.0)], lines=(Line(5.0, "#1a7f37", "pass < 5"),))
    svg = svg_chart.draw(chart, 0.0, 10.0)
    polyline = re.search(r'<polyline points="([^"]+)"', svg).group(1)
    xs = [float(p.split(",")[0]) for p in polyline.split()]
    ys = [float(p.split(",")[1]) for p in polyline.split()]
    assert xs[0] == svg_chart.LEFT and xs[-1] == svg_chart.WIDTH - svg_chart.RIGHT
    assert ys[0] > ys[1]  # larger values are higher up
    line_y = float(re.search(r'<line x1="[^"]+" y1="([^"]+)"[^>]*class="criterion"', svg).group(1))
    assert abs(line_y - (ys[0] + (ys[1] - ys[0]) * 0.5)) < 0.2 * abs(ys[0] - ys[1])  # 5 lies between 0 and 10


def _labels(svg: str, kind: str) -> list[str]:
    return re.findall(rf'class="tick {kind}">([^<]*)<', svg)


def test_ratio_and_count_axes_start_at_zero_with_units_and_nice_ticks():
    ratio = Chart(title="errors", points=[(0.0, 0.0), (5.0, 0.00221), (10.0, 0.0012)], unit="ratio",
                  lines=(Line(0.01, "#1a7f37", "pass < 1%"),))
    labels = _labels(svg_chart.draw(ratio, 0.0, 10.0), "ytick")
    assert labels[0] == "0%" and all(label.endswith("%") for label in labels)
    assert not any(label.startswith("-") for label in labels)
    lag = Chart(title="lag", points=[(0.0, 0.0), (10.0, 0.0)], unit="messages")
    assert not any(label.startswith("-") for label in _labels(svg_chart.draw(lag, 0.0, 10.0), "ytick"))
    latency = Chart(title="p95", points=[(0.0, 0.0031), (10.0, 0.0052)], unit="s")
    assert all(label.endswith("ms") for label in _labels(svg_chart.draw(latency, 0.0, 10.0), "ytick"))


@pytest.mark.parametrize(("lo", "hi"), [(0, 0.00221), (0, 87.3), (90, 101), (0, 12_345), (-3, 7), (0, 1)])
def test_nice_ticks_are_round_and_cover_the_range(lo, hi):
    ticks = svg_chart.nice_ticks(lo, hi)
    assert ticks[0] <= lo and ticks[-1] >= hi and 3 <= len(ticks) <= 8
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 5, 10)
    assert all(abs((b - a) - step) < step * 1e-6 for a, b in zip(ticks, ticks[1:]))


def test_time_labels_read_as_elapsed_time():
    assert svg_chart.time_ticks(10.4) == [0, 2, 4, 6, 8, 10]
    assert [svg_chart.elapsed(t) for t in svg_chart.time_ticks(300)] == ["0s", "1m", "2m", "3m", "4m", "5m"]
    assert svg_chart.elapsed(90) == "1m30s" and svg_chart.elapsed(3900) == "1h05m"
    svg = svg_chart.draw(Chart(title="c", points=[(100.0, 1.0), (107.8, 2.0)]), 100.0, 107.8)
    assert _labels(svg, "xtick") == ["0s", "2s", "4s", "6s"]  # not 2.6s / 5.21s / 7.81s


def test_every_point_shows_its_value_on_hover():
    svg = svg_chart.draw(Chart(title="p95", points=[(0.0, 0.012), (65.0, 0.0123)], unit="s"), 0.0, 65.0)
    assert re.findall(r"<title>([^<]*)</title></circle>", svg) == ["0s: 12 ms", "1m05s: 12.3 ms"]


def test_k6_summary_requests_settings_and_dashboard_link_are_on_the_page():
    grades = [grade("a", "pass", 3, "< 5")]
    numbers = {"headline": {"requests": 1234.0, "request_rate": 45.2, "failed_ratio": 0.0019, "p50": 0.012, "p95": 0.048,
                            "p99": 0.09, "iterations": 300.0, "vus_max": 4.0, "data_received": 728e3, "data_sent": 43e3},
               "requests": [{"name": "send", "count": 700, "failed_ratio": 0.0, "p95": 0.05,
                             "thresholds": [{"metric": "http_req_duration", "text": "p(95)<2000", "failed": False}]}]}
    page = replace(data(["a"]), settings=(("scenario", "chat"), ("k6", "v1.1.0")), dashboard="dashboard.html")
    html = report_html.render(page, verdict(grades), {"scenario": "s", "k6": numbers})
    assert "1,234" in html and "45.2 req/s" in html and "0.19%" in html and "48 ms" in html
    assert "<td>send</td>" in html and "p(95)&lt;2000 ok" in html
    assert "<th>k6</th><td>v1.1.0</td>" in html
    assert "href='dashboard.html'" in html


def test_text_is_escaped_and_nothing_is_fetched():
    grades = [grade("<script>alert(1)</script>", "pass", 1, "< 5")]
    html = report_html.render(data(["<script>alert(1)</script>"]), verdict(grades), {"scenario": "<s>"})
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert not re.search(r"src\s*=|@import|url\(|https?://", html)
    # The only link is k6's own report beside this file, and only when it exists.
    assert "href=" not in html


def test_a_chart_without_data_says_so():
    chart = Chart(title="empty", points=[], problem="no data in the window")
    html = report_html._figure(chart, data([]), kind="objective")
    assert "no data" in html and "<polyline" not in html


def test_not_evaluated_objective_is_shown_grey_with_its_note_and_no_relative_line():
    grades = [grade("abs", "pass", 3, "< 5"),
              slo.grade(slo.ObjectiveSpec("rel", criteria.parse_criteria("<= +10%")), 0.12)]
    v = verdict(grades)
    html = report_html.render(data(["abs", "rel"]), v, {"scenario": "s"})
    assert v.result is slo.Result.PASS and "NOT_EVALUATED" in html
    assert report_html.RESULT_COLOR["not-evaluated"] in html
    assert "no baseline yet for &#x27;&lt;= +10%&#x27; (none given): this run can become one" in html
    assert report_html.criterion_lines(v.grades[1]) == ()


def test_html_score_is_cut_not_rounded():
    grades = [slo.Grade(name="a", result=slo.Result.PASS, value=1, score=8.5, weight=8.5, key=False, criteria="< 5",
                        warning=None),
              slo.Grade(name="b", result=slo.Result.WARNING, value=1, score=0.498, weight=0.996, key=False, criteria="< 5",
                        warning="< 9"),
              slo.Grade(name="c", result=slo.Result.FAIL, value=9, score=0, weight=0.504, key=False, criteria="< 5",
                        warning=None, reason="r")]
    html = report_html.render(data(["a", "b", "c"]), verdict(grades), {"scenario": "s"})
    assert "score 89.9%" in html and "90%" in html and "score 90%" not in html
