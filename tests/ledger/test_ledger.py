"""The ledger under stress: concurrent writers (real processes), torn and foreign files in
the results folder, leftovers of killed writers. No load is sent in these tests."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import subprocess

import pytest

from orchestrator.commands.demo import write_demo_config
from orchestrator.errors import UsageError
from orchestrator.ledger.store import RUNNING, Ledger, RunDir
from orchestrator.netutil import free_port
from orchestrator.pids import ProcessRef
from tests.conftest import run_cli

UPDATES = 150


def _hammer(path: str, key: str) -> None:
    run = RunDir(__import__("pathlib").Path(path))
    for i in range(UPDATES):
        run.update(**{key: i})


def test_two_processes_updating_one_run_lose_nothing(tmp_path):
    run = Ledger(tmp_path).create("r1", {"status": RUNNING})
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_hammer, args=(str(run.path), key)) for key in ("a", "b", "c")]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    record = run.run_record()
    # Each read-modify-write happened under the lock: no writer's last value was overwritten.
    assert (record["a"], record["b"], record["c"]) == (UPDATES - 1,) * 3
    assert not list(run.path.glob(".*.tmp"))


def test_a_run_id_is_taken_once(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.create("same", {"status": RUNNING})
    with pytest.raises(UsageError, match="exists already"):
        ledger.create("same", {"status": RUNNING})


@pytest.fixture
def workspace(tmp_path):
    config = write_demo_config(tmp_path, backend_port=free_port(), prometheus_port=free_port(), example="demo")
    results = tmp_path / "results"
    ledger = Ledger(results)
    good = ledger.create("20260101-000000-demo-good", {"scenario": "demo", "status": "finished", "result": "pass"})
    torn = ledger.create("20260101-000001-demo-torn", {"scenario": "demo", "status": RUNNING})
    torn.file("run.json").write_text('{"schema": "perfctl.run/v1", "id": "20260101-000001-demo-to')
    foreign = results / "20260101-000002-someone-else"
    foreign.mkdir()
    (foreign / "run.json").write_text(json.dumps({"what": "not perfctl"}))
    (results / "notes.txt").write_text("a file someone put here\n")
    (results / "empty-dir").mkdir()
    return tmp_path, config, good


def test_torn_and_foreign_files_are_flagged_not_crashed_on(workspace):
    cwd, config, good = workspace
    history = run_cli("history", "--json", "-c", str(config), cwd=cwd)
    assert history.code == 0, history.output
    rows = {r["id"]: r for r in json.loads(history.stdout)}
    assert rows[good.id]["result"] == "pass"
    assert rows["20260101-000001-demo-torn"]["status"] == "unreadable"
    assert "not valid JSON" in rows["20260101-000001-demo-torn"]["problem"]
    assert "not a perfctl run record" in rows["20260101-000002-someone-else"]["problem"]

    status = run_cli("status", "-c", str(config), cwd=cwd)
    assert status.code == 0, status.output
    assert "unreadable" in status.stdout and "20260101-000001-demo-torn" in status.stdout

    recover = run_cli("recover", "-c", str(config), cwd=cwd)
    assert recover.code == 0, recover.output
    assert "20260101-000001-demo-torn: skipped" in recover.stdout and "torn" in recover.stdout
    assert "20260101-000002-someone-else: skipped" in recover.stdout

    named = run_cli("recover", "20260101-000001-demo-torn", "-c", str(config), cwd=cwd)
    assert named.code == 2 and "not valid JSON" in named.stderr, named.output
    for result in (history, status, recover, named):
        assert "Traceback" not in result.output
    # Nothing was changed or removed.
    assert (cwd / "results" / "notes.txt").read_text() == "a file someone put here\n"
    assert (cwd / "results" / "20260101-000001-demo-torn" / "run.json").read_text().endswith("demo-to")


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_clean_removes_leftovers_of_killed_writers_only(workspace):
    cwd, config, good = workspace
    dead = _dead_pid()
    stale_tmp = good.path / f".run.json.{dead}.tmp"
    stale_tmp.write_text("{half")
    live_tmp = good.path / f".verdict.json.{os.getpid()}.tmp"
    live_tmp.write_text("{being written")
    pid_file = cwd / ".perfctl" / "prometheus" / "prometheus.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(json.dumps(ProcessRef(dead, 1).as_dict()))
    result = run_cli("clean", "-c", str(config), cwd=cwd, env={"TMUX_TMPDIR": str(cwd / "no-tmux")})
    assert result.code == 0, result.output
    assert not stale_tmp.exists() and not pid_file.exists()
    assert live_tmp.exists()  # its writer still runs
    assert good.run_record()["result"] == "pass"
    assert (cwd / "results" / "20260101-000001-demo-torn" / "run.json").exists()


def test_a_second_recover_keeps_off_a_run_being_recovered(workspace):
    cwd, config, good = workspace
    # perfctl and k6 both gone: the run is ready to be finished, but another recover holds it.
    run = Ledger(cwd / "results").create("20260101-000003-demo-held", {
        "scenario": "demo", "status": RUNNING, "start": 1.0,
        "perfctl": ProcessRef(_dead_pid(), 1).as_dict(), "k6": ProcessRef(_dead_pid(), 1).as_dict(),
    })
    before = run.file("run.json").read_bytes()
    with open(run.path / ".recover.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = run_cli("recover", run.id, "-c", str(config), cwd=cwd)
    assert result.code == 0, result.output
    assert "another perfctl is recovering this run" in result.stdout
    assert run.file("run.json").read_bytes() == before


def test_runs_are_ordered_by_creation_also_with_chosen_ids(tmp_path):
    from orchestrator.ledger.store import Ledger

    ledger = Ledger(tmp_path)
    ledger.create("20261101-100000-smoke-aaaa", {"created": "2026-11-01T10:00:00.000Z"})
    ledger.create("nightly-1", {"created": "2026-11-02T09:00:00.000Z"})
    ledger.create("20261103-080000-smoke-bbbb", {"created": "2026-11-03T08:00:00.000Z"})
    ledger.create("aaa-first-by-name", {"created": "2026-10-01T00:00:00.000Z"})
    order = [run.id for run in ledger.runs()]
    assert order == ["aaa-first-by-name", "20261101-100000-smoke-aaaa", "nightly-1", "20261103-080000-smoke-bbbb"]
    assert ledger.latest().id == "20261103-080000-smoke-bbbb"
    # A torn run.json does not break the listing; it sorts first and is flagged where it is read.
    (tmp_path / "nightly-1" / "run.json").write_text("{torn")
    assert [run.id for run in ledger.runs()][0] == "nightly-1"
