"""orchestrator/report/k6_tables.py: k6's headline line and the per-request table, as the
terminal and report.md show them."""

from __future__ import annotations

from orchestrator.k6.breakdown import Headline, RequestRow, Threshold
from orchestrator.report.k6_tables import HEADERS, headline_line, markdown, request_cells, terminal, threshold_cell

FULL = Headline(requests=1200, request_rate=40.5, failed_ratio=0.01, p50=0.0125, p95=0.048, p99=0.09,
                iterations=600, vus_max=10, data_received=123456, data_sent=7890)


def test_the_full_headline_in_units_people_read():
    assert headline_line(FULL) == ("k6: 1,200 requests (40.5/s), 1% failed, p50 12.5 ms · p95 48 ms · p99 90 ms, "
                                   "600 iterations, 10 VUs max, data 123 kB in / 7.89 kB out")


def test_a_headline_shows_only_what_k6_reported():
    assert headline_line(Headline()) == "k6: no summary"
    assert headline_line(Headline(requests=5)) == "k6: 5 requests"  # no rate: no `(…/s)`
    assert headline_line(Headline(p95=0.2)) == "k6: p95 200 ms"
    assert headline_line(Headline(data_sent=2000)) == "k6: data 0 B in / 2 kB out"
    assert headline_line(Headline(failed_ratio=0.0)) == "k6: 0% failed"  # zero is a value, not a missing one


def test_threshold_cell_marks_each_threshold():
    row = RequestRow("send", 1, 0, 0.1, (Threshold("http_req_duration", "p(95)<500", False),
                                         Threshold("http_req_failed", "rate<0.01", True),
                                         Threshold("checks", "rate>0.9", None)))
    assert threshold_cell(row) == "http_req_duration p(95)<500 ok; http_req_failed rate<0.01 FAILED; checks rate>0.9 ?"
    assert threshold_cell(RequestRow("x", 1, 0, 0.1)) == "—"


def test_request_cells_put_missing_numbers_as_a_dash():
    assert request_cells(RequestRow("idle", 0, None, None)) == ["idle", "0", "—", "—", "—"]


def test_terminal_table_aligns_numbers_right_and_text_left():
    rows = [RequestRow("a-long-request-name", 12345, 0.5, 1.5), RequestRow("b", 7, 0.0, 0.002)]
    lines = terminal(rows).splitlines()
    assert lines[0].split() == ["request", "count", "failed", "p95", "k6", "thresholds"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert len(lines) == 4
    first, second = lines[2], lines[3]
    assert first.startswith("a-long-request-name") and second.startswith("b ")
    # count, failed and p95 right-aligned: the columns end where their headers end.
    for header in ("count", "failed", "p95"):
        end = lines[0].index(header) + len(header)
        assert first[end - 1] != " " and second[end - 1] != " "
        assert first[end] == " " and second[end] == " "
    assert not any(line.endswith(" ") for line in lines)
    assert terminal(rows).endswith("\n")


def test_no_named_request_no_table():
    assert terminal([]) == ""


def test_markdown_section_escapes_cells_through_the_given_function():
    rows = [RequestRow("a|b", 3, 0.0, 0.01)]
    text = markdown(FULL, rows, lambda c: c.replace("|", "\\|"))
    lines = text.splitlines()
    assert lines[:4] == ["", "### k6", "", headline_line(FULL)]
    assert lines[5] == "| " + " | ".join(HEADERS) + " |"
    assert lines[6] == "| --- | ---: | ---: | ---: | --- |"
    assert lines[7] == "| a\\|b | 3 | 0% | 10 ms | — |"


def test_markdown_without_a_summary_says_so_and_has_no_table_without_rows():
    assert markdown(None, [], str) == "\n### k6\n\nk6 wrote no summary.\n"
