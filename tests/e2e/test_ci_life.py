"""CI life: a k6 web dashboard switched on in the environment never holds a CI job open,
and output off a TTY carries no colour and no redrawn progress."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

from orchestrator.console import Progress, use_color
from orchestrator.k6.binary import RemoteWrite, find_k6, run_env

REMOTE_WRITE = RemoteWrite("http://127.0.0.1:9", 1.0, ("p(95)",), False)


def test_dashboard_from_the_environment_exports_a_report_and_k6_exits(tmp_path: Path):
    script = tmp_path / "script.js"
    script.write_text(
        'import { sleep } from "k6";\nexport const options = { vus: 1, duration: "3s" };\n'
        "export default function () { sleep(0.1); }\n"
    )
    export = tmp_path / "dashboard.html"
    # k6 skips the report of a run shorter than a few dashboard periods; 1 s periods over 3 s suffice.
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "K6_WEB_DASHBOARD": "true",
            "K6_WEB_DASHBOARD_OPEN": "true", "K6_WEB_DASHBOARD_PERIOD": "1s"}
    env = run_env(REMOTE_WRITE, base, dashboard_export=export)
    assert env["K6_WEB_DASHBOARD_PORT"] == "-1" and env["K6_WEB_DASHBOARD_OPEN"] == "false"
    # Real k6: with the dashboard on it must still end by itself and leave the report behind.
    proc = subprocess.run([find_k6(), "run", "--no-summary", str(script)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert export.is_file() and "<html" in export.read_text(errors="replace")[:5000].lower()
    assert "5665" not in proc.stdout + proc.stderr  # no server was offered


def test_without_the_dashboard_nothing_is_added():
    env = run_env(REMOTE_WRITE, {"PATH": "/bin"}, dashboard_export=Path("/x/dashboard.html"))
    assert not any(key.startswith("K6_WEB_DASHBOARD") for key in env)


def test_native_histogram_runs_send_no_stale_markers():
    # The gate reads native histograms with an instant selector at the run's end (Prometheus 2.42
    # cannot range-select them); a stale marker right after the last push would hide them.
    native = run_env(RemoteWrite("http://127.0.0.1:9", 1.0, (), True), {})
    assert native["K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM"] == "true"
    assert native["K6_PROMETHEUS_RW_STALE_MARKERS"] == "false"
    assert run_env(REMOTE_WRITE, {})["K6_PROMETHEUS_RW_STALE_MARKERS"] == "true"


def test_progress_off_a_tty_is_plain_lines_without_redraw():
    stream = io.StringIO()  # not a TTY, as in CI
    progress = Progress(stream, every=0)
    progress.update("running (01.0s), 2/2 VUs")
    progress.update("running (02.0s), 2/2 VUs")
    progress.message("k6: level=warning msg=x")
    progress.clear()
    text = stream.getvalue()
    assert "\r" not in text and "\x1b[" not in text
    assert text.splitlines() == ["running (01.0s), 2/2 VUs", "running (02.0s), 2/2 VUs", "k6: level=warning msg=x"]
    assert use_color(stream) is False
