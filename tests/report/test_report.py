"""Renderers of a Verdict: verdict.json, terminal table, JUnit XML, Markdown."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.report.formats import (
    GATE_CASE,
    SCHEMA,
    junit_xml,
    markdown,
    terminal_table,
    verdict_from_dict,
    verdict_to_dict,
)
from orchestrator.criteria import parse_criteria
from orchestrator.verdict.slo import Grade, ObjectiveSpec, Result, Verdict, decide, grade

ANSI = re.compile(r"\x1b\[")
NASTY = 'p95 <&"\'> | ]]> x'


def spec(name, passing, warning=None, weight=1.0, key=False):
    return ObjectiveSpec(
        name, parse_criteria(passing), parse_criteria(warning) if warning else None, weight=weight, key=key
    )


def sample_verdict() -> Verdict:
    """One objective of each result."""
    return decide(
        [
            grade(spec("error_ratio", "< 0.01", "< 0.05", key=True), 0.002),
            grade(spec("p95", "<= +10%", "<= +20%", weight=2), 115, baseline=100),
            grade(spec("rps", ">= 95"), 80.5),
            grade(spec("kafka_lag_max", "< 1000"), None, missing_reason="query returned no series"),
        ]
    )


def scored_verdict() -> Verdict:
    """No inconclusive objectives: the score decides (3.5 / 4 → WARNING)."""
    return decide(
        [
            grade(spec("a", "< 1"), 0.5),
            grade(spec("b", "< 1"), 0.5),
            grade(spec("c", "< 1"), 0.5),
            grade(spec("d", "< 1", "< 2"), 1.5),
        ]
    )


WINDOW = {"start": datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc), "end": datetime(2024, 5, 1, 12, 5, tzinfo=timezone.utc)}
QUERIES = {"error_ratio": 'sum(rate(http_reqs{expected_response="false"}[5m]))', "p95": "histogram_quantile(0.95, x)"}


# ---- verdict.json ----------------------------------------------------------------------------------------


def test_dict_schema():
    d = verdict_to_dict(sample_verdict(), run_id="r-1", scenario="smoke", window=WINDOW, queries=QUERIES)
    assert list(d) == [
        "schema", "run_id", "scenario", "result", "score", "max_score", "percent", "window", "reasons", "objectives"
    ]
    assert d["schema"] == SCHEMA == "perfctl.verdict/v1"
    assert (d["run_id"], d["scenario"], d["result"]) == ("r-1", "smoke", "inconclusive")
    assert d["window"] == {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T12:05:00Z", "seconds": 300.0}
    assert [set(o) for o in d["objectives"]] == [
        {"name", "query", "value", "criterion", "warning", "weight", "key", "result", "score", "baseline", "reason", "unit"}
    ] * 4
    first, second, third, fourth = d["objectives"]
    assert first["query"] == QUERIES["error_ratio"]
    assert third["query"] is None  # no query given for rps
    assert (second["baseline"], second["result"], second["warning"]) == (100, "warning", "<= +20%")
    assert (fourth["value"], fourth["reason"]) == (None, "query returned no series")
    json.dumps(d, allow_nan=False)  # strict JSON


def test_dict_extra_keys():
    d = verdict_to_dict(
        scored_verdict(), run_id="r", scenario="s", window=WINDOW, queries={}, extra={"git_sha": "abc", "k6": {"exit": 0}}
    )
    assert d["git_sha"] == "abc" and d["k6"] == {"exit": 0}
    with pytest.raises(ValueError, match="result"):
        verdict_to_dict(scored_verdict(), run_id="r", scenario="s", window=WINDOW, queries={}, extra={"result": "pass"})


@pytest.mark.parametrize(
    "window, start, seconds",
    [
        ({"start": 0, "end": 90.5}, "1970-01-01T00:00:00Z", 90.5),
        ({"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T12:01:00Z"}, "2024-05-01T12:00:00Z", 60.0),
        ({"start": "2024-05-01T14:00:00+02:00", "end": "2024-05-01T14:01:00+02:00"}, "2024-05-01T12:00:00Z", 60.0),
        ({"start": datetime(2024, 5, 1, 12), "end": datetime(2024, 5, 1, 12, 0, 30)}, "2024-05-01T12:00:00Z", 30.0),
        ({"start": 0, "end": 100, "seconds": 42}, "1970-01-01T00:00:00Z", 42.0),
    ],
)
def test_dict_window_forms(window, start, seconds):
    d = verdict_to_dict(scored_verdict(), run_id="r", scenario="s", window=window, queries={})
    assert d["window"]["start"] == start
    assert d["window"]["seconds"] == seconds


@pytest.mark.parametrize("make", [sample_verdict, scored_verdict, lambda: decide([])])
def test_dict_round_trip(make):
    verdict = make()
    d = verdict_to_dict(verdict, run_id="r", scenario="s", window=WINDOW, queries=QUERIES)
    again = verdict_from_dict(json.loads(json.dumps(d, allow_nan=False)))
    assert again == verdict


def test_dict_round_trip_non_finite_values():
    g = Grade("x", Result.FAIL, math.inf, 0.0, 1.0, False, "< 1", None, baseline=-math.inf, reason="r")
    verdict = Verdict(Result.FAIL, 0.0, 1.0, 0.0, (g,), ("r",))
    d = verdict_to_dict(verdict, run_id="r", scenario="s", window=WINDOW, queries={})
    text = json.dumps(d, allow_nan=False)
    assert verdict_from_dict(json.loads(text)) == verdict


def test_from_dict_rejects_other_schemas():
    d = verdict_to_dict(scored_verdict(), run_id="r", scenario="s", window=WINDOW, queries={})
    with pytest.raises(ValueError, match="perfctl.verdict/v1"):
        verdict_from_dict({**d, "schema": "perfctl.verdict/v0"})


# ---- terminal table -------------------------------------------------------------------------------------


def test_terminal_plain_has_no_escape_codes():
    out = terminal_table(sample_verdict(), queries=QUERIES, color=False)
    assert not ANSI.search(out)
    assert "\x1b" not in out


def test_terminal_plain_strips_escape_codes_from_names():
    v = decide([grade(spec("evil\x1b[2Jname\nnext", "< 1"), 5)])
    out = terminal_table(v, color=False)
    assert "\x1b" not in out
    assert len(out.splitlines()) == 6  # header, rule, one row, score, two reasons


def test_terminal_colors():
    out = terminal_table(sample_verdict(), color=True)
    assert "\x1b[32m" in out  # pass green
    assert "\x1b[33m" in out  # warning yellow
    assert "\x1b[31m" in out  # fail red
    assert "\x1b[35m" in out  # inconclusive magenta
    assert out.count("\x1b[0m") == out.count("\x1b[3")


def test_terminal_layout():
    out = terminal_table(scored_verdict(), color=False)
    lines = out.splitlines()
    assert lines[0].split() == ["objective", "value", "criterion", "result"]
    assert "score 87.5% (3.5/4) → WARNING" in lines
    assert "  score 87.5% is below the pass threshold 90%" in lines
    # columns line up: every result word starts in the same column
    rows = lines[2:6]
    starts = {row.index(word) for row in rows for word in ("PASS", "WARNING") if word in row}
    assert len(starts) == 1


def test_terminal_colored_rows_align_like_plain_ones():
    plain = terminal_table(sample_verdict(), color=False)
    colored = terminal_table(sample_verdict(), color=True)
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain


def test_terminal_truncates_long_names():
    long = "n" * 60
    out = terminal_table(decide([grade(spec(long, "< 1"), 0)]), color=False)
    assert "n" * 39 + "…" in out
    assert "n" * 40 not in out


def test_terminal_queries_column_and_key_marker():
    out = terminal_table(sample_verdict(), queries=QUERIES, color=False)
    assert out.splitlines()[0].split()[-1] == "query"
    assert "error_ratio (key)" in out
    assert "histogram_quantile(0.95, x)" in out


def test_terminal_no_objectives():
    out = terminal_table(decide([]), color=False)
    assert "(no objectives)" in out
    assert "→ INCONCLUSIVE" in out
    assert "  no objectives configured" in out


# ---- JUnit XML ------------------------------------------------------------------------------------------


def parse_junit(text: str):
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    return root, suite, suite.findall("testcase")


def test_junit_counts_match():
    v = sample_verdict()
    root, suite, cases = parse_junit(junit_xml(v, run_id="r-1", scenario="smoke", duration_seconds=312.25))
    assert suite.get("name") == "perfctl.smoke"
    objective_cases = [c for c in cases if c.get("name") != GATE_CASE]
    assert [c.get("name") for c in objective_cases] == ["error_ratio", "p95", "rps", "kafka_lag_max"]
    assert {c.get("classname") for c in cases} == {"perfctl.smoke"}
    failures = [c for c in cases if c.find("failure") is not None]
    errors = [c for c in cases if c.find("error") is not None]
    for node in (root, suite):
        assert node.get("tests") == str(len(cases)) == "5"
        assert node.get("failures") == str(len(failures)) == "1"  # rps
        assert node.get("errors") == str(len(errors)) == "2"  # kafka_lag_max and the inconclusive gate
        assert node.get("time") == "312.250"


def test_junit_failure_error_warning_details():
    _, suite, cases = parse_junit(junit_xml(sample_verdict(), run_id="r", scenario="smoke", duration_seconds=1))
    by_name = {c.get("name"): c for c in cases}
    assert len(by_name["error_ratio"]) == 0  # a pass has no children
    failure = by_name["rps"].find("failure")
    assert failure.get("message") == "value 80.5 does not meet >= 95"
    assert "value: 80.5" in failure.text and "criterion: >= 95" in failure.text and "reason:" in failure.text
    error = by_name["kafka_lag_max"].find("error")
    assert error.get("message") == "query returned no series"
    out = by_name["p95"].find("system-out")
    assert out.text.startswith("warning: value 115 meets warning <= +20%")
    assert by_name["p95"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["run_id"] == "r" and props["result"] == "inconclusive"


def test_junit_gate_case_fails_when_only_the_score_fails():
    # Every objective is a warning: no testcase fails, but the gate does (50% < 75%).
    v = decide([grade(spec("a", "< 1", "< 2"), 1.5), grade(spec("b", "< 1", "< 2"), 1.5)])
    assert v.result is Result.FAIL
    root, _, cases = parse_junit(junit_xml(v, run_id="r", scenario="s", duration_seconds=1))
    gate = [c for c in cases if c.get("name") == GATE_CASE]
    assert gate and gate[0].find("failure") is not None
    assert root.get("failures") == "1"


def test_junit_without_gate_case_has_one_case_per_objective():
    v = sample_verdict()
    root, _, cases = parse_junit(junit_xml(v, run_id="r", scenario="s", duration_seconds=1, include_gate=False))
    assert len(cases) == len(v.grades) == int(root.get("tests"))
    assert root.get("errors") == "1"


def test_junit_no_objectives_is_not_green():
    root, _, cases = parse_junit(junit_xml(decide([]), run_id="r", scenario="s", duration_seconds=0))
    assert root.get("errors") == "1"
    assert cases[0].find("error").get("message") == "no objectives configured"


def test_junit_escapes_names_and_messages():
    v = decide([grade(spec(NASTY, "< 0.01"), 0.5)])
    text = junit_xml(v, run_id='r<&"', scenario='s&<">', duration_seconds=1)
    _, suite, cases = parse_junit(text)
    assert suite.get("name") == 'perfctl.s&<">'
    assert cases[0].get("name") == NASTY
    assert cases[0].get("classname") == 'perfctl.s&<">'
    assert cases[0].find("failure").get("message") == "value 0.5 does not meet < 0.01"


def test_junit_survives_characters_xml_forbids():
    v = decide([grade(spec("bell\x07 and\x00nul", "< 1"), 5)])
    _, _, cases = parse_junit(junit_xml(v, run_id="r\x1b", scenario="s", duration_seconds=1))
    assert cases[0].get("name") == "bell\ufffd and\ufffdnul"


@pytest.mark.parametrize("duration", [-5, math.nan, math.inf])
def test_junit_time_is_sane(duration):
    root, _, _ = parse_junit(junit_xml(scored_verdict(), run_id="r", scenario="s", duration_seconds=duration))
    assert root.get("time") == "0.000"


@given(st.text(max_size=20), st.text(max_size=20))
def test_junit_always_parses(name, scenario):
    v = decide([grade(ObjectiveSpec(name, parse_criteria("< 1")), 2.0)])
    _, _, cases = parse_junit(junit_xml(v, run_id="r", scenario=scenario, duration_seconds=1))
    assert len(cases) == 2


# ---- Markdown -------------------------------------------------------------------------------------------


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ")][2:]  # without header and rule


def test_markdown_one_row_per_objective():
    v = sample_verdict()
    out = markdown(v, run_id="r-1", scenario="smoke", window_seconds=300, results_path="results/r-1")
    assert out.startswith("## perfctl gate: INCONCLUSIVE — smoke\n")
    rows = table_rows(out)
    assert len(rows) == len(v.grades)
    assert all(row.count(" | ") == 5 for row in rows)  # six cells each
    assert "| rps | 80.5 | >= 95 | 1 | FAIL | value 80.5 does not meet >= 95 |" in rows
    assert "`results/r-1`" in out and "300 s" in out
    assert "- objective 'kafka_lag_max' is inconclusive: query returned no series" in out


def test_markdown_heading_is_a_word_not_an_emoji():
    out = markdown(scored_verdict(), run_id="r", scenario="s", window_seconds=1, results_path="p")
    heading = out.splitlines()[0]
    assert heading == "## perfctl gate: WARNING — s"
    assert all(ord(ch) < 0x2000 or ch == "—" for ch in heading)
    assert "**Score:** 87.5% (3.5/4) → **WARNING**" in out


def test_markdown_escapes_pipes_and_newlines():
    v = decide([grade(spec("a|b\nc", "< 1"), 5)])
    rows = table_rows(markdown(v, run_id="r", scenario="s", window_seconds=1, results_path="p"))
    assert len(rows) == 1
    assert rows[0].startswith("| a\\|b c |")
    # unescaped pipes are exactly the cell borders
    assert len(re.findall(r"(?<!\\)\|", rows[0])) == 7


def test_markdown_no_objectives():
    out = markdown(decide([]), run_id="r", scenario="s", window_seconds=0, results_path="p")
    assert table_rows(out) == []
    assert "No objectives" in out


def test_markdown_code_spans_survive_backticks():
    out = markdown(scored_verdict(), run_id="a`b", scenario="s", window_seconds=1, results_path="p")
    assert "``a`b``" in out


# ---- not evaluated (no baseline yet) ---------------------------------------------------------------------


def bootstrap_verdict() -> Verdict:
    """A first run: the absolute objective passes, the relative one has no baseline yet."""
    return decide([grade(spec("error_ratio", "< 0.01"), 0.0), grade(spec("p95", "<= +10%", weight=2), 0.12)])


def test_not_evaluated_is_said_everywhere_and_weighs_nothing():
    v = bootstrap_verdict()
    assert v.result is Result.PASS and (v.score, v.max_score) == (1, 1)
    note = "objective 'p95' not evaluated: no baseline yet for '<= +10%' (none given): this run can become one"
    table = terminal_table(v, color=False)
    assert "NOT_EVALUATED" in table and note in table and "score 100% (1/1) → PASS" in table
    md = markdown(v, run_id="r", scenario="s", window_seconds=5, results_path="results/r")
    assert "| p95 | 0.12 | <= +10% | 2 | NOT_EVALUATED | no baseline yet for '<= +10%' (none given): this run can become one |" in md
    assert f"- {note}" in md
    doc = verdict_to_dict(v, run_id="r", scenario="s", window=WINDOW, queries={})
    p95 = next(o for o in doc["objectives"] if o["name"] == "p95")
    assert (p95["result"], p95["score"], p95["value"]) == ("not-evaluated", 0, 0.12)
    assert note in doc["reasons"]
    assert verdict_from_dict(json.loads(json.dumps(doc))) == v
    assert "\x1b[36m" in terminal_table(v, color=True)


def test_junit_not_evaluated_is_skipped_not_passed():
    root, suite, cases = parse_junit(junit_xml(bootstrap_verdict(), run_id="r", scenario="s", duration_seconds=1))
    by_name = {c.get("name"): c for c in cases}
    skipped = by_name["p95"].find("skipped")
    assert skipped is not None and skipped.get("message").startswith("no baseline yet")
    assert suite.get("skipped") == root.get("skipped") == "1" and suite.get("failures") == "0"
    assert by_name[GATE_CASE].find("failure") is None and by_name[GATE_CASE].find("error") is None


def test_score_just_below_the_threshold_reads_below_it_everywhere():
    grades = [grade(spec("a", "< 1", weight=8.5), 0.5), grade(spec("b", "< 1", "< 2", weight=0.996), 1.5),
              grade(spec("c", "< 1", weight=0.504), 5)]
    v = decide(grades)
    assert v.result is Result.WARNING and 89.9 < v.percent < 90
    texts = [terminal_table(v, color=False), markdown(v, run_id="r", scenario="s", window_seconds=1, results_path="p"),
             junit_xml(v, run_id="r", scenario="s", duration_seconds=1)]
    for text in texts:
        assert "89.9%" in text and "score 90%" not in text and "90.0%" not in text
    assert "score 89.9% is below the pass threshold 90%" in texts[0]


def test_no_score_is_not_printed_as_zero_percent():
    v = decide([grade(spec("p95", "<= +10%"), 0.12), grade(spec("k6_thresholds", "== 1", weight=0, key=True), 1.0)])
    assert v.result is Result.PASS and v.max_score == 0
    assert "score — (0/0) → PASS" in terminal_table(v, color=False)
    assert "**Score:** — (0/0)" in markdown(v, run_id="r", scenario="s", window_seconds=1, results_path="p")
