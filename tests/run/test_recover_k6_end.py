"""How `perfctl recover` tells how k6 ended when perfctl was not there to see it: from the
files real k6 1.1.0 left (its log's last lines, its --summary-export), run to the end,
stopped by SIGINT / SIGTERM, aborted by its script, one instance of several missing.
Plus the exit code recover gives for several runs. No Prometheus here: the k6 scripts
only sleep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator.commands.recover import _infer_k6_end, worst_exit
from orchestrator.k6.log import last_words
from orchestrator.k6.binary import find_k6, read_summary
from orchestrator.ledger.store import RUN_SCHEMA, RunDir
from tests.test_survive_support import wait_for

SCRIPT = """
import { sleep } from 'k6';
import exec from 'k6/execution';
export const options = {
  scenarios: { run_demo: { executor: 'constant-vus', vus: 2, duration: '3s' } },
  thresholds: { iterations: __ENV.AOF ? [{ threshold: 'count<3', abortOnFail: true }] : [__ENV.THRESHOLD || 'count>0'] },
};
export default function () {
  if (__ENV.ABORT && exec.instance.currentTestRunDuration > 1000) { exec.test.abort('enough'); }
  sleep(0.2);
}
"""
PLANNED = 3.0


def _start_k6(folder: Path, name: str, *, env: dict | None = None, log: str = "k6.log",
              summary: str = "summary.json") -> subprocess.Popen:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "script.js").write_text(SCRIPT)
    with open(folder / log, "ab") as out:
        return subprocess.Popen(
            [find_k6(), "run", "--address", "", "--summary-export", str(folder / summary), str(folder / "script.js")],
            cwd=folder, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "K6_NO_USAGE_REPORT": "true", **(env or {})}, start_new_session=True,
        )


def _stop_when_running(proc: subprocess.Popen, folder: Path, sig: signal.Signals, log: str = "k6.log") -> None:
    wait_for(lambda: "running (01" in (folder / log).read_text(errors="replace"), what="k6 to run a second")
    proc.send_signal(sig)


@pytest.fixture(scope="module")
def k6_runs(tmp_path_factory) -> dict[str, tuple[Path, int]]:
    """Real k6 runs, all at once (each takes ~3s): name -> (folder, exit code)."""
    root = tmp_path_factory.mktemp("k6-ends")
    procs = {
        "full": _start_k6(root / "full", "full"),
        "thresholds": _start_k6(root / "thresholds", "thresholds", env={"THRESHOLD": "count>100000"}),
        "sigint": _start_k6(root / "sigint", "sigint"),
        "sigterm": _start_k6(root / "sigterm", "sigterm"),
        "abort": _start_k6(root / "abort", "abort", env={"ABORT": "1"}),
        "abort_on_fail": _start_k6(root / "abort_on_fail", "abort_on_fail", env={"AOF": "1"}),
        # --instances 2 where instance 1 was killed: its log, no summary.
        "inst0": _start_k6(root / "instances", "inst0", log="k6-0.log", summary="summary-0.json"),
        "inst1": _start_k6(root / "instances", "inst1", log="k6-1.log", summary="summary-1.json"),
    }
    try:
        _stop_when_running(procs["sigint"], root / "sigint", signal.SIGINT)
        _stop_when_running(procs["sigterm"], root / "sigterm", signal.SIGTERM)
        _stop_when_running(procs["inst1"], root / "instances", signal.SIGKILL, log="k6-1.log")
        codes = {name: proc.wait(timeout=60) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    folders = {"inst0": root / "instances", "inst1": root / "instances"}
    return {name: (folders.get(name, root / name), code) for name, code in codes.items()}


def _record(folder: Path, **extra) -> RunDir:
    """run.json as perfctl leaves it when it dies while k6 runs (no end, no k6 exit code)."""
    record = {"schema": RUN_SCHEMA, "id": folder.name, "scenario": "demo", "status": "running", "start": time.time() - 10,
              "expected_seconds": PLANNED, "instances": 1, "k6": {"pid": 1, "start": 1}, **extra}
    (folder / "run.json").write_text(json.dumps(record))
    return RunDir(folder)


def test_k6_codes_are_what_the_log_reading_assumes(k6_runs):
    # If a k6 upgrade changes these, the log reading below must be looked at again.
    assert {name: code for name, (_, code) in k6_runs.items()} == {
        "full": 0, "thresholds": 99, "sigint": 105, "sigterm": 105, "abort": 108, "abort_on_fail": 99,
        "inst0": 0, "inst1": -9}


def test_a_run_to_the_end_is_recognised_from_k6s_last_lines(k6_runs):
    for name in ("full", "thresholds"):
        words = last_words(k6_runs[name][0] / "k6.log")
        assert words.completed and words.stopped is None, (name, words)
        assert words.running_seconds >= PLANNED
        assert words.thresholds_crossed == (name == "thresholds")

    run = _record(k6_runs["full"][0])
    did: list[str] = []
    record = _infer_k6_end(run, run.record(), did).to_json()
    assert record["k6_exit_code"] == 0 and record["final_status"] == "finished", record
    assert "k6 had finished" in did[0]

    run = _record(k6_runs["thresholds"][0])
    record = _infer_k6_end(run, run.record(), []).to_json()
    assert record["k6_exit_code"] == 99 and record["final_status"] == "finished", record


@pytest.mark.parametrize("name, says", [
    ("sigint", "k6 received a 'interrupt' signal"),
    ("sigterm", "k6 received a 'terminated' signal"),
    ("abort", "the script called test.abort() (enough)"),
])
def test_a_run_cut_short_after_perfctl_died_is_never_taken_for_finished(k6_runs, name, says):
    folder = k6_runs[name][0]
    # k6 wrote its summary all the same: that file alone proves nothing.
    assert read_summary(folder / "summary.json") is not None
    words = last_words(folder / "k6.log")
    assert not words.completed and says in words.stopped, words

    run = _record(folder)
    did: list[str] = []
    record = _infer_k6_end(run, run.record(), did).to_json()
    # Unknown exit code: judge.k6_grades makes k6_completed inconclusive, so the verdict is at best 98.
    assert record["k6_exit_code"] is None and record["final_status"] == "failed-incomplete", record
    assert says in record["k6_lost"] and f"of the planned {PLANNED:g}s" in record["k6_lost"], record
    assert "k6 did not complete" in did[0]
    # The window ends when k6 last wrote, not when recover ran.
    assert record["end"] == max((folder / f).stat().st_mtime for f in ("k6.log", "summary.json"))


def test_k6_stopping_itself_on_an_abort_on_fail_threshold_is_a_failed_gate(k6_runs):
    # k6 said why it stopped and exits 99 for it: a failed gate, cut short.
    run = _record(k6_runs["abort_on_fail"][0])
    record = _infer_k6_end(run, run.record(), []).to_json()
    assert record["k6_exit_code"] == 99 and record["final_status"] == "failed-incomplete", record
    assert "abortOnFail" in record["k6_lost"]


def test_without_k6s_last_lines_the_exit_code_stays_unknown(k6_runs, tmp_path):
    # The summary of a full run, but a log that ends before k6's final lines (e.g. k6 --quiet).
    folder = tmp_path / "no-last-lines"
    folder.mkdir()
    (folder / "summary.json").write_bytes((k6_runs["full"][0] / "summary.json").read_bytes())
    (folder / "k6.log").write_text("running (01.0s), 2/2 VUs, 8 complete and 0 interrupted iterations\n")
    run = _record(folder)
    did: list[str] = []
    record = _infer_k6_end(run, run.record(), did).to_json()
    assert record["k6_exit_code"] is None and "unknown" in record["k6_lost"], record
    assert "inconclusive at best" in did[0]


def test_a_missing_instance_summary_means_the_run_did_not_complete(k6_runs):
    folder = k6_runs["inst0"][0]
    assert (folder / "summary-0.json").exists() and not (folder / "summary-1.json").exists()
    k6_written = max((folder / f).stat().st_mtime for f in ("k6-0.log", "k6-1.log", "summary-0.json"))
    run = _record(folder, instances=2, k6={"instances": [{"pid": 1, "start": 1}, {"pid": 2, "start": 2}]})
    did: list[str] = []
    record = _infer_k6_end(run, run.record(), did).to_json()
    assert record["k6_exit_code"] is None and record["final_status"] == "failed-incomplete", record
    assert "instance 1 (k6-1.log) ended without writing its summary" in record["k6_lost"], record
    assert "instance 0" not in record["k6_lost"]
    # The merged summary keeps instance 0's numbers and says what is missing...
    merged = json.loads((folder / "summary.json").read_text())
    assert merged["perfctl"]["missing"] and merged["metrics"]["iterations"]["count"] > 0
    # ...but the window ends at k6's own last write, not at the merge recover just wrote.
    assert record["end"] == k6_written < (folder / "summary.json").stat().st_mtime


def test_recover_exit_code_is_the_worst_of_its_runs():
    assert worst_exit([]) == 0 and worst_exit([0, 0]) == 0
    assert worst_exit([0, 98]) == 98 and worst_exit([130, 98]) == 98 and worst_exit([0, 130]) == 130
    assert worst_exit([98, 99, 0]) == 99
    assert worst_exit([99, 2]) == 2 and worst_exit([2, 3]) == 3 and worst_exit([3, 1, 99]) == 1
