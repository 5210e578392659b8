"""report.html rendering (pure): one chart per objective and per load series, criterion lines
where the criteria are, every text escaped, nothing fetched from the network."""

from __future__ import annotations

import re

from orchestrator import report_html, slo
from orchestrator.report_html import Chart, ReportData


def grade(name, result, value, criteria, warning=None, baseline=None, key=False):
    return slo.Grade(name=name, result=slo.Result(result), value=value, score=1.0, weight=1.0, key=key,
                     criteria=criteria, warning=warning, baseline=baseline, reason="why <b>")


def data(objective_names, points=None):
    points = points if points is not None else [(100.0, 1.0), (101.0, 2.0), (102.0, 3.0)]
    return ReportData(
        run_id="run-<1>", start=100.0, end=104.0, until=104.0,
        objectives=[Chart(title=n, points=points) for n in objective_names],
        load=[Chart(title=t, points=points) for t in ("VUs", "requests/s", "error ratio")],
    )


def verdict(grades):
    return slo.decide(grades)


def test_one_svg_per_objective_and_load_series():
    grades = [grade("a", "pass", 3, "< 5"), grade("b", "fail", 3, ">= 10", warning=">= 8")]
    html = report_html.render(data(["a", "b"]), verdict(grades), {"scenario": "s"})
    assert html.count("<svg") == 2 + 3
    assert re.findall(r'data-chart="([^"]+)"', html) == ["a", "b", "VUs", "requests/s", "error ratio"]
    assert "FAIL" in html


def test_criterion_lines_are_drawn_at_the_bounds():
    lines = report_html.criterion_lines(grade("x", "warning", 3, "< 5", warning="between 1 and 9"))
    assert [(y, c) for y, c, _ in lines] == [
        (5.0, report_html.PASS_LINE_COLOR), (1.0, report_html.WARNING_LINE_COLOR), (9.0, report_html.WARNING_LINE_COLOR)
    ]
    # A relative bound is drawn from the baseline; without one there is nothing to draw.
    assert [y for y, _, _ in report_html.criterion_lines(grade("r", "pass", 3, "<= +10%", baseline=200.0))] == [220.0]
    assert report_html.criterion_lines(grade("r", "inconclusive", 3, "<= +10%")) == ()


def test_chart_places_points_inside_the_plot_and_criterion_on_its_y():
    chart = Chart(title="c", points=[(0.0, 0.0), (10.0, 10.0)], lines=((5.0, "#d62728", "pass < 5"),))
    svg = report_html.svg_chart(chart, 0.0, 10.0)
    polyline = re.search(r'<polyline points="([^"]+)"', svg).group(1)
    xs = [float(p.split(",")[0]) for p in polyline.split()]
    ys = [float(p.split(",")[1]) for p in polyline.split()]
    assert xs[0] == report_html.LEFT and xs[-1] == report_html.WIDTH - report_html.RIGHT
    assert ys[0] > ys[1]  # larger values are higher up
    line_y = float(re.search(r'<line x1="[^"]+" y1="([^"]+)"[^>]*class="criterion"', svg).group(1))
    assert abs(line_y - (ys[0] + ys[1]) / 2) < 0.2  # 5 is halfway between 0 and 10


def test_text_is_escaped_and_nothing_is_fetched():
    grades = [grade("<script>alert(1)</script>", "pass", 1, "< 5")]
    html = report_html.render(data(["<script>alert(1)</script>"]), verdict(grades), {"scenario": "<s>"})
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert not re.search(r"(src|href)\s*=|@import|url\(|https?://", html)


def test_a_chart_without_data_says_so():
    chart = Chart(title="empty", points=[], problem="no data in the window")
    html = report_html._figure(chart, data([]), kind="objective")
    assert "no data" in html and "<polyline" not in html


def test_not_evaluated_objective_is_shown_grey_with_its_note_and_no_relative_line():
    grades = [grade("abs", "pass", 3, "< 5"),
              slo.grade(slo.ObjectiveSpec("rel", slo.parse_criteria("<= +10%")), 0.12)]
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
