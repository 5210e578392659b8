"""The typed run record (orchestrator/ledger/record.py) opens every run.json today's perfctl
writes, and writing it back keeps what was there.

The fixtures in tests/data/run_records/<shape>/run.json were written by real runs of perfctl
before RunRecord existed (schema version 1: no `schema_version` key): the demo backend with
the local runtime, --instances 2, --hosts over the fake ssh seam, the k6-operator over the
fake kubectl seam, k6 killed mid-run, and runs finished by `perfctl recover`. Only the test
machine's folder names were replaced by /tmp/perfctl-fixture.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.commands.history import run_rows
from orchestrator.ledger.record import SCHEMA_VERSION, K6End, RunRecord
from orchestrator.run.runstate import k6_processes, run_states
from orchestrator.ledger.store import Ledger, RunDir

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "run_records"
SHAPES = sorted(p.name for p in FIXTURES.iterdir() if (p / "run.json").is_file())


def _copy(shape: str, tmp_path: Path) -> RunDir:
    data = json.loads((FIXTURES / shape / "run.json").read_text())
    folder = tmp_path / "results" / data["id"]
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / shape / "run.json", folder / "run.json")
    return RunDir(folder)


def test_every_shape_of_today_is_a_fixture():
    assert {"local", "docker", "detached", "instances", "ssh-hosts", "k8s", "recovered", "local-k6-killed"} <= set(SHAPES)


@pytest.mark.parametrize("shape", SHAPES)
def test_old_records_open_and_a_round_trip_keeps_them(shape, tmp_path):
    run = _copy(shape, tmp_path)
    before = json.loads(run.file("run.json").read_text())
    record = RunDir(run.path).record()
    assert "schema_version" not in before and record.schema_version == 1
    assert record.id == before["id"] and record.scenario == before["scenario"]
    assert record.status == before["status"]
    assert (record.start, record.end) == (before["start"], before["end"]) and record.window.known
    assert record.outcome.result == before["result"] and record.outcome.exit_code == before["exit_code"]
    assert record.k6_end.final_status == before["final_status"]
    assert record.k6_end.exit_code == before["k6_exit_code"]
    assert record.perfctl.pid == before["perfctl"]["pid"]
    assert record.identity.config_digest == before["config_digest"]
    assert record.plan.expected_seconds == before["expected_seconds"] and list(record.plan.parts) == before["load"]

    written = run.write(lambda r: r)  # the one writer: read under the lock, write whole
    after = json.loads(run.file("run.json").read_text())
    assert after["schema_version"] == SCHEMA_VERSION and written.schema_version == SCHEMA_VERSION
    for key, value in before.items():
        if key != "updated":
            assert after[key] == value, key
    # What the writer adds beyond the old keys: the version, and nulls that read as absent.
    assert {k for k in set(after) - set(before) if after[k] is not None} == {"schema_version"}
    again = RunDir(run.path).record()
    assert replace(again, updated=None, schema_version=1) == replace(record, updated=None)


def _record(shape, tmp_path) -> RunRecord:
    return _copy(shape, tmp_path).record()


def test_one_process_entry_for_every_runtime(tmp_path):
    local = _record("local", tmp_path / "a")
    assert local.k6.kind == "local" and len(local.k6.processes) == 1
    assert local.k6.processes[0].pid and local.k6.processes[0].start
    assert local.k6.argv[0] == "run"

    two = _record("instances", tmp_path / "b")
    assert [p.kind for p in two.k6.processes] == ["local", "local"] and two.identity.instances == 2
    assert len(k6_processes(two)) == 2 and len({p.pid for p in two.k6.processes}) == 2

    docker = _record("docker", tmp_path / "e")
    (container,) = docker.k6.processes
    assert container.kind == "docker" and container.container and container.pid and docker.k6.image
    assert docker.to_json()["k6"]["container"] == container.container

    detached = _record("detached", tmp_path / "f")
    assert detached.tmux["session"] == f"perfctl-{detached.id}" and detached.k6.kind == "local"

    hosts = _record("ssh-hosts", tmp_path / "c")
    assert [(p.kind, p.host) for p in hosts.k6.processes] == [("ssh", "load@h1"), ("ssh", "load@h2")]
    assert all(p.session and p.directory for p in hosts.k6.processes)
    assert k6_processes(hosts) == []  # not processes of this machine

    k8s = _record("k8s", tmp_path / "d")
    (runner,) = k8s.k6.processes
    assert (runner.kind, runner.testrun, runner.namespace, k8s.k6.parallelism) == ("k8s", "perfctl-k8s-two", "load", 2)
    assert k6_processes(k8s) == [] and k8s.to_json()["k8s"]["testrun"] == "perfctl-k8s-two" and "k6" not in k8s.to_json()


def test_recover_notes_and_how_k6_ended(tmp_path):
    done = _record("recovered", tmp_path / "a")
    assert done.k6_end.exit_code == 0 and done.k6_end.exit_inferred and done.recovered["did"]
    cut = _record("recovered-failed-incomplete", tmp_path / "b")
    assert cut.status == "failed-incomplete" and cut.k6_end.exit_code is None and "summary" in cut.k6_end.lost
    assert cut.outcome.result == "inconclusive"


def test_a_change_is_a_replace_written_once_and_unknown_keys_stay(tmp_path):
    run = _copy("local", tmp_path)
    data = json.loads(run.file("run.json").read_text())
    data["written_by_a_later_perfctl"] = {"x": 1}
    run.file("run.json").write_text(json.dumps(data))
    run.write(lambda r: replace(r, k6_end=replace(r.k6_end, lost="a note")))
    after = json.loads(run.file("run.json").read_text())
    assert after["k6_lost"] == "a note" and after["written_by_a_later_perfctl"] == {"x": 1}
    assert RunDir(run.path).record().k6_end == K6End(exit_code=0, final_status="finished", lost="a note")


def test_the_ledgers_readers_open_old_folders(tmp_path):
    for shape in SHAPES:
        _copy(shape, tmp_path)
    ledger = Ledger(tmp_path / "results")
    rows = run_rows(ledger, scenario=None, limit=50)
    assert len(rows) == len(SHAPES) and all(r["scenario"] and r["status"] for r in rows)
    states = run_states(ledger, recent=50)
    assert {s["id"] for s in states} == {r["id"] for r in rows} and all(s["status"] != "unreadable" for s in states)
