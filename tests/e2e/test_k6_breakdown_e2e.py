"""After the verdict: k6's headline and one row per named request, each beside its own k6
thresholds, in the terminal, verdict.json and report.md; values printed with their units.
Real k6 against the reference backend, a real Prometheus."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.e2e


def _threshold_on_send(config_path):
    text = config_path.read_text()
    text = text.replace("        expect_json: [id]\n",
                        "        expect_json: [id]\n        thresholds: { http_req_duration: [\"p(95)<2000\"] }\n", 1)
    config_path.write_text(text)


def test_run_shows_k6_headline_and_per_request_table_with_units(stack_factory):
    stack = stack_factory(edit=_threshold_on_send)
    result = stack.cli("run", "chat-http", "--duration", "4s")
    assert result.code == 0, result.output
    out = result.stdout
    # The verdict table in units: the error ratio in %, p95 in ms, the loop in Hz.
    assert "%" in out and " ms" in out and " Hz" in out
    assert "< 1%" in out and "< 250 ms" in out  # criteria in the same units
    headline = next(line for line in out.splitlines() if line.startswith("k6: "))
    assert "requests (" in headline and "failed" in headline and "p95" in headline
    table = out[out.index("request  "):]
    for name in ("send_message", "history", "health"):
        assert name in table
    assert "http_req_duration p(95)<2000 ok" in table

    run = stack.last_run()
    verdict = json.loads((run / "verdict.json").read_text())
    rows = {r["name"]: r for r in verdict["k6"]["requests"]}
    summary = json.loads((run / "summary.json").read_text())["metrics"]
    # Prometheus's per-name counts add up to exactly what k6 counted.
    assert sum(r["count"] for r in rows.values()) == summary["http_reqs"]["count"] == verdict["k6"]["headline"]["requests"]
    assert rows["send_message"]["failed_ratio"] == 0 and 0 < rows["send_message"]["p95"] < 2
    assert rows["send_message"]["thresholds"] == [{"metric": "http_req_duration", "text": "p(95)<2000", "failed": False}]
    assert rows["history"]["thresholds"] == []
    assert {o["name"]: o["unit"] for o in verdict["objectives"]}["http_p95_seconds"] == "s"
    markdown = (run / "report.md").read_text()
    assert "### k6" in markdown and "| send_message |" in markdown

    # `perfctl report` reads the same units back from verdict.json.
    again = run_cli("report", run.name, "--format", "md", "-c", str(stack.config_path), cwd=stack.workspace)
    assert again.code == 0 and " ms" in again.stdout
