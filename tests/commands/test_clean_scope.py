"""`perfctl clean` removes only what this config's runs made (issue 14): the stale tmux socket
of a run from another folder's config stays, unless `--all`. Real unix sockets in a private
TMUX_TMPDIR (so no other tmux of this machine is looked at), real ledgers, the CLI as a process."""

from __future__ import annotations

import socket
from pathlib import Path

from orchestrator.ledger.store import Ledger
from orchestrator.run.tmux import Session
from tests.conftest import run_cli, write_config

CONFIG = """
    version: 1
    target: {base_url: "http://127.0.0.1:1"}
    scenarios:
      s: {vus: 1, duration: 1s, requests: [{name: a, path: /}]}
    """


def _folder_with_detached_run(root: Path, run_id: str, sockets: Path) -> tuple[Path, Path]:
    """A config folder whose ledger has one ended detached run, and that run's stale socket."""
    root.mkdir()
    config = write_config(root / "perfctl.yaml", CONFIG)
    session = Session.for_run(run_id)
    Ledger(root / "results").create(run_id, {"scenario": "s", "status": "finished", "tmux": session.as_dict()})
    path = sockets / session.socket
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))  # bound and closed: a socket file no tmux server answers on
    return config, path


def test_clean_leaves_other_folders_sockets_unless_all(tmp_path):
    import os

    tmux_tmp = tmp_path / "tmux-tmp"
    sockets = tmux_tmp / f"tmux-{os.getuid()}"
    sockets.mkdir(parents=True)
    env = {"TMUX_TMPDIR": str(tmux_tmp)}
    config_a, socket_a = _folder_with_detached_run(tmp_path / "a", "run-of-a", sockets)
    config_b, socket_b = _folder_with_detached_run(tmp_path / "b", "run-of-b", sockets)

    cleaned = run_cli("clean", "-c", str(config_a), cwd=config_a.parent, env=env)
    assert cleaned.code == 0, cleaned.output
    assert not socket_a.exists() and str(socket_a) in cleaned.stdout
    assert socket_b.exists(), "clean removed another folder's run's socket"
    assert str(socket_b) not in cleaned.output

    again = run_cli("clean", "-c", str(config_a), cwd=config_a.parent, env=env)
    assert again.code == 0 and "nothing to clean" in again.output and socket_b.exists()

    everything = run_cli("clean", "--all", "-c", str(config_a), cwd=config_a.parent, env=env)
    assert everything.code == 0, everything.output
    assert not socket_b.exists() and str(socket_b) in everything.stdout
