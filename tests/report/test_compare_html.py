"""The compare page (pure): values in their units, marks coloured, regressions named."""

from __future__ import annotations

from orchestrator.report import compare_html
from orchestrator.commands.compare import Row


def test_compare_page_shows_units_marks_and_both_runs():
    rows = [
        Row("objective", "loop", 99.0, 80.0, -19.0, -19.2, "higher", True, False, "pass", "fail", unit=None),
        Row("objective", "p95", 0.010, 0.0101, 0.0001, 1.0, "lower", False, False, "pass", "pass", unit="s", noise=True),
        Row("k6", "http_req_duration.p(95)", 10.0, 320.0, 310.0, 3100.0, "lower", True, False, unit="ms"),
    ]
    verdict = {"result": "pass", "percent": 100.0, "scenario": "demo",
               "objectives": [{"name": "loop", "unit": "Hz"}, {"name": "p95", "unit": "s"}]}
    page = compare_html.render(rows, "run-a", "run-<b>", verdict, {**verdict, "result": "fail"}, tolerance=5, floors="1 ms")
    assert "run-&lt;b&gt;" in page and "<b style='color:#cf222e'>FAIL</b>" in page
    loop = next(line for line in page.splitlines() if "<td>loop</td>" in line)
    assert "99 Hz" in loop and "80 Hz" in loop and "REGRESSION" in loop and "(pass → fail)" in loop
    p95 = next(line for line in page.splitlines() if "<td>p95</td>" in line)
    assert "10 ms" in p95 and "~ noise" in p95
    assert "2 regression(s)" in page and "loop, http_req_duration.p(95)" in page
