"""Rollback: configured actions on a failed gate (the reference backend's fault injection),
and `perfctl rollback RUN` stopping what a run started. Real k6, Prometheus, tmux."""

from __future__ import annotations

import json

import pytest
import yaml

from orchestrator.config.load import validate_data
from orchestrator.run.rollback import trigger_for
from orchestrator.run.tmux import Session
from tests.test_survive_support import (  # noqa: F401  (private_tmux is a fixture)
    k6_ref, private_tmux, processes_mentioning, record, stop_leftovers, wait_k6_progress,
)

MARKER = "sleep 61.2345"  # an odd duration no other process uses


def _with_rollback(config_path):
    data = yaml.safe_load(config_path.read_text())
    data["rollback"] = {
        "when": ["fail", "inconclusive"],
        "actions": [
            {"name": "undo", "run": ["sh", "-c", 'echo "undo $PERFCTL_RUN_ID after $PERFCTL_RESULT"; echo oops >&2']},
            # Stopped at its timeout, with what it started (a child in the same process group).
            {"name": "slow", "run": ["sh", "-c", f"{MARKER} & {MARKER}"], "timeout": "1s"},
            {"name": "missing", "run": "/nonexistent/rollout undo"},
        ],
    }
    config_path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.e2e
def test_rollback_actions_run_on_a_failed_gate_and_are_recorded(stack_factory):
    stack = stack_factory(fault="errors", edit=_with_rollback)
    result = stack.cli("run", "demo", "--duration", "4s")
    # 99: the errors fault fails the gate (98 only if this busy machine lost samples: that triggers too).
    assert result.code in (98, 99), result.output
    run = stack.last_run()
    recorded = json.loads((run / "run.json").read_text())
    outcome = recorded["rollback"]
    assert outcome["trigger"] == recorded["result"] and outcome["ok"] is False
    undo, slow, missing = outcome["actions"]
    assert undo["exit_code"] == 0 and undo["log"] == "rollback/undo.log"
    log = (run / "rollback" / "undo.log").read_text()
    assert f"undo {run.name} after {recorded['result']}" in log and "oops" in log
    assert slow["timed_out"] is True and slow["exit_code"] is None
    assert processes_mentioning(MARKER) == [], "a timed-out action left a process behind"
    assert missing["exit_code"] is None and "cannot start" in missing["problem"]
    assert "rollback: undo: ok" in result.stderr

    # --no-rollback: the same failed gate, no action.
    skipped = stack.cli("run", "demo", "--duration", "3s", "--no-rollback")
    assert skipped.code in (98, 99), skipped.output
    assert "rollback" not in json.loads((stack.last_run() / "run.json").read_text())
    assert not (stack.last_run() / "rollback").exists()


def test_rollback_triggers_only_on_configured_verdicts():
    base = {"scenarios": {"s": {"vus": 1, "duration": "1s", "requests": [{"name": "h", "path": "/"}]}}}
    off = validate_data(base)
    assert trigger_for(off, "fail", interrupted=False) is None  # off unless configured
    on = validate_data({**base, "rollback": {"actions": [{"name": "a", "run": "true"}]}})
    assert trigger_for(on, "fail", interrupted=False) == "fail"
    assert trigger_for(on, "inconclusive", interrupted=False) == "inconclusive"
    assert trigger_for(on, "pass", interrupted=False) is None
    assert trigger_for(on, "warning", interrupted=False) is None
    assert trigger_for(on, "inconclusive", interrupted=True) is None
    with_interrupt = validate_data({**base, "rollback": {"when": ["interrupted"], "actions": [{"name": "a", "run": "true"}]}})
    assert trigger_for(with_interrupt, "inconclusive", interrupted=True) == "interrupted"


@pytest.mark.e2e
def test_rollback_command_stops_what_a_detached_run_started(stack, private_tmux):
    # The stack's Prometheus is stopped first, so this run starts its own and rollback must stop it.
    assert stack.prometheus.stop()
    result = stack.cli("run", "demo", "--duration", "40s", "--detach", env=private_tmux)
    assert result.code == 0, result.output
    run_id = result.stdout.strip().splitlines()[-1]
    run = stack.workspace / "results" / run_id
    session = Session.for_run(run_id)
    try:
        assert record(run)["started"]["prometheus"] is True
        wait_k6_progress(run, 3)
        k6, prometheus = k6_ref(run), stack.prometheus.running_process()
        assert k6.alive() and prometheus is not None

        done = stack.cli("rollback", run_id, env=private_tmux)
        assert done.code == 0, done.output
        assert not k6.alive() and not prometheus.alive() and not session.exists()
        assert processes_mentioning(run_id) == []
        final = record(run)
        # perfctl was asked to stop: the run is recorded as interrupted, with its verdict and summary.
        assert final["status"] == "interrupted" and final["interrupted_by"] == "SIGTERM", final
        assert final["rolled_back"]["did"]
        for name in ("run.json", "script.js", "k6.log", "summary.json", "verdict.json"):
            assert (run / name).is_file(), name
        assert "stopped Prometheus" in done.stdout and f"removed tmux session {session.name}" in done.stdout
    finally:
        session.kill()
        stop_leftovers(run)
