"""What the ledger's record of a run says about its processes, checked against the
machine: is the perfctl that runs it still alive, is its k6? (pid + kernel start time,
so a reused pid is never taken for the run's process.) Used by status, recover, rollback."""

from __future__ import annotations

import os
import time

from orchestrator.errors import LedgerError
from orchestrator.ledger.record import RunRecord
from orchestrator.ledger.store import FINAL_STATES, Ledger
from orchestrator.pids import ProcessRef
from orchestrator.run.tmux import Session


def k6_processes(record: RunRecord) -> list[ProcessRef]:
    """The k6 processes of this machine a run recorded: one, or one per instance."""
    return record.k6_processes()


def perfctl_process(record: RunRecord) -> ProcessRef | None:
    ref = record.perfctl
    return None if ref is None or ref.pid == os.getpid() else ref


def perfctl_alive(record: RunRecord) -> bool:
    ref = perfctl_process(record)
    # A record without the start time cannot rule out a reused pid: only a recorded start counts.
    return ref is not None and ref.start is not None and ref.alive()


def live_k6(record: RunRecord) -> list[ProcessRef]:
    return [ref for ref in k6_processes(record) if ref.alive()]


def liveness_note(record: RunRecord) -> str:
    """For an unfinished run: who is still at work on it, and what to do if nobody is."""
    if perfctl_alive(record):
        return f"perfctl pid {record.perfctl.pid} at work"
    running = live_k6(record)
    if running:
        return f"perfctl gone, k6 pid {running[0].pid} still running: perfctl recover {record.id} --wait"
    return f"perfctl gone: perfctl recover {record.id}"


def run_states(ledger: Ledger, *, recent: int = 5, scan: int = 200) -> list[dict]:
    """Unfinished runs, then the `recent` last finished ones; unreadable folders flagged."""
    active, finished = [], []
    for run in ledger.runs()[-scan:]:
        try:
            record = run.record()
        except LedgerError as exc:
            finished.append({"id": run.id, "status": "unreadable", "note": exc.message})
            continue
        start, end = record.start, record.end
        unfinished = record.status not in FINAL_STATES
        elapsed = (time.time() - start) if unfinished and start else ((end - start) if start and end else None)
        session = Session.from_record(record.tmux)
        row = {
            "id": run.id,
            "scenario": record.scenario,
            "status": record.status,
            "result": record.outcome.result,
            "elapsed_seconds": round(elapsed, 1) if elapsed is not None else None,
            "tmux": (session.name + ("" if session.exists() else " (ended)")) if session else None,
            "note": liveness_note(record) if unfinished else None,
        }
        (active if unfinished else finished).append(row)
    return active + finished[-recent:]
