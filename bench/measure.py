"""Run one process and measure it: wall time, CPU (its own and its waited-for children's,
from wait4), peak RSS. Also CPU sampling of other processes from /proc."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessSample:
    argv: tuple[str, ...]
    wall: float  # seconds
    user: float  # CPU seconds, the process and the children it waited for
    system: float
    max_rss_kb: int  # the largest RSS of the process or one waited-for child
    code: int
    timed_out: bool = False

    @property
    def cpu(self) -> float:
        return self.user + self.system


class MeasuredProcessFailed(RuntimeError):
    def __init__(self, sample: ProcessSample, log: Path | None):
        tail = ""
        if log is not None and log.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        super().__init__(f"{shlex.join(sample.argv)} exited with {sample.code}"
                         f"{' (timed out)' if sample.timed_out else ''}\n{tail}")
        self.sample = sample


def run_measured(
    argv: list[str], *, env: dict | None = None, cwd: Path | None = None, log: Path | None = None,
    timeout: float = 600, ok_codes: tuple[int, ...] = (0,), on_start=None,
) -> ProcessSample:
    """Run argv to its end; output goes to `log` (or nowhere). Raises on an unexpected exit code."""
    out = open(log, "ab") if log is not None else subprocess.DEVNULL
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        if on_start is not None:
            on_start(proc.pid)
        try:
            # wait4, not Popen.wait: it returns the rusage of this child and its reaped children.
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log is not None:
            out.close()
    sample = ProcessSample(tuple(map(str, argv)), wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss,
                           proc.returncode, expired.is_set())
    if sample.code not in ok_codes or sample.timed_out:
        raise MeasuredProcessFailed(sample, log)
    return sample


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a running process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def rss_kb(pid: int, field: str = "VmRSS") -> int | None:
    """Resident memory now (VmRSS) or at its peak so far (VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class CpuWatch:
    """CPU of some running processes between `start()` and `stop()`, in cores (1.0 = one core busy)."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self._start: dict[str, float | None] = {}
        self._t0 = 0.0

    def start(self) -> "CpuWatch":
        self._t0 = time.perf_counter()
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def stop(self) -> dict[str, float | None]:
        elapsed = time.perf_counter() - self._t0
        cores: dict[str, float | None] = {}
        for name, pid in self.pids.items():
            before, after = self._start.get(name), cpu_seconds(pid)
            cores[name] = None if before is None or after is None or elapsed <= 0 else (after - before) / elapsed
        return cores


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def k6_run_child(parent: int) -> int | None:
    """perfctl's `k6 run` child (not `k6 version` / `k6 inspect`)."""
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return None
    for child in children:
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) > 1 and argv[0].endswith(b"k6") and argv[1] == b"run":
            return int(child)
    return None



class PerfctlWatch:
    """Samples what a running `perfctl run` started, in a thread of its own: `attach(pid)` is
    run_measured's on_start, `join()` after it returned; subclasses say what `_watch` reads."""

    _thread: threading.Thread | None = None

    @staticmethod
    def wait_for_k6(perfctl_pid: int, timeout: float = 120.0) -> int | None:
        """The pid of perfctl's `k6 run` once it has started; None if it did not within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            k6 = k6_run_child(perfctl_pid)
            if k6 is not None:
                return k6
            time.sleep(0.05)
        return None

    def attach(self, perfctl_pid: int) -> None:
        self._thread = threading.Thread(target=self._watch, args=(perfctl_pid,), daemon=True)
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _watch(self, perfctl_pid: int) -> None:
        raise NotImplementedError
