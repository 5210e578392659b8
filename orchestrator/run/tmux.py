"""tmux: detached runs that survive a dropped SSH connection, and attaching to them.

Every detached run gets its own tmux server (socket `perfctl-<run id>`) holding one
session of the same name. A server of its own is started by perfctl itself, so the run
inherits perfctl's full environment (PATH, PERFCTL_*, the secrets the k6 script reads)
without a single value on a command line, and without depending on what an older
tmux server of the user remembers. The pane stays after the run ends
(`remain-on-exit`), so attaching later still shows the verdict; `perfctl clean` and
`perfctl rollback` remove such finished sessions.

Sockets live where tmux keeps them ($TMUX_TMPDIR or /tmp, then tmux-<uid>/), so tests
point TMUX_TMPDIR at a folder of their own and never touch a user's server.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import EnvironmentProblem, UsageError
from orchestrator.procs import run_command

PREFIX = "perfctl-"
INSTALL_HINT = "install tmux: apt-get install tmux (Debian/Ubuntu), dnf install tmux, brew install tmux"
# A unix socket path is at most 107 bytes; long run ids get a hashed socket name.
MAX_SOCKET_NAME = 60


def binary() -> str:
    found = shutil.which("tmux")
    if not found:
        raise EnvironmentProblem("tmux not found: --detach and attach need it", hint=INSTALL_HINT)
    return found


def session_name(run_id: str) -> str:
    # tmux turns '.' and ':' in session names into '_'; do it up front so the name we record is the real one.
    return PREFIX + re.sub(r"[.:]", "_", run_id)


def socket_name(run_id: str) -> str:
    name = session_name(run_id)
    if len(name) <= MAX_SOCKET_NAME:
        return name
    return name[: MAX_SOCKET_NAME - 9] + "-" + hashlib.sha256(run_id.encode()).hexdigest()[:8]


def socket_dir() -> Path:
    """Where tmux puts `-L` sockets (its own rule: $TMUX_TMPDIR or /tmp, then tmux-<uid>)."""
    return Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"


@dataclass(frozen=True)
class Pane:
    dead: bool
    exit_status: int | None
    pid: int | None


@dataclass(frozen=True)
class Session:
    """One run's tmux server and session."""

    socket: str  # the -L name
    name: str

    @classmethod
    def for_run(cls, run_id: str) -> "Session":
        return cls(socket_name(run_id), session_name(run_id))

    @classmethod
    def from_record(cls, data: dict | None) -> "Session | None":
        if not isinstance(data, dict) or not data.get("socket") or not data.get("session"):
            return None
        return cls(str(data["socket"]), str(data["session"]))

    def as_dict(self) -> dict:
        return {"socket": self.socket, "session": self.name}

    @property
    def socket_path(self) -> Path:
        return socket_dir() / self.socket

    def _tmux(self, *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 15.0):
        return run_command([binary(), "-L", self.socket, *args], check=check, env=env, timeout=timeout)

    def start(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        """Start `argv` in a new detached session; the server inherits `env` (never put on a command line)."""
        if self.exists():
            raise UsageError(f"tmux session {self.name} exists already", hint=f"perfctl attach, or tmux -L {self.socket} kill-server")
        # One tmux invocation: the pane is marked remain-on-exit before the server handles the child's exit.
        self._tmux(
            "new-session", "-d", "-s", self.name, "-x", "160", "-y", "48", "-c", str(cwd), "--", *argv,
            ";", "set-option", "-w", "-t", self.name, "remain-on-exit", "on",
            ";", "set-option", "-t", self.name, "history-limit", "20000",
            env=env,
        )

    def exists(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            return self._tmux("has-session", "-t", self.name, check=False).returncode == 0
        except EnvironmentProblem:
            return False

    def pane(self) -> Pane | None:
        """The run's pane, or None when the session is gone."""
        if not self.socket_path.exists():
            return None
        out = self._tmux("list-panes", "-t", self.name, "-F", "#{pane_dead} #{pane_dead_status} #{pane_pid}", check=False)
        if out.returncode != 0 or not out.stdout.strip():
            return None
        dead, status, pid = (out.stdout.splitlines()[0].split(" ") + ["", "", ""])[:3]
        return Pane(dead == "1", int(status) if status.lstrip("-").isdigit() else None, int(pid) if pid.isdigit() else None)

    def exit_status(self, *, wait: float = 3.0) -> int | None:
        """The ended pane's exit status. tmux marks a pane dead when its terminal closes and
        learns the status a moment later, when it reaps the process: allow for that moment."""
        deadline = time.monotonic() + wait
        nudged = False
        while True:
            pane = self.pane()
            if pane is None or not pane.dead or pane.exit_status is not None or time.monotonic() >= deadline:
                return pane.exit_status if pane else None
            if not nudged and pane.pid is not None:
                nudged = _nudge_reaper(pane.pid)
            time.sleep(0.05)

    def capture(self, lines: int = 40) -> list[str]:
        out = self._tmux("capture-pane", "-p", "-J", "-S", f"-{lines}", "-t", self.name, check=False)
        return [line for line in out.stdout.splitlines() if line.strip()][-lines:]

    def kill(self) -> bool:
        """End the session's server (its pane gets SIGHUP) and remove the socket. True if it was there."""
        existed = self.exists()
        if existed:
            self._tmux("kill-server", check=False)
        self.socket_path.unlink(missing_ok=True)
        return existed

    def attach_argv(self) -> list[str]:
        return ["tmux", "-L", self.socket, "attach-session", "-t", self.name]

    def attach(self) -> int:
        """Hand the terminal to tmux until the user detaches (the one tmux call that is interactive)."""
        if not (os.isatty(0) and os.isatty(1)):
            raise UsageError(
                "attach needs a terminal", hint=f"use `ssh -t`, or run: {' '.join(self.attach_argv())}"
            )
        env = dict(os.environ)
        # Inside another tmux: nest on purpose (the run's server is separate from the user's).
        env.pop("TMUX", None)
        return subprocess.call([binary(), *self.attach_argv()[1:]], env=env)


def perfctl_sockets() -> list[Session]:
    """Every perfctl run server socket of this user (alive or stale)."""
    directory = socket_dir()
    try:
        names = sorted(p.name for p in directory.iterdir() if p.name.startswith(PREFIX) and p.is_socket())
    except OSError:
        return []
    # A hashed socket name is not the session name; tmux lists the real one.
    return [Session(name, _session_on(name) or name) for name in names]


def _session_on(socket: str) -> str | None:
    try:
        out = run_command([binary(), "-L", socket, "list-sessions", "-F", "#{session_name}"], check=False, timeout=10)
    except EnvironmentProblem:
        return None
    names = [n for n in out.stdout.split() if n.startswith(PREFIX)]
    return names[0] if out.returncode == 0 and names else None


def _nudge_reaper(pid: int) -> bool:
    """A tmux built with libutempter misses the SIGCHLD of a pane process that exits while
    utempter's own SIGCHLD handler is in place — as it is when tmux removes the pane's utmp
    record, right after the pane's output ends (tmux issue #311; Debian's tmux 3.3a). The
    process then stays a zombie and the pane dead without a status for as long as the server
    lives: here about one detached run in three once perfctl's exit got faster. Another
    SIGCHLD, the workaround tmux's maintainer gave, makes the server reap it and learn the
    status. Sent only to the zombie's own parent, and only if that is tmux. True if sent."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    state, parent = fields[0], int(fields[1])
    if state != "Z" or parent <= 1:
        return False
    try:
        if not Path(f"/proc/{parent}/comm").read_text().startswith("tmux"):
            return False
    except OSError:
        return False
    try:
        os.kill(parent, signal.SIGCHLD)
    except OSError:
        return False
    return True
