"""`perfctl clean`: remove the leftovers of runs that are over, never a result.

- tmux sessions `perfctl-*` whose run has ended (the pane is dead), and sockets of tmux
  servers that are gone;
- the managed Prometheus' pid file when that process is gone;
- temp files of atomic writes a killed perfctl left in run folders.

Runtimes plug in here: each registered runtime (orchestrator.runtimes.REGISTRY) has
`clean_leftovers(known_run_ids: set[str] | None) -> list[str]` (e.g. ended containers labelled
`perfctl.run-id` of one of these runs; None, with `--all`: of any run) and
`rollback_run(run: RunDir, record: RunRecord, purge: bool) -> list[str]` (what one run started);
each returns one line per thing it removed (runtimes/base.py: none by default).
`perfctl clean` / `perfctl rollback` call them.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from orchestrator import console
from orchestrator.config.load import load_config
from orchestrator.ledger.store import Ledger, results_root
from orchestrator.monitoring.local import LocalPrometheus
from orchestrator.pids import start_ticks
from orchestrator.runtimes import runtime_classes
from orchestrator.errors import LedgerError
from orchestrator.run.tmux import Session, perfctl_sockets

TEMP_FILE = re.compile(r"^\..+\.(\d+)\.tmp$")  # ledger.write_atomic's `.NAME.PID.tmp`


def clean(config_path: Path | None, *, results: Path | None, everything: bool = False) -> int:
    """Only what this config's runs made (their tmux sockets, containers), unless `everything`
    (`--all`): then every perfctl leftover of this user, whichever folder's run it was."""
    loaded = load_config(config_path)
    ledger = Ledger(results_root(loaded, results))
    removed: list[str] = []
    known = {run.id for run in ledger.runs()}
    removed += _tmux_leftovers(None if everything else _tmux_sockets(ledger))
    removed += _stale_pid_file(LocalPrometheus.for_config(loaded.config, loaded.path))
    removed += _temp_files(ledger)
    for runtime in runtime_classes():
        removed += runtime.clean_leftovers(None if everything else known)
    if not removed:
        console.info("nothing to clean")
    for line in removed:
        print(line)
    return 0


def _tmux_sockets(ledger: Ledger) -> set[str]:
    """The tmux sockets this ledger's runs recorded (a detached run records its own)."""
    sockets = set()
    for run in ledger.runs():
        with contextlib.suppress(LedgerError):
            session = Session.from_record(run.record().tmux)
            if session is not None:
                sockets.add(session.socket)
    return sockets


def _tmux_leftovers(sockets: set[str] | None) -> list[str]:
    """`sockets`: only these (this config's runs); None: every perfctl socket of this user."""
    removed = []
    for session in perfctl_sockets():
        if sockets is not None and session.socket not in sockets:
            continue  # another folder's run: its own `perfctl clean` (or --all) deals with it
        pane = session.pane()
        if pane is None:
            session.socket_path.unlink(missing_ok=True)
            removed.append(f"removed the socket of a tmux server that is gone: {session.socket_path}")
        elif pane.dead:
            status = session.exit_status()
            session.kill()
            removed.append(f"removed tmux session {session.name} (its run had ended, exit code {status})")
        # A live pane is a run in progress: never touched here.
    return removed


def _stale_pid_file(prometheus: LocalPrometheus) -> list[str]:
    if prometheus.pid_file.exists() and prometheus.running_process() is None:
        prometheus.pid_file.unlink(missing_ok=True)
        return [f"removed a stale pid file (that Prometheus is gone): {prometheus.pid_file}"]
    return []


def _temp_files(ledger: Ledger) -> list[str]:
    removed = []
    for run in ledger.runs():
        for path in run.path.glob(".*.tmp"):
            match = TEMP_FILE.match(path.name)
            if match and start_ticks(int(match.group(1))) is None:
                path.unlink(missing_ok=True)
                removed.append(f"removed the temp file of an interrupted write: {path}")
    return removed
