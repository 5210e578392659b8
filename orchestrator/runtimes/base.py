"""What every runtime is: the `Runtime` shape, its defaults (`RuntimeBase`), the outcome
of a k6 run (`K6Outcome`), and what the runtimes of local processes share: following k6's
log for progress, forwarding signals to k6, stopping it.

A runtime is a class with a `name`, built for one run by `for_run(context)`. Its `run()`
starts k6, calls `on_started(facts)` once k6 is running (`facts`: what run.json records
under `record_key`), and returns when k6 has ended. Hooks that `perfctl clean`,
`rollback` and `recover` call on every registered runtime have harmless defaults here.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from orchestrator.interrupts import recorded_signals

if TYPE_CHECKING:
    from orchestrator.config.model import LoadedConfig
    from orchestrator.console import Progress
    from orchestrator.ledger.store import RunDir
    from orchestrator.ledger.record import RunRecord

PROGRESS_LINE = re.compile(r"^running \(")
NOTABLE_LINE = re.compile(r"level=(error|warning)|^(ERRO|WARN)\[|panic:", re.IGNORECASE)
STOP_GRACE = 15.0  # seconds a local k6 gets after SIGINT (perfctl failing) before SIGKILL

OnStarted = Callable[[dict], None]  # gets what run.json records about the started k6
Watch = Callable[[], "str | None"]  # polled while k6 runs; a reason it returns stops k6 gracefully

# How often the local and docker runtimes look at k6 while it runs (its log, the watch, the
# container's state). k6 writes its progress line once a second; its end wakes the wait at
# once (a pidfd; the container's log stream) and so do signals, so looking 5 times a second
# bought nothing and cost 22-30 ms of perfctl's CPU per 20 s of load (15-19 ms against 4 ms
# around a 10 s process); in a container each look is also an API call (20 s of k6 in one:
# perfctl 0.33 -> 0.14 s of CPU, the engine 0.49 -> 0.24 s). A watch that wants asking
# more often says so with an `interval` attribute (the live gate: gate.live_interval).
LOOK_EVERY = 1.0


def look_every(watch: Watch | None) -> float:
    """Seconds between two looks at k6: LOOK_EVERY, or the watch's own interval if shorter."""
    return min(LOOK_EVERY, getattr(watch, "interval", LOOK_EVERY))


class Wakeup:
    """A wait that another thread or a signal handler can cut short. `set()` writes a byte to a
    pipe: no lock is waited for, so a handler may call it even while the loop it wakes is in
    the middle of anything. `wait(seconds)` sleeps until a byte comes or the time is up."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)  # wait() takes what is there, and no more
        os.set_blocking(self._write, False)  # a full pipe already holds a wake: drop the byte
        self._lock = threading.Lock()  # close() against a late set() from another thread

    def __enter__(self) -> "Wakeup":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set(self) -> None:
        # Not acquired: close() is under way, or another set() is writing its byte right now.
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._write is not None:
                try:
                    os.write(self._write, b"\0")
                except BlockingIOError:
                    pass
        finally:
            self._lock.release()

    def wait(self, seconds: float) -> bool:
        """Whether something woke it before `seconds` were up; the wakes that came are taken."""
        if self._read is None:
            raise ValueError("wait on a closed Wakeup")
        # A signal during poll() runs its handler, whose set() ends the retried poll at once.
        # (poll, not select: select refuses descriptors past 1023.)
        ready = select.poll()
        ready.register(self._read, select.POLLIN)
        woken = bool(ready.poll(seconds * 1000))
        try:
            while os.read(self._read, 65536):
                pass
        except BlockingIOError:
            pass
        return woken

    def close(self) -> None:
        with self._lock:
            fds, self._read, self._write = (self._read, self._write), None, None
        for fd in fds:
            if fd is not None:
                os.close(fd)


@dataclass(frozen=True)
class K6Outcome:
    exit_code: int | None  # None: unknown (a runner or host did not say)
    interrupted_by: str | None  # the signal's name when a user/system signal stopped the run
    stopped_by: str | None = None  # why `watch` asked k6 to stop (the live gate), if it did


@dataclass(frozen=True)
class RunContext:
    """What a runtime may need to be built for one run."""

    loaded: "LoadedConfig"
    run: "RunDir"
    scenario: str
    script_text: str
    instances: int = 1
    hosts: tuple[str, ...] = ()


class Runtime(Protocol):
    name: str
    record_key: str  # run.json's key for on_started's facts
    flat_memory: bool  # k6 can run flat here (k6/memory.py): perfctl passes its flags and reads it back

    @classmethod
    def for_run(cls, context: RunContext) -> "Runtime": ...

    def run(self, argv: list[str], env: dict[str, str], log_path: Path, *, cwd: Path, on_started: OnStarted,
            progress: "Progress", watch: Watch | None = None) -> K6Outcome: ...

    def window(self, start: float, end: float) -> tuple[float, float]: ...

    def details(self) -> dict: ...

    @classmethod
    def clean_leftovers(cls, known_run_ids: set[str] | None) -> list[str]: ...

    @classmethod
    def rollback_run(cls, run: "RunDir", record: "RunRecord", purge: bool) -> list[str]: ...

    @classmethod
    def ran_elsewhere(cls, record: "RunRecord") -> str | None: ...


class RuntimeBase:
    """Defaults for what most runtimes do not need."""

    name = "?"
    record_key = "k6"
    # k6's flags reach it (argv) and its numbers are read back from Prometheus on this machine;
    # a runtime that runs an image perfctl never inspects (which summary flag?) says False.
    flat_memory = True
    ran: tuple[float, float] | None = None  # when k6 itself ran, if the runtime knows better than perfctl

    def window(self, start: float, end: float) -> tuple[float, float]:
        """When k6 ran. A container's creation and removal, pods' scheduling, take seconds that
        are no part of the test window (the gate would read them as gaps): runtimes that know
        k6's own start and end set `ran`."""
        return self.ran if self.ran else (start, end)

    def details(self) -> dict:
        """Extra facts run.json records about where k6 ran."""
        return {}

    @classmethod
    def clean_leftovers(cls, known_run_ids: set[str] | None) -> list[str]:
        """`perfctl clean`: what ended runs left behind (only of `known_run_ids`; None: any run),
        one line per thing removed."""
        return []

    @classmethod
    def rollback_run(cls, run: "RunDir", record: "RunRecord", purge: bool) -> list[str]:
        """`perfctl rollback`: stop and remove what this run started, one line per thing."""
        return []

    @classmethod
    def ran_elsewhere(cls, record: "RunRecord") -> str | None:
        """Where k6 ran when that is not a process of this machine (`perfctl recover` cannot finish those)."""
        return None


