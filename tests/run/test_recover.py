"""`perfctl recover` after real crashes: kill -9 of perfctl (k6 still running, or already
ended), kill -9 of k6, Prometheus killed mid-run. Real k6, Prometheus, reference backend."""

from __future__ import annotations

import json
import os
import signal

import pytest

from orchestrator.pids import ProcessRef
from tests.test_survive_support import (
    folder_bytes, k6_ref, k6_started, output, record, start_perfctl, stop_leftovers, wait_for, wait_k6_progress,
)

pytestmark = pytest.mark.e2e


def _objectives(run) -> dict[str, dict]:
    return {o["name"]: o for o in json.loads((run / "verdict.json").read_text())["objectives"]}


def _kill9_perfctl(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -9


def _assert_full_verdict(run, result) -> None:
    final = record(run)
    assert final["status"] == "finished" and final["k6_exit_code"] == 0, final
    by_name = _objectives(run)
    # A full verdict: every objective measured from Prometheus over the whole window, none missing.
    missing = {name: o.get("reason") for name, o in by_name.items() if o["value"] is None}
    assert not missing, (missing, final)
    # What the healthy backend and k6 did passes. (The loop rate is measured but not asserted:
    # on a shared 2-core machine other jobs' CPU load can honestly pull it below 95 Hz.)
    for name in ("error_ratio", "checks", "ws_reply_success", "kafka_lag_max", "http_p95_seconds"):
        assert by_name[name]["result"] == "pass", by_name[name]
    assert by_name["backend_loop_hz_min"]["value"] > 50
    expected_code = {"pass": 0, "warning": 0, "fail": 99}[final["result"]]
    assert final["exit_code"] == expected_code == result.code, (final, result.output)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["metrics"]["http_reqs"]["count"] > 20


def test_perfctl_killed_while_k6_runs_then_recover_wait(stack):
    proc = start_perfctl(stack, "run", "demo", "--duration", "9s")
    run = None
    try:
        run = k6_started(stack)
        wait_k6_progress(run, 2)
        _kill9_perfctl(proc)
        k6 = k6_ref(run)
        assert k6.alive(), "k6 must outlive perfctl"
        before = ((run / "run.json").read_bytes(), sorted(folder_bytes(run)))

        # Without --wait: says what it found and how to go on, and changes nothing. Not 0: the
        # run has no verdict and nobody left to write one.
        seen = stack.cli("recover")
        assert seen.code == 98, seen.output
        assert "k6 still running" in seen.stdout and f"perfctl recover {run.name} --wait" in seen.stdout
        # k6 keeps appending to its log; perfctl's record and the set of files stay as they were.
        assert ((run / "run.json").read_bytes(), sorted(folder_bytes(run))) == before
        status = stack.cli("status", "--json")
        assert "k6 pid" in {r["id"]: r for r in json.loads(status.stdout)["runs"]}[run.name]["note"]

        done = stack.cli("recover", "--wait")
        assert not k6.alive()
        assert "k6 had finished" in done.stdout and "evaluated the gate" in done.stdout, done.output
        _assert_full_verdict(run, done)
        assert record(run)["k6_exit_code"] == 0 and record(run)["recovered"]["did"]
        # k6's own end of test is in its log: nothing it wrote was lost.
        assert "http_reqs" in (run / "k6.log").read_text()

        # Idempotent: a second recover finds nothing and writes nothing.
        settled = folder_bytes(run)
        again = stack.cli("recover")
        assert again.code == 0 and "nothing to recover" in again.stderr, again.output
        named = stack.cli("recover", run.name)
        assert named.code == done.code and "already finished" in named.stdout, named.output
        assert folder_bytes(run) == settled
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_leftovers(run)


def test_perfctl_killed_and_k6_ended_then_recover(stack):
    proc = start_perfctl(stack, "run", "demo", "--duration", "5s")
    run = None
    try:
        run = k6_started(stack)
        wait_k6_progress(run, 1)
        _kill9_perfctl(proc)
        k6 = k6_ref(run)
        wait_for(lambda: not k6.alive(), timeout=60, what="k6 to end on its own")
        written_by_k6 = {name: (run / name).read_bytes() for name in ("k6.log", "summary.json")}
        assert record(run)["status"] == "running" and "end" not in record(run)

        k6_last_write = max((run / name).stat().st_mtime for name in written_by_k6)
        result = stack.cli("recover", run.name)
        _assert_full_verdict(run, result)
        # k6's own last lines said it ran to the end: that, not the summary's mere existence, gave the 0.
        assert "every scenario done" in record(run)["k6_exit_inferred"]
        # The window ends when k6 last wrote (its log's last lines); nothing k6 wrote was touched.
        assert record(run)["end"] == k6_last_write
        assert record(run)["end"] - record(run)["start"] >= 5
        assert {name: (run / name).read_bytes() for name in written_by_k6} == written_by_k6
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_leftovers(run)


def test_k6_killed_mid_run_is_failed_incomplete(stack):
    # Under a live perfctl: it notices and says so.
    proc = start_perfctl(stack, "run", "demo", "--duration", "20s")
    run = None
    try:
        run = k6_started(stack)
        wait_k6_progress(run, 3)
        os.kill(k6_ref(run).pid, signal.SIGKILL)
        # Never a pass: inconclusive for what is missing (fail only if what was measured failed).
        assert proc.wait(timeout=60) in (98, 99), output(stack)
        final = record(run)
        assert final["status"] == "failed-incomplete" and final["k6_exit_code"] == -9, final
        assert final["result"] in ("inconclusive", "fail")
        assert "k6 was killed (SIGKILL)" in _objectives(run)["k6_completed"]["reason"]
        assert "k6 was killed" in output(stack)

        # perfctl and k6 both killed: recover finds out and says so.
        first = run
        proc = start_perfctl(stack, "run", "demo", "--duration", "20s")
        run = k6_started(stack, besides=[first])
        wait_k6_progress(run, 3)
        k6 = k6_ref(run)
        _kill9_perfctl(proc)
        os.kill(k6.pid, signal.SIGKILL)
        wait_for(lambda: not k6.alive(), what="k6 to die")
        result = stack.cli("recover")
        assert result.code in (98, 99), result.output
        assert "k6 died mid-run" in result.stdout and "failed-incomplete" in result.stdout
        final = record(run)
        assert final["status"] == "failed-incomplete" and final["result"] in ("inconclusive", "fail"), final
        by_name = _objectives(run)
        assert "without writing its summary" in by_name["k6_completed"]["reason"]
        assert by_name["k6_completed"]["result"] == "inconclusive"
        # What could be evaluated was: the backend's numbers over the window are in Prometheus.
        assert by_name["kafka_lag_max"]["value"] is not None
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_leftovers(run)


def test_k6_stopped_after_perfctl_died_is_not_taken_for_finished(stack):
    """k6 writes its summary also when a signal stops it: recover must not read that as
    "k6 finished". The run is failed-incomplete, k6's exit code unknown, the verdict never pass."""
    proc = start_perfctl(stack, "run", "demo", "--duration", "20s")
    run = None
    try:
        run = k6_started(stack)
        wait_k6_progress(run, 3)
        k6 = k6_ref(run)
        _kill9_perfctl(proc)
        os.kill(k6.pid, signal.SIGINT)  # e.g. someone's Ctrl-C in the tmux pane, after perfctl died
        wait_for(lambda: not k6.alive(), what="k6 to stop")
        assert json.loads((run / "summary.json").read_text())["metrics"]["http_reqs"]["count"] > 0

        result = stack.cli("recover")
        assert result.code == 98, result.output
        assert "k6 did not complete" in result.stdout and "'interrupt' signal" in result.stdout, result.output
        final = record(run)
        assert final["status"] == "failed-incomplete" and final["result"] == "inconclusive", final
        assert final["k6_exit_code"] is None and final["exit_code"] == 98, final
        completed = _objectives(run)["k6_completed"]
        assert completed["result"] == "inconclusive" and "of the planned 20s" in completed["reason"], completed
        # The window is what k6 covered, ending when it stopped, well short of the plan.
        assert final["end"] - final["start"] < 15
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_leftovers(run)


def test_prometheus_killed_mid_run_is_restarted_by_recover_and_never_passes(stack):
    proc = start_perfctl(stack, "run", "demo", "--duration", "8s")
    run = None
    try:
        run = k6_started(stack)
        wait_k6_progress(run, 3)
        prometheus = stack.prometheus.running_process()
        assert stack.prometheus.stop()
        assert not prometheus.alive()
        assert proc.wait(timeout=90) == 3, output(stack)
        assert record(run)["status"] == "evaluating"

        result = stack.cli("recover")
        assert result.code == 98, result.output
        assert "restarted Prometheus" in result.stdout
        assert isinstance(stack.prometheus.running_process(), ProcessRef)
        final = record(run)
        assert final["status"] == "finished" and final["result"] == "inconclusive", final
        reasons = " ".join(o.get("reason") or "" for o in _objectives(run).values())
        assert "gaps" in reasons or "down" in reasons, reasons
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_leftovers(run)
