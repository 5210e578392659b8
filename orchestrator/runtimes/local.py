"""The local runtime: k6 as a child process of perfctl on this machine.

k6 writes into a pipe read by the log writer (orchestrator.k6_log_writer), which masks
secrets and appends to the run's k6.log; both run in their own session: if perfctl dies,
k6 keeps running and keeps logging, and `perfctl recover` finishes the run. perfctl follows the log for progress. Ctrl-C, SIGTERM and SIGHUP reach k6 once,
as SIGINT, so it stops gracefully and writes its summary; a second signal kills it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from orchestrator import k6_log_writer, secret_mask
from orchestrator.console import Progress
from orchestrator.errors import EnvironmentProblem
from orchestrator.interrupts import recorded_signals
from orchestrator.pids import ProcessRef

PROGRESS_LINE = re.compile(r"^running \(")
NOTABLE_LINE = re.compile(r"level=(error|warning)|^(ERRO|WARN)\[|panic:", re.IGNORECASE)


@dataclass(frozen=True)
class K6Outcome:
    exit_code: int
    interrupted_by: str | None  # the signal's name when a user/system signal stopped the run
    stopped_by: str | None = None  # why `watch` asked k6 to stop (the live gate), if it did


class LocalRuntime:
    name = "local"

    def run(
        self,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        cwd: Path,
        on_started: Callable[[ProcessRef], None],
        progress: Progress,
        watch: Callable[[], str | None] | None = None,
    ) -> K6Outcome:
        """`watch` is polled while k6 runs (it rate-limits itself); a reason it returns stops
        k6 gracefully, once, with SIGINT, as a user's Ctrl-C would."""
        with k6_log_writer.started(log_path, secret_mask.active()) as sink:
            try:
                proc = subprocess.Popen(
                    argv, stdout=sink.fd, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=env, cwd=cwd, start_new_session=True,
                )
            except OSError as exc:
                raise EnvironmentProblem(f"cannot start k6 ({argv[0]}): {exc.strerror}") from None
            finally:
                sink.close_write_end()
            return self._follow(proc, sink, log_path, on_started, progress, watch)

    def _follow(self, proc, sink, log_path: Path, on_started, progress: Progress, watch) -> K6Outcome:
        try:
            on_started(ProcessRef.of(proc.pid))
            with _forward_signals(proc) as received:
                follower = LogFollower(log_path)
                stopped_by = None
                while proc.poll() is None:
                    follower.show(progress)
                    if watch is not None and stopped_by is None and not received:
                        stopped_by = watch()
                        if stopped_by:
                            progress.message(f"stopping k6: {stopped_by}")
                            proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(timeout=0.2)  # back as soon as k6 ends, not up to 0.2 s later
                    except subprocess.TimeoutExpired:
                        pass
                sink.wait()  # k6's last lines are in the log
                follower.show(progress)
        except BaseException:
            # perfctl itself failed: stop the load it started rather than leave it running unseen.
            _stop(proc)
            raise
        finally:
            progress.clear()
        return K6Outcome(
            exit_code=proc.returncode, interrupted_by=received[0] if received else None, stopped_by=stopped_by
        )


class LogFollower:
    """Reads what k6 appended to its log since last time, and shows the lines that matter."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def show(self, progress: Progress) -> None:
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


def _stop(proc: subprocess.Popen, grace: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _forward_signals(proc: subprocess.Popen):
    def forward(count: int) -> None:
        if proc.poll() is not None:
            return
        # First signal: k6's graceful stop (it writes the summary). Second: no more waiting.
        os.kill(proc.pid, signal.SIGINT if count == 1 else signal.SIGKILL)

    return recorded_signals(forward)
