"""What the figures were measured on: the machine and the versions of the tools."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"MemTotal:\s+(\d+) kB", text)
    return round(int(match.group(1)) / 1024 / 1024, 1) if match else None


def describe(k6_binary: str, python: str) -> dict:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": _first_line([python, "--version"]),
        "k6": _first_line([k6_binary, "version"]),
        "prometheus": _first_line([shutil.which("prometheus") or "prometheus", "--version"]),
        "nginx": _first_line([nginx, "-v"]),
        "open_files_limit": _nofile(),
    }


def _nofile() -> str:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return f"{soft} (hard {hard})"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


class MachineLoad:
    """How busy the machine was while a figure ran: the load average at both ends, and the share
    of the cores' time the hypervisor gave to other guests (steal, from /proc/stat). Ratios are
    measured in turns and survive a busy machine; an absolute CPU figure may not, so it says which."""

    def __init__(self):
        self.before = os.getloadavg()
        self._ticks_before = _read_ticks()

    def note(self, why: str) -> str:
        after = os.getloadavg()
        text = (f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in self.before)}; after: "
                f"{', '.join(f'{x:.2f}' for x in after)}")
        steal = steal_percent(self._ticks_before, _read_ticks())
        if steal is not None:
            text += f"; steal (CPU time the hypervisor gave elsewhere) {steal:.1f} %"
        return f"{text} ({why})."


STEAL = 7  # /proc/stat's cpu line: user nice system idle iowait irq softirq steal guest guest_nice


def cpu_ticks(stat_text: str) -> list[int] | None:
    """The machine's ticks from /proc/stat's first line, user to steal (guest time is in user already)."""
    fields = (stat_text.splitlines() or [""])[0].split()
    if fields[:1] != ["cpu"] or len(fields) <= STEAL + 1:
        return None
    return [int(x) for x in fields[1:STEAL + 2]]


def steal_percent(before: list[int] | None, after: list[int] | None) -> float | None:
    if before is None or after is None:
        return None
    total = sum(after) - sum(before)
    return 100 * (after[STEAL] - before[STEAL]) / total if total > 0 else None


def _read_ticks() -> list[int] | None:
    try:
        return cpu_ticks(Path("/proc/stat").read_text())
    except OSError:
        return None
