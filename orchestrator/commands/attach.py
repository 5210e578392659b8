"""`perfctl attach [RUN]`: the terminal of a detached run (the latest running one by default)."""

from __future__ import annotations

from pathlib import Path

from orchestrator import console
from orchestrator.config.load import load_config
from orchestrator.errors import LedgerError, UsageError
from orchestrator.ledger.store import FINAL_STATES, Ledger, results_root
from orchestrator.run.tmux import Session


def attach(config_path: Path | None, run_id: str | None, *, results: Path | None) -> int:
    loaded = load_config(config_path)
    ledger = Ledger(results_root(loaded, results))
    run_id, session = _named(ledger, run_id) if run_id else _latest(ledger)
    console.info(f"attaching to run {run_id} (tmux session {session.name}); detach again with Ctrl-b d")
    return session.attach()


def _named(ledger: Ledger, run_id: str) -> tuple[str, Session]:
    record = ledger.get(run_id).record()
    session = Session.from_record(record.tmux)
    if session is None:
        raise UsageError(f"run {run_id} was not started with --detach: it has no tmux session",
                         hint=f"its results: {ledger.root / run_id}")
    if not session.exists():
        raise UsageError(f"the tmux session of run {run_id} is gone (run status: {record.status})",
                         hint=f"`perfctl recover {run_id}` finishes an unfinished run; results in {ledger.root / run_id}")
    return run_id, session


def _latest(ledger: Ledger) -> tuple[str, Session]:
    """The latest unfinished run with a session; else the latest run whose session is still there."""
    candidates = []
    for run in reversed(ledger.runs()):
        try:
            record = run.record()
        except LedgerError:
            continue
        session = Session.from_record(record.tmux)
        if session is not None:
            candidates.append((record.status in FINAL_STATES, run.id, session))
    for finished in (False, True):
        for is_final, run_id, session in candidates:
            if is_final == finished and session.exists():
                return run_id, session
    raise UsageError("no detached run to attach to", hint="`perfctl status` lists the runs; start one with --detach")
