"""Helpers of the survive/recover/rollback tests: perfctl as a real background process,
waiting on the ledger, a private tmux, and a /proc scan for processes left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from orchestrator.pids import ProcessRef
from tests.conftest import PERFCTL, Stack


def cli_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.pop("GITHUB_STEP_SUMMARY", None)
    env.pop("TMUX", None)
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def _default_hangup() -> list[str]:
    """A prefix that starts a command with SIGHUP at its default, as from a terminal: pytest
    itself may run under nohup, and perfctl keeps an ignored SIGHUP ignored (interrupts.py)."""
    env = shutil.which("env")
    if env and subprocess.run([env, "--default-signal=HUP", "true"], capture_output=True).returncode == 0:
        return [env, "--default-signal=HUP"]
    return []


AS_FROM_A_TERMINAL = _default_hangup()


def start_perfctl(stack: Stack, *args: str, env: dict | None = None) -> subprocess.Popen:
    """`perfctl ARGS -c CONFIG` in the background, its output in files beside the workspace."""
    out = open(stack.workspace / "perfctl.out", "ab")
    proc = subprocess.Popen(
        [*AS_FROM_A_TERMINAL, *PERFCTL, *args, "-c", str(stack.config_path)], cwd=stack.workspace, env=cli_env(env),
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    out.close()
    return proc


def output(stack: Stack) -> str:
    path = stack.workspace / "perfctl.out"
    return path.read_text(errors="replace") if path.exists() else ""


def wait_for(condition, *, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def record(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def k6_started(stack: Stack, *, besides: list[Path] = ()) -> Path:
    """Wait until a new run (not one of `besides`) recorded its k6 process; returns its folder."""

    def started():
        for run in stack.runs():
            if run in besides or not (run / "run.json").exists():
                continue
            try:
                if record(run).get("k6"):
                    return run
            except ValueError:
                continue
        return None

    return wait_for(started, what="k6 to start")


def k6_ref(run: Path) -> ProcessRef:
    return ProcessRef.from_dict(record(run)["k6"])


def wait_k6_progress(run: Path, seconds: float) -> None:
    """Let k6 send load for about `seconds` (its first progress lines are in k6.log by then)."""
    start = record(run)["start"]
    wait_for(lambda: time.time() - start >= seconds, what="k6 to run a while")


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Live processes whose command line contains `text` (a run id, a folder): a /proc scan."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[-1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != b"Z":
            found.append((int(entry), cmdline))
    return found


def folder_bytes(run: Path) -> dict[str, bytes]:
    """Every file of a run folder with its bytes (lock files are empty and carry no data)."""
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.fixture
def private_tmux():
    """TMUX_TMPDIR of this test alone (short: a socket path has at most 107 bytes); every
    server started in it is killed afterwards."""
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed")
    directory = tempfile.mkdtemp(prefix="pt-tmux-", dir="/tmp")
    env = {"TMUX_TMPDIR": directory}
    old = os.environ.get("TMUX_TMPDIR")
    os.environ["TMUX_TMPDIR"] = directory  # for orchestrator.run.tmux calls made in the test process
    try:
        yield env
    finally:
        sockets = Path(directory) / f"tmux-{os.getuid()}"
        for sock in sockets.glob("*") if sockets.exists() else []:
            subprocess.run(["tmux", "-S", str(sock), "kill-server"], capture_output=True, timeout=10)
        if old is None:
            os.environ.pop("TMUX_TMPDIR", None)
        else:
            os.environ["TMUX_TMPDIR"] = old
        shutil.rmtree(directory, ignore_errors=True)


def stop_leftovers(run: Path | None) -> None:
    """Fixture safety net: whatever still mentions the run is stopped (a failed test must not leak load)."""
    if run is None:
        return
    for pid, _ in processes_mentioning(str(run)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
