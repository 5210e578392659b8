"""orchestrator/run/runstate.py with real processes: a recorded process counts as alive only
while that very process runs (pid and kernel start time), not after it ended, not when its pid
names another process; and the status rows built from a real ledger folder."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from orchestrator.ledger.record import RunRecord
from orchestrator.run import runstate
from orchestrator.ledger.store import Ledger, new_run_id
from orchestrator.pids import ProcessRef


@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def ended_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid names no process now
    return proc.pid


def test_a_live_perfctl_with_its_start_time_is_alive_and_not_once_it_ended(child):
    record = {"perfctl": ProcessRef.of(child.pid).as_dict()}
    assert record["perfctl"]["start"] is not None
    assert runstate.perfctl_alive(RunRecord.from_json(record))
    child.kill()
    child.wait()
    assert not runstate.perfctl_alive(RunRecord.from_json(record))


def test_a_reused_pid_is_not_the_runs_process(child):
    ref = ProcessRef.of(child.pid)
    # The same pid with another start time: what a recycled pid looks like.
    assert not runstate.perfctl_alive(RunRecord.from_json({"perfctl": {"pid": child.pid, "start": ref.start - 1}}))
    assert runstate.live_k6(RunRecord.from_json({"k6": {"pid": child.pid, "start": ref.start + 1}})) == []


def test_without_a_recorded_start_perfctl_does_not_count_as_alive(child):
    assert not runstate.perfctl_alive(RunRecord.from_json({"perfctl": {"pid": child.pid}}))


def test_this_process_is_never_the_runs_perfctl():
    # `perfctl status` reading its own record (a run in-process) must not call itself the run's worker.
    assert runstate.perfctl_process(RunRecord.from_json({"perfctl": ProcessRef.of(__import__("os").getpid()).as_dict()})) is None


@pytest.mark.parametrize("entry", [None, "123", {}, {"pid": "x"}, {"start": 5}])
def test_a_malformed_perfctl_entry_is_no_process(entry):
    assert runstate.perfctl_process(RunRecord.from_json({"perfctl": entry})) is None
    assert not runstate.perfctl_alive(RunRecord.from_json({"perfctl": entry}))


def test_k6_processes_one_or_per_instance_skipping_malformed_entries():
    assert runstate.k6_processes(RunRecord.from_json({})) == []
    assert runstate.k6_processes(RunRecord.from_json({"k6": "x"})) == []
    assert runstate.k6_processes(RunRecord.from_json({"k6": {"pid": 5, "start": 9}})) == [ProcessRef(5, 9)]
    record = {"k6": {"instances": [{"pid": 1, "start": 2}, {"nopid": 1}, "junk", {"pid": "3"}]}}
    assert runstate.k6_processes(RunRecord.from_json(record)) == [ProcessRef(1, 2), ProcessRef(3, None)]


def test_live_k6_lists_only_running_instances(child):
    dead = ended_pid()
    record = {"k6": {"instances": [ProcessRef.of(child.pid).as_dict(), {"pid": dead, "start": 1}]}}
    assert [r.pid for r in runstate.live_k6(RunRecord.from_json(record))] == [child.pid]


def test_liveness_note_names_who_is_at_work_or_what_to_do(child):
    me = ProcessRef.of(child.pid).as_dict()
    dead = {"pid": ended_pid(), "start": 1}
    assert runstate.liveness_note(RunRecord.from_json({"id": "r1", "perfctl": me})) == f"perfctl pid {child.pid} at work"
    assert runstate.liveness_note(RunRecord.from_json({"id": "r1", "perfctl": dead, "k6": me})) == \
        f"perfctl gone, k6 pid {child.pid} still running: perfctl recover r1 --wait"
    assert runstate.liveness_note(RunRecord.from_json({"id": "r1", "perfctl": dead, "k6": dead})) == "perfctl gone: perfctl recover r1"


def test_run_states_unfinished_first_then_the_last_finished_ones(tmp_path, child):
    ledger = Ledger(tmp_path / "results")
    base = time.time() - 3600
    ids = []
    for i, (status, extra) in enumerate([
        ("finished", {"result": "pass", "start": base, "end": base + 12.34}),
        ("finished", {"result": "fail", "start": base, "end": base + 5}),
        ("interrupted", {}),
        ("running", {"start": time.time() - 30, "perfctl": ProcessRef.of(child.pid).as_dict()}),
        ("finished", {"result": "pass", "start": base, "end": base + 1}),
    ]):
        run_id = new_run_id("main", now=base + 60 * i)
        ledger.create(run_id, {"scenario": "main", "status": status, **extra})
        ids.append(run_id)
    torn = tmp_path / "results" / new_run_id("main", now=base + 600)
    torn.mkdir()
    (torn / "run.json").write_text("{torn")

    rows = runstate.run_states(ledger, recent=3)
    assert [r["id"] for r in rows] == [ids[3], ids[2], ids[4], torn.name]
    active = rows[0]
    assert active["status"] == "running" and active["note"] == f"perfctl pid {child.pid} at work"
    assert 29 <= active["elapsed_seconds"] < 600
    assert active["tmux"] is None
    assert rows[1]["note"] is None and rows[1]["elapsed_seconds"] is None  # finished without times
    assert rows[2]["elapsed_seconds"] == 1.0 and rows[2]["result"] == "pass"
    assert rows[3]["status"] == "unreadable" and "not valid JSON" in rows[3]["note"]

    everything = runstate.run_states(ledger, recent=10)
    assert {r["id"]: r.get("elapsed_seconds") for r in everything}[ids[0]] == 12.3


def test_run_states_scans_only_the_last_runs(tmp_path):
    ledger = Ledger(tmp_path / "results")
    base = time.time() - 3600
    ids = [new_run_id("s", now=base + i) for i in range(4)]
    for run_id in ids:
        ledger.create(run_id, {"scenario": "s", "status": "finished"})
    assert [r["id"] for r in runstate.run_states(ledger, recent=10, scan=2)] == ids[2:]
    assert runstate.run_states(Ledger(tmp_path / "none")) == []
