"""`perfctl rollback [RUN] [--purge]`: put the environment back as it was before RUN.

Stops and removes what that run started, found through its run.json: the perfctl that
runs it (asked to stop, so k6 writes its summary and the verdict says interrupted), its
k6 processes, its tmux session, and the monitoring stack if this run started it
(`started.prometheus`); `--purge` also removes that stack's data. Runtimes with
containers add theirs through the `rollback_run` hook (see commands/clean.py).
Results are never deleted: the run folder only gains a note of what was done.
"""

from __future__ import annotations

import signal
import time
from dataclasses import replace
from pathlib import Path

from orchestrator import console
from orchestrator.run.runstate import k6_processes, perfctl_alive, perfctl_process
from orchestrator.config.load import load_config
from orchestrator.errors import PerfctlError, UsageError
from orchestrator.ledger.record import RunRecord
from orchestrator.ledger.store import FINAL_STATES, Ledger, iso, results_root
from orchestrator.monitoring.select import for_config
from orchestrator.runtimes import runtime_classes
from orchestrator.run.tmux import Session

# perfctl, asked to stop, still stops k6 gracefully and writes the interrupted verdict.
PERFCTL_GRACE = 90.0
K6_GRACE = 30.0


def rollback(config_path: Path | None, run_id: str | None, *, results: Path | None, purge: bool) -> int:
    loaded = load_config(config_path)
    ledger = Ledger(results_root(loaded, results))
    run = ledger.get(run_id) if run_id else ledger.latest()
    if run is None:
        raise UsageError(f"no runs in {ledger.root}")
    record = run.record()
    did: list[str] = []

    if perfctl_alive(record):
        ref = perfctl_process(record)
        console.info(f"stopping perfctl (pid {ref.pid}); it stops k6 gracefully and records the run as interrupted")
        ref.terminate(grace=PERFCTL_GRACE, sig=signal.SIGTERM)
        did.append(f"stopped perfctl (pid {ref.pid})")
    for ref in k6_processes(record):
        if ref.alive():
            ref.terminate(grace=K6_GRACE, sig=signal.SIGINT)  # k6's graceful stop: it still writes its summary
            did.append(f"stopped k6 (pid {ref.pid})")
    session = Session.from_record(record.tmux)
    if session is not None and session.kill():
        did.append(f"removed tmux session {session.name}")
    did += _monitoring(loaded, record, purge, busy=_other_live_runs(ledger, run.id))
    for runtime in runtime_classes():
        did += runtime.rollback_run(run, record, purge)

    note = {"at": iso(time.time()), "purge": purge, "did": did}
    if did:
        record = run.write(lambda now: replace(now, rolled_back=note))
    else:
        record = run.record()  # perfctl may have finished it meanwhile
    for line in did or ["nothing of this run was running"]:
        print(f"{run.id}: {line}")
    if record.status not in FINAL_STATES:
        console.info(f"run {run.id} is unfinished ({record.status}): `perfctl recover {run.id}` records its verdict")
    console.info(f"results kept in {run.path}")
    return 0


def _other_live_runs(ledger: Ledger, run_id: str) -> list[str]:
    live = []
    for other in ledger.runs():
        try:
            record = other.record()
        except PerfctlError:
            continue
        if other.id != run_id and record.status not in FINAL_STATES and (
            perfctl_alive(record) or any(ref.alive() for ref in k6_processes(record))
        ):
            live.append(other.id)
    return live


def _monitoring(loaded, record: RunRecord, purge: bool, *, busy: list[str]) -> list[str]:
    started = record.identity.started_prometheus
    if not started:
        if purge:
            console.info("--purge: the monitoring stack was not started by this run; its data is left as it is")
        return []
    if busy:
        console.info(f"the monitoring stack this run started serves running runs ({', '.join(busy)}): left running")
        return []
    stack = for_config(loaded)
    stopped = stack.stop(purge=purge)
    if stack.kind == "docker":  # containers and volumes, each by name
        return [f"removed {name} of the monitoring stack (this run had started it)" for name in stopped.removed]
    did = [f"stopped {what} (this run had started it)" for what in stopped.removed]
    if stopped.data is not None:
        did.append(f"removed the monitoring stack's data: {stopped.data}")
    return did
