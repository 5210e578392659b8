"""Rollback actions: commands perfctl.yaml names for a failed or inconclusive gate
(`kubectl rollout undo deployment/chat`, stopping the stack, ...).

Each action's output goes straight into the run's folder (`rollback/<name>.log`), its
outcome into run.json. An action runs in a process group of its own, so a timeout
stops everything it started, not only the first process (`sh -c 'a | b'`): that is
why it does not go through procs.run_command, which captures into memory and kills
one process. Nothing is interpolated at run time; the argv is the validated config's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, replace

from orchestrator import console
from orchestrator.config.model import Config
from orchestrator.config.settings import RollbackAction
from orchestrator.ledger.store import RunDir, iso

KILL_GRACE = 5.0


@dataclass(frozen=True)
class ActionOutcome:
    name: str
    exit_code: int | None  # None: could not start, or stopped at its timeout
    seconds: float
    timed_out: bool
    log: str  # relative to the run folder
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def as_dict(self) -> dict:
        return {
            "name": self.name, "exit_code": self.exit_code, "seconds": round(self.seconds, 3),
            "timed_out": self.timed_out, "log": self.log, "problem": self.problem,
        }


def trigger_for(config: Config, result: str, interrupted: bool) -> str | None:
    """Which configured trigger this outcome matches (None: no rollback)."""
    if not config.rollback.enabled:
        return None
    if interrupted:
        return "interrupted" if "interrupted" in config.rollback.when else None
    return result if result in config.rollback.when else None


def run_actions(config: Config, run: RunDir, *, trigger: str, result: str, stop_monitoring) -> dict:
    """Run every action in order (a failing one does not stop the next); returns what run.json records."""
    folder = run.path / "rollback"
    folder.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(PERFCTL_RUN_ID=run.id, PERFCTL_RUN_DIR=str(run.path), PERFCTL_RESULT=result, PERFCTL_TRIGGER=trigger)
    started = time.time()
    outcomes = []
    for action in config.rollback.actions:
        console.info(f"rollback: {action.name} (timeout {action.timeout:g}s)")
        outcome = run_action(action, run, env)
        outcomes.append(outcome)
        state = "ok" if outcome.ok else (outcome.problem or f"exit code {outcome.exit_code}")
        console.info(f"rollback: {action.name}: {state}; output in {run.path / outcome.log}")
    stopped = bool(config.rollback.stop_monitoring and stop_monitoring())
    return {
        "trigger": trigger,
        "started": iso(started),
        "finished": iso(time.time()),
        "ok": all(o.ok for o in outcomes),
        "actions": [o.as_dict() for o in outcomes],
        "stopped_monitoring": stopped,
    }


def run_action(action: RollbackAction, run: RunDir, env: dict[str, str]) -> ActionOutcome:
    relative = f"rollback/{action.name}.log"
    start = time.monotonic()
    with open(run.path / relative, "ab") as log:
        log.write(f"# perfctl rollback action '{action.name}' for run {run.id}, {iso(time.time())}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(
                action.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=run.path, start_new_session=True,
            )
        except OSError as exc:
            problem = f"cannot start {action.argv[0]}: {exc.strerror}"
            log.write(f"# {problem}\n".encode())
            return ActionOutcome(action.name, None, time.monotonic() - start, False, relative, problem)
        try:
            code = proc.wait(action.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _stop_group(proc)
            code, timed_out = None, True
        except BaseException:
            # A second Ctrl-C during rollback: stop what the action started, then let the interrupt go on.
            _stop_group(proc)
            raise
        seconds = time.monotonic() - start
        footer = f"timed out after {action.timeout:g}s; stopped" if timed_out else f"exit code {code}"
        log.write(f"\n# {footer} ({seconds:.1f}s)\n".encode())
    problem = f"timed out after {action.timeout:g}s" if timed_out else None
    return ActionOutcome(action.name, code, seconds, timed_out, relative, problem)


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the action's process group, then SIGKILL whatever of it is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(KILL_GRACE)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def run_rollback(loaded, run: RunDir, result: str, *, interrupted: bool) -> dict | None:
    """The configured actions for a judged run, once: a run whose run.json records them is left alone."""
    from orchestrator.monitoring.select import for_config

    trigger = trigger_for(loaded.config, result, interrupted)
    if trigger is None:
        return None
    if run.record().rollback:
        return None  # done already (a recover after a crash must not undo twice)
    def stop_monitoring() -> bool:
        return bool(for_config(loaded).stop())  # no purge: the data (folder or volumes) is kept

    outcome = run_actions(loaded.config, run, trigger=trigger, result=result, stop_monitoring=stop_monitoring)
    run.write(lambda record: replace(record, rollback=outcome))
    if not outcome["ok"]:
        console.info(f"rollback: not every action succeeded; see {run.path / 'rollback'}")
    return outcome
