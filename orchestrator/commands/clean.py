"""`perfctl clean`: remove the leftovers of runs that are over, never a result.

- tmux sessions `perfctl-*` whose run has ended (the pane is dead), and sockets of tmux
  servers that are gone;
- the managed Prometheus' pid file when that process is gone;
- temp files of atomic writes a killed perfctl left in run folders.

Other runtimes plug in here: a module `orchestrator.runtimes.<name>` may define
`clean_leftovers(known_run_ids: set[str]) -> list[str]` (e.g. containers and volumes
labelled `perfctl.run-id` whose run no longer exists) and
`rollback_run(run: RunDir, record: dict, purge: bool) -> list[str]` (what one run started);
each returns one line per thing it removed. `perfctl clean` / `perfctl rollback` call them.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Callable

from orchestrator import console
from orchestrator.commands.run import results_root
from orchestrator.config import load_config
from orchestrator.ledger import Ledger
from orchestrator.local_prometheus import LocalPrometheus
from orchestrator.pids import start_ticks
from orchestrator.tmux import perfctl_sockets

RUNTIME_MODULES = ("orchestrator.runtimes.docker", "orchestrator.runtimes.k8s", "orchestrator.runtimes.ssh")
TEMP_FILE = re.compile(r"^\..+\.(\d+)\.tmp$")  # ledger.write_atomic's `.NAME.PID.tmp`


def runtime_hooks(name: str) -> list[Callable]:
    """The `name` function of every runtime module that has one (see the module doc)."""
    hooks = []
    for module_name in RUNTIME_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        hook = getattr(module, name, None)
        if callable(hook):
            hooks.append(hook)
    return hooks


def clean(config_path: Path | None, *, results: Path | None) -> int:
    loaded = load_config(config_path)
    ledger = Ledger(results_root(loaded, results))
    removed: list[str] = []
    removed += _tmux_leftovers()
    removed += _stale_pid_file(LocalPrometheus.for_config(loaded.config, loaded.path))
    removed += _temp_files(ledger)
    known = {run.id for run in ledger.runs()}
    for hook in runtime_hooks("clean_leftovers"):
        removed += hook(known)
    if not removed:
        console.info("nothing to clean")
    for line in removed:
        print(line)
    return 0


def _tmux_leftovers() -> list[str]:
    removed = []
    for session in perfctl_sockets():
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
