"""The live view: the panel's text (pure), and a real run watched through a real pty (tmux)
and through a pipe (a CI log: plain lines, nothing redrawn)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import pytest

from orchestrator.run import live_view
from orchestrator.run.live_view import ObjectiveNow, Snapshot, Stage
from tests.conftest import REPO

PLAN = {"scenarios": {"ramp": {"executor": "ramping-vus", "startVUs": 0, "stages": [
    {"duration": "10s", "target": 20}, {"duration": "30s", "target": 20}, {"duration": "10s", "target": 0}]}}}


def snapshot(**kw) -> Snapshot:
    objectives = [ObjectiveNow("error_ratio", 0.0019, "ratio", "< 0.01", "pass", live=False, key=True),
                  ObjectiveNow("loop", 87.0, "Hz", ">= 95", "fail", live=True, key=True),
                  ObjectiveNow("lag", None, "messages", "< 500", "inconclusive", live=False, key=False)]
    return Snapshot(**{"elapsed": 12.0, "planned": 50.0, "stage": "stage 2/3 → 20 VUs", "vus": 18.0, "vus_max": 20.0,
                       "rps": 84.21, "failed": 0.0019, "p95": 0.0123, "objectives": objectives, **kw})


def test_stages_come_from_the_plan_and_the_current_one_is_named():
    stages = live_view.stages_of(PLAN)
    assert stages == [Stage(10, "→ 20 VUs"), Stage(40, "→ 20 VUs"), Stage(50, "→ 0 VUs")]
    assert live_view.current_stage(stages, 3) == "stage 1/3 → 20 VUs"
    assert live_view.current_stage(stages, 45) == "stage 3/3 → 0 VUs"
    assert live_view.stages_of({"scenarios": {"c": {"executor": "constant-vus", "vus": 2, "duration": "5s"}}}) == []


def test_plain_line_has_every_number_with_units_and_no_escape_codes():
    line = live_view.plain_line(snapshot())
    for part in ("12 s / 50 s 24%", "stage 2/3", "VUs 18/20", "84.2 req/s", "failed 0.19%", "p95 12.3 ms",
                 "error_ratio 0.19% PASS", "loop* 87 Hz FAIL", "lag — no data"):
        assert part in line, part
    assert "\x1b" not in line and "\r" not in line and "\n" not in line


def test_panel_marks_live_objectives_colours_grades_and_fits_the_width():
    plain = live_view.panel(snapshot(), color=False, width=80)
    assert all(len(line) <= 80 for line in plain)
    assert "\x1b" not in "".join(plain)
    row = next(line for line in plain if line.startswith("loop"))
    assert "(key) *" in row and "87 Hz" in row and ">= 95 Hz" in row and row.endswith("FAIL")
    assert any("live" in line for line in plain)
    coloured = live_view.panel(snapshot(), color=True, width=80)
    assert "\x1b[31mFAIL" in "".join(coloured) and "\x1b[32mPASS" in "".join(coloured)


def test_progress_bar_and_k6_progress_lines():
    assert live_view.progress_bar(12, 48, width=8) == "██░░░░░░  25%"
    assert live_view.progress_bar(99, 48, width=8).endswith("100%")
    view = live_view.LiveView(planned=10, stages=[], objectives=None, k6_api=None, start=time.time())
    view.update("running (1m02.5s), 08/10 VUs, 984 complete and 0 interrupted iterations")
    assert (view.snapshot.elapsed, view.snapshot.vus, view.snapshot.vus_max) == (62.5, 8, 10)


# ---- a real run, watched ------------------------------------------------------------------------------

TMUX = shutil.which("tmux")
# A latency is written in the unit that suits it (units.duration): a fast backend's p95 is in µs.
LATENCY = r"[\d.]+ (?:µs|ms|s)"


@pytest.mark.e2e
@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (scripts/setup installs it)")
def test_a_person_at_a_terminal_sees_the_run_against_its_objectives(stack, tmp_path):
    socket = tmp_path / "tmux.sock"
    command = (f"cd {stack.workspace} && PYTHONPATH={REPO} {sys.executable} -m orchestrator run chat-http "
               f"--duration 8s -c {stack.config_path}; sleep 60")
    subprocess.run([TMUX, "-S", str(socket), "new-session", "-d", "-x", "120", "-y", "40", command], check=True)
    try:
        seen = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = subprocess.run([TMUX, "-S", str(socket), "capture-pane", "-p"], capture_output=True, text=True).stdout
            if re.search(r"\d req/s", seen) and "kafka_lag_max" in seen and "would be" in seen:
                break
            time.sleep(0.5)
        panel = seen[seen.index("░") - 30 if "░" in seen else 0:]
        assert re.search(r"[\d.]+ req/s", panel), seen
        assert re.search(r"failed [\d.]+%", panel) and re.search(rf"p95 {LATENCY}", panel), seen
        for name, value in (("error_ratio", r"[\d.]+ ?%"), ("http_p95_seconds", LATENCY),
                            ("backend_loop_hz_min", r"[\d.]+ ?Hz"), ("kafka_lag_max", r"[\d.]+ ?messages")):
            assert re.search(rf"{name}.*?{value}", panel), (name, seen)
        assert "would be" in panel and re.search(r"\d+%\s+[\d.]+ s / 8 s", panel)
        # When the run ends, the panel gives way to the verdict.
        while time.monotonic() < deadline:
            seen = subprocess.run([TMUX, "-S", str(socket), "capture-pane", "-p", "-S", "-100"],
                                  capture_output=True, text=True).stdout
            if "results:" in seen:
                break
            time.sleep(0.5)
        assert "score " in seen and "would be" not in seen, seen
    finally:
        subprocess.run([TMUX, "-S", str(socket), "kill-server"], capture_output=True)


class CountingObjectives:
    """The objectives' source at its seam: counts the reads (each one PromQL query per objective)."""

    def __init__(self):
        self.reads = 0

    def read(self, now: float) -> list:
        self.reads += 1
        return []


def test_off_a_terminal_the_sources_are_read_only_when_a_line_is_due(monkeypatch):
    # A CI log shows one plain line every PLAIN_EVERY: reading Prometheus in between would be
    # perfctl's CPU (and Prometheus's) spent on numbers nobody sees.
    import io

    monkeypatch.setattr(live_view, "PANEL_EVERY", 0.1)
    source = CountingObjectives()
    stream = io.StringIO()
    view = live_view.LiveView(planned=10, stages=[], objectives=source, k6_api=None, start=time.time(),
                              stream=stream, plain_every=0.3)
    assert not view.tty
    with view:
        deadline = time.monotonic() + 5
        while stream.getvalue().count("\n") < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    lines = stream.getvalue().count("\n")
    assert lines >= 3, stream.getvalue()
    # Every read made a line (the old loop read every PANEL_EVERY and printed every third time).
    assert source.reads == lines, (source.reads, lines)


@pytest.mark.e2e
def test_a_ci_log_gets_plain_lines_and_nothing_redrawn(stack):
    result = stack.cli("run", "chat-http", "--duration", "5s")
    # The verdict is not this test's subject (a loaded machine may slow the backend's loop).
    assert result.code in (0, 99) and "results:" in result.stdout, result.output
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert lines, result.stderr
    assert re.search(rf"req/s · failed [\d.]+% · p95 {LATENCY} \| error_ratio", lines[-1]), lines
