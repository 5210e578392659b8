"""report.html of a passing, a failing and an inconclusive run, opened in headless Chromium:
the page Chromium lays out has units, axes that never go below zero for ratios and counts,
k6's summary and the per-request table; the screenshot shows the verdict's colour, the
series and the criterion lines. Real k6 runs against the reference backend."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from orchestrator.report import html as report_html
from tests.e2e.test_gate_e2e import CHROMIUM, colour_count, read_png

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup --test installs it)")]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def _no_data_objective(config_path: Path) -> None:
    """k6's objectives and one on a metric nobody exports: inconclusive, whatever the machine's load."""
    import yaml

    data = yaml.safe_load(config_path.read_text())
    data["objectives"] = [o for o in data["objectives"] if o["name"] in ("error_ratio", "http_p95_seconds", "checks")]
    data["objectives"].append({"name": "queue_depth", "query": "max(max_over_time(no_such_queue_depth[$window]))",
                               "pass": "< 100", "unit": "messages"})
    config_path.write_text(yaml.safe_dump(data, sort_keys=False))


def _open(page: Path, tmp_path: Path) -> tuple[str, Path]:
    """(the DOM as Chromium built it, a full-page screenshot)."""
    profile = tmp_path / "profile"
    dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    shot = tmp_path / f"{page.parent.name}.png"
    subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=900,6000",
                    f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
    return dom, shot


def _axis_labels(dom: str, unit: str) -> list[str]:
    svgs = re.findall(rf'<svg[^>]*data-unit="{re.escape(unit)}"[^>]*>(.*?)</svg>', dom, re.DOTALL)
    return [label for svg in svgs for label in re.findall(r'class="tick ytick">([^<]*)<', svg)]


@pytest.mark.parametrize(("fault", "edit", "code", "result"), [
    ("none", None, 0, "pass"),
    ("errors", None, 99, "fail"),
    ("none", _no_data_objective, 98, "inconclusive"),
])
def test_report_html_reads_well_in_chromium(stack_factory, tmp_path, fault, edit, code, result):
    stack = stack_factory(fault=fault, edit=edit)
    ran = stack.cli("run", "chat-http", "--duration", "4s")
    assert ran.code == code, ran.output
    dom, shot = _open(stack.last_run() / "report.html", tmp_path)

    assert f"<h1>{result.upper()}</h1>" in dom
    ratio_labels = _axis_labels(dom, "ratio")
    assert ratio_labels and all(label.endswith("%") for label in ratio_labels)
    assert not any(label.startswith("-") for label in ratio_labels + _axis_labels(dom, "messages") + _axis_labels(dom, "req/s"))
    assert any(label.endswith("ms") for label in _axis_labels(dom, "s"))  # p95 in milliseconds
    assert "class=\"headline\"" in dom and "req/s" in dom  # k6's summary
    requests = re.search(r"<table class=\"requests\">(.*?)</table>", dom, re.DOTALL).group(1)
    assert all(name in requests for name in ("send_message", "history", "health"))
    assert "<th>k6</th>" in dom and "<th>load: chat-http</th>" in dom  # the run's settings

    width, _, rows = read_png(shot)
    assert width == 900
    assert colour_count(rows[:150], report_html.RESULT_COLOR[result]) > 20_000  # the verdict banner
    assert colour_count(rows, report_html.SERIES_COLOR) > 500
    assert colour_count(rows, report_html.PASS_LINE_COLOR) > 300
    assert colour_count(rows, report_html.LOAD_COLOR) > 200
