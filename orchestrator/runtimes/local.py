"""The local runtime: k6 as child processes of perfctl on this machine, one by default,
N with `--instances N` (one code path for both).

k6 writes into a pipe read by the log writer (orchestrator.k6.log_writer), which masks
secrets and appends to the run's k6.log; both run in their own session: if perfctl dies,
k6 keeps running and keeps logging, and `perfctl recover` finishes the run. perfctl follows the log for progress. Ctrl-C, SIGTERM and SIGHUP reach k6 once,
as SIGINT, so it stops gracefully and writes its summary; a second signal kills it.

With N processes k6 splits the test itself (runtimes/segments.py): each process runs its
execution segment, keeps the run's testid tag, adds `instance=<i>`, writes to the same
Prometheus, its own log (k6-<i>.log) and its own summary (summary-<i>.json; merged
afterwards); a signal reaches every instance.
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import Iterator

from orchestrator import secret_mask
from orchestrator.k6 import log_writer as k6_log_writer
from orchestrator.console import Progress
from orchestrator.errors import EnvironmentProblem
from orchestrator.k6.summary import instance_file
from orchestrator.pids import ProcessRef
from orchestrator.runtimes.base import (
    K6Outcome, LogFollower, OnStarted, RunContext, RuntimeBase, Watch, follow_processes, stop_processes,
)
from orchestrator.runtimes.segments import combined_exit_code, instance_argv, instance_env


class LocalRuntime(RuntimeBase):
    name = "local"

    def __init__(self, count: int = 1):
        if count < 1:
            raise ValueError("the local runtime needs at least 1 k6 process")
        self.count = count

    @classmethod
    def for_run(cls, context: RunContext) -> "LocalRuntime":
        return cls(context.instances)

    def run(
        self,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        cwd: Path,
        on_started: OnStarted,
        progress: Progress,
        watch: Watch | None = None,
    ) -> K6Outcome:
        """`on_started` gets k6's pid, start time and argv (with N processes: every instance's,
        in instance order). `watch` is polled while k6 runs (it rate-limits itself); a reason
        it returns stops k6 gracefully, once, with SIGINT, as a user's Ctrl-C would."""
        with _started(argv, env, log_path, cwd, self.count) as (procs, sinks):
            followers = [LogFollower(_log(log_path, i, self.count)) for i in range(self.count)]
            interrupted_by, stopped_by = follow_processes(
                procs, sinks, lambda shown: _follow(followers, shown), progress=progress, watch=watch,
                announce=lambda: on_started(_facts(procs, argv)),
            )
        codes = [p.returncode for p in procs]
        if self.count > 1:
            _write_index(log_path, codes)
        return K6Outcome(exit_code=combined_exit_code(codes), interrupted_by=interrupted_by, stopped_by=stopped_by)


def _log(log_path: Path, index: int, count: int) -> Path:
    # One process writes k6.log itself; with N, k6.log is perfctl's index of theirs.
    return log_path if count == 1 else instance_file(log_path, index)


def _facts(procs: list[subprocess.Popen], argv: list[str]) -> dict:
    # run.json's `k6`, in the shape run folders already have: one process, or `instances`.
    if len(procs) == 1:
        return {**ProcessRef.of(procs[0].pid).as_dict(), "argv": argv[1:]}
    return {"instances": [ProcessRef.of(p.pid).as_dict() for p in procs], "argv": argv[1:]}


def _follow(followers: list[LogFollower], progress: Progress) -> None:
    # Instance 0's progress line stands for all (they run the same plan in step); warnings
    # and errors of every instance are shown, prefixed with its number.
    followers[0].show(progress)
    for index, follower in enumerate(followers[1:], start=1):
        follower.show(_Prefixed(progress, f"[instance {index}] "))


class _Prefixed:
    """A Progress view for instances > 0: drops progress lines, prefixes messages."""

    def __init__(self, progress: Progress, prefix: str):
        self.progress, self.prefix = progress, prefix

    def update(self, line: str) -> None:
        pass

    def message(self, line: str) -> None:
        self.progress.message(self.prefix + line)


@contextlib.contextmanager
def _started(argv, env, log_path: Path, cwd: Path, count: int) -> Iterator[tuple[list[subprocess.Popen], list]]:
    """Start every process; if one cannot start, or perfctl fails later, stop all started."""
    procs: list[subprocess.Popen] = []
    started_sinks: list[k6_log_writer.LogSink] = []
    with contextlib.ExitStack() as sinks:
        try:
            masker = secret_mask.active()
            for index in range(count):
                sink = sinks.enter_context(k6_log_writer.started(_log(log_path, index, count), masker))
                started_sinks.append(sink)
                try:
                    procs.append(
                        subprocess.Popen(
                            argv if count == 1 else instance_argv(argv, index, count),
                            stdout=sink.fd, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env if count == 1 else instance_env(env, index), cwd=cwd, start_new_session=True,
                        )
                    )
                except OSError as exc:
                    which = "k6" if count == 1 else f"k6 instance {index}"
                    raise EnvironmentProblem(f"cannot start {which} ({argv[0]}): {exc.strerror}") from None
                finally:
                    sink.close_write_end()
            yield procs, started_sinks
        except BaseException:
            stop_processes(procs)
            raise


def _write_index(log_path: Path, codes: list[int]) -> None:
    # k6.log stays the one place to look first: it says where each instance logged.
    k6_log_writer.append(log_path, "".join(
        f"perfctl: instance {index} exited with code {code}; its log is {instance_file(log_path, index).name}\n"
        for index, code in enumerate(codes)))
