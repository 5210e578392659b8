"""What the ledger's record of a run says about its processes, checked against the
machine: is the perfctl that runs it still alive, is its k6? (pid + kernel start time,
so a reused pid is never taken for the run's process.) Used by status, recover, rollback."""

from __future__ import annotations

import contextlib
import os
import time

from orchestrator.errors import LedgerError
from orchestrator.ledger.store import FINAL_STATES, Ledger
from orchestrator.pids import ProcessRef
from orchestrator.run.tmux import Session


def k6_processes(record: dict) -> list[ProcessRef]:
    """The k6 processes a run recorded: one, or one per instance."""
    k6 = record.get("k6")
    if not isinstance(k6, dict):
        return []
    entries = k6.get("instances") if isinstance(k6.get("instances"), list) else [k6]
    refs = []
    for entry in entries:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            refs.append(ProcessRef.from_dict(entry))
    return refs


def perfctl_process(record: dict) -> ProcessRef | None:
    entry = record.get("perfctl")
    if not isinstance(entry, dict) or entry.get("pid") == os.getpid():
        return None
    try:
        return ProcessRef.from_dict(entry)
    except (KeyError, TypeError, ValueError):
        return None


def perfctl_alive(record: dict) -> bool:
    ref = perfctl_process(record)
    # A record without the start time cannot rule out a reused pid: only a recorded start counts.
    return ref is not None and ref.start is not None and ref.alive()


def live_k6(record: dict) -> list[ProcessRef]:
    return [ref for ref in k6_processes(record) if ref.alive()]


def liveness_note(record: dict) -> str:
    """For an unfinished run: who is still at work on it, and what to do if nobody is."""
    if perfctl_alive(record):
        return f"perfctl pid {record['perfctl']['pid']} at work"
    running = live_k6(record)
    if running:
        return f"perfctl gone, k6 pid {running[0].pid} still running: perfctl recover {record['id']} --wait"
    return f"perfctl gone: perfctl recover {record['id']}"


def run_states(ledger: Ledger, *, recent: int = 5, scan: int = 200) -> list[dict]:
    """Unfinished runs, then the `recent` last finished ones; unreadable folders flagged."""
    active, finished = [], []
    for run in ledger.runs()[-scan:]:
        try:
            record = run.run_record()
        except LedgerError as exc:
            finished.append({"id": run.id, "status": "unreadable", "note": exc.message})
            continue
        start, end = record.get("start"), record.get("end")
        unfinished = record.get("status") not in FINAL_STATES
        elapsed = (time.time() - start) if unfinished and start else ((end - start) if start and end else None)
        session = Session.from_record(record.get("tmux"))
        row = {
            "id": run.id,
            "scenario": record.get("scenario"),
            "status": record.get("status"),
            "result": record.get("result"),
            "elapsed_seconds": round(elapsed, 1) if elapsed is not None else None,
            "tmux": (session.name + ("" if session.exists() else " (ended)")) if session else None,
            "note": liveness_note(record) if unfinished else None,
        }
        (active if unfinished else finished).append(row)
    return active + finished[-recent:]
