"""`perfctl run ... --detach`: the same run, inside a tmux session named after its run id.

The run id is chosen here, up front, and handed to the inner `perfctl run --run-id`,
so the session, the results folder and what this command prints all agree. The inner
command is rebuilt from the parsed options (absolute paths, no `--detach`), not from a
raw argv, so nothing depends on how the user spelled the options. This command waits
only until k6 has started (or the run failed early, whose output it then shows) and
returns; the run goes on without a terminal.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from orchestrator import console
from orchestrator.config.model import LoadedConfig
from orchestrator.config.durations import k6_duration
from orchestrator.errors import ExitCode, LedgerError, UsageError
from orchestrator.ledger.store import RUN_ID, RunDir, new_run_id
from orchestrator.run.tmux import Session, binary

ENV_RUN_ID, ENV_SOCKET, ENV_SESSION = "PERFCTL_DETACHED_RUN_ID", "PERFCTL_TMUX_SOCKET", "PERFCTL_TMUX_SESSION"
# Beyond the health gate's and the Prometheus readiness timeouts: k6 version, k6 inspect, Prometheus start.
START_ALLOWANCE = 60.0
STATE_WORDS = {"running": "is running", "starting": "is starting", "finished": "already finished"}


def detached_session(run_id: str) -> dict | None:
    """The tmux session this process runs in, when it is the inner command of `--detach` for run_id."""
    if os.environ.get(ENV_RUN_ID) != run_id:
        return None
    session = Session.from_record({"socket": os.environ.get(ENV_SOCKET), "session": os.environ.get(ENV_SESSION)})
    return session.as_dict() if session else None


def inner_argv(opts, loaded: LoadedConfig, run_id: str) -> list[str]:
    argv = [sys.executable, "-m", "orchestrator", "run", opts.scenario, "-c", str(loaded.path), "--run-id", run_id]
    argv += ["--runtime", opts.runtime]
    o = opts.overrides
    if o.vus is not None:
        argv += ["--vus", str(o.vus)]
    if o.duration is not None:
        argv += ["--duration", k6_duration(o.duration)]
    if o.rate is not None:
        argv += ["--rate", str(o.rate)]
    for seconds, target in o.stages or ():
        argv += ["--stage", f"{k6_duration(seconds)}:{target}"]
    if opts.results is not None:
        argv += ["--results", str(Path(opts.results).resolve())]
    if opts.baseline is not None:
        argv += ["--baseline", opts.baseline]
    if opts.require_baseline:
        argv.append("--require-baseline")
    if not opts.rollback:
        argv.append("--no-rollback")
    if opts.instances != 1:
        argv += ["--instances", str(opts.instances)]
    if opts.script is not None:
        argv += ["--script", str(Path(opts.script).resolve())]
    if opts.json_output:
        argv.append("--json")
    if opts.tags:
        raise UsageError("--detach: run tags cannot be passed to the detached run yet")
    return argv


def start_detached(opts, loaded: LoadedConfig, results: Path) -> int:
    binary()  # no tmux: exit 3 with how to install it, before anything starts
    run_id = opts.run_id if opts.run_id is not None else new_run_id(opts.scenario)
    if not RUN_ID.match(run_id):
        raise UsageError(f"run id '{run_id}': use letters, digits, '_', '.', '-' (at most 128)")
    if (results / run_id).exists():
        raise UsageError(f"run id '{run_id}' exists already in {results}; results are never overwritten")
    session = Session.for_run(run_id)
    env = dict(os.environ)
    env.update({ENV_RUN_ID: run_id, ENV_SOCKET: session.socket, ENV_SESSION: session.name})
    env.pop("TMUX", None)  # a new server of its own, also when called from inside tmux
    session.start(inner_argv(opts, loaded, run_id), cwd=Path.cwd(), env=env)
    run = RunDir(results / run_id)
    allowance = loaded.config.target.health_timeout + loaded.config.prometheus.ready_timeout + START_ALLOWANCE
    state = _wait_started(session, run, timeout=allowance)
    if state == "died":
        return _report_early_death(session, run_id)
    attach = f"perfctl attach {run_id}"
    # A run that already ended answers with its own exit code (a failed gate is 99 here too).
    code = _finished_exit(session, run) if state == "finished" else 0
    if opts.json_output:
        print(json.dumps({"run_id": run_id, "tmux": session.as_dict(), "state": state, "results": str(run.path),
                          "attach": attach, "raw_attach": " ".join(session.attach_argv()),
                          "exit_code": code}, indent=2))
    else:
        console.info(f"run {run_id} {STATE_WORDS[state]} in tmux session "
                     f"{session.name}; results in {run.path}")
        console.info(f"  watch it:        {attach}   (detach again: Ctrl-b d)")
        console.info(f"  or with tmux:    {' '.join(session.attach_argv())}")
        console.info("  lost track of it: perfctl status / perfctl recover")
        if state == "finished":
            console.info(f"  it ended with exit code {code}: its verdict is in {run.path}")
        print(run_id)
    return code


def _finished_exit(session: Session, run: RunDir) -> int:
    """The exit code of a detached run that ended: its pane's (what `perfctl run` without
    --detach would have returned), else run.json's, else 98: never a 0 nobody decided."""
    status = session.exit_status()
    if status is not None:
        return status
    try:
        recorded = run.record().outcome.exit_code
    except LedgerError:
        recorded = None
    if recorded is not None:
        return recorded
    return int(ExitCode.INCONCLUSIVE)


def _wait_started(session: Session, run: RunDir, *, timeout: float) -> str:
    """'running' once k6 has started, 'died' if the inner perfctl ended first, 'starting' at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pane = session.pane()
        if pane is None or pane.dead:
            return "finished" if _k6_started(run) else "died"
        if _k6_started(run):
            return "running"
        time.sleep(0.2)
    return "starting"


def _k6_started(run: RunDir) -> bool:
    try:
        return run.record().k6 is not None  # recorded once k6 started, under any runtime
    except LedgerError:
        return False


def _report_early_death(session: Session, run_id: str) -> int:
    status = session.exit_status()
    lines = session.capture()
    code = status if status is not None else int(ExitCode.ENVIRONMENT)
    session.kill()  # its output is shown here; nothing of the run is left to attach to
    console.info(f"perfctl: the detached run {run_id} ended before k6 started (exit code {code}); its output:")
    for line in lines:
        if not line.startswith("Pane is dead"):
            console.info("  " + line)
    return code