class LogFollower:
    """Reads what k6 appended to its log since last time, and shows the lines that matter."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def show(self, progress: "Progress") -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except OSError:
            return
        self.offset += len(chunk)
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if PROGRESS_LINE.match(line):
                progress.update(line)
            elif NOTABLE_LINE.search(line):
                progress.message("k6: " + line.strip())


# ---- k6 as processes of this machine (the local runtime, 1 or N of them) --------------------


def follow_processes(procs: list[subprocess.Popen], sinks: list, show: Callable[["Progress"], None], *,
                     announce: Callable[[], Any], progress: "Progress", watch: Watch | None):
    """Until every process has ended: show their logs, poll `watch`, pass signals on (the first
    as SIGINT, k6's graceful stop that writes the summary; the second as SIGKILL). `announce`
    runs first (on_started). If perfctl itself fails meanwhile, the load it started is stopped
    rather than left running unseen. Returns (interrupted_by, stopped_by)."""
    try:
        announce()
        with forward_signals(procs) as received:
            stopped_by = None
            moment = look_every(watch)
            while any(p.poll() is None for p in procs):
                show(progress)
                if watch is not None and stopped_by is None and not received:
                    stopped_by = watch()
                    if stopped_by:
                        progress.message(f"stopping k6: {stopped_by}")
                        signal_all(procs, signal.SIGINT)
                _wait_a_moment(procs, moment)
            for sink in sinks:
                sink.wait()  # k6's last lines are in the log
            show(progress)
    except BaseException:
        stop_processes(procs)
        raise
    finally:
        progress.clear()
    return (received[0] if received else None), stopped_by


def _wait_a_moment(procs: list[subprocess.Popen], seconds: float) -> None:
    """Up to `seconds`, back as soon as any k6 ends, and asleep meanwhile: Popen.wait(timeout)
    polls (sleeps doubling to 50 ms), ~80 ms of perfctl's CPU over a 20 s run (bench/ figure 1).
    A pidfd becomes readable when its process ends (Linux >= 5.3)."""
    running = [p for p in procs if p.poll() is None]
    if not running:
        return
    fds: list[int] = []
    try:
        try:
            for proc in running:
                fds.append(os.pidfd_open(proc.pid))
        except (AttributeError, OSError):  # no pidfd here: the polling wait
            try:
                running[0].wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                pass
            return
        ended = select.poll()
        for fd in fds:
            ended.register(fd, select.POLLIN)
        ended.poll(seconds * 1000)
    finally:
        for fd in fds:
            os.close(fd)


def forward_signals(procs: list[subprocess.Popen]):
    # First signal: k6's graceful stop (it writes the summary). Second: no more waiting.
    return recorded_signals(lambda count: signal_all(procs, signal.SIGINT if count == 1 else signal.SIGKILL))


def signal_all(procs: list[subprocess.Popen], sig: signal.Signals) -> None:
    for proc in procs:
        if proc.poll() is None:
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                pass


def stop_processes(procs: list[subprocess.Popen], grace: float = STOP_GRACE) -> None:
    """SIGINT to each running process, then SIGKILL to those still running after `grace`."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
