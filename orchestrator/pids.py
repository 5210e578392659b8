"""Process identity that survives pid reuse: a pid plus the kernel's start time of it."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass


def start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot (/proc/PID/stat field 22), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    rest = stat.rsplit(")", 1)[-1].split()
    try:
        return int(rest[19])
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True)
class ProcessRef:
    pid: int
    start: int | None

    @classmethod
    def of(cls, pid: int) -> "ProcessRef":
        return cls(pid, start_ticks(pid))

    def alive(self) -> bool:
        """True only if this very process still runs (not a later one that reused the pid)."""
        now = start_ticks(self.pid)
        if now is None:
            return False
        if _is_zombie(self.pid):
            return False
        return self.start is None or now == self.start

    def as_dict(self) -> dict:
        return {"pid": self.pid, "start": self.start}

    @classmethod
    def from_dict(cls, data: dict) -> "ProcessRef":
        return cls(int(data["pid"]), data.get("start"))

    def terminate(self, *, grace: float = 10.0, sig: int = signal.SIGTERM) -> bool:
        """Signal, wait up to `grace`, then SIGKILL. True if it is gone."""
        if not self.alive():
            return True
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not self.alive():
                return True
            time.sleep(0.05)
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
        return not self.alive()


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().decode("ascii", "replace").rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
