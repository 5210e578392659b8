"""The segments runtime: one test split over N local k6 processes (`--instances N`).

k6 splits a test itself: each process gets `--execution-segment i/n:(i+1)/n` of the same
`--execution-segment-sequence`, so VUs, iterations and arrival rates are divided without
overlap (the mechanism k6-operator uses for its runners). Every process keeps the run's
testid tag, adds `instance=<i>`, writes to the same Prometheus, its own log
(k6-<i>.log) and its own summary (summary-<i>.json; merged afterwards).

The processes are handled as the local runtime's (runtimes/base.py follow_processes): each
k6 runs in its own session and a signal reaches every instance: the first as SIGINT
(graceful stop, summaries written), the second as SIGKILL.
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
from orchestrator.k6.binary import api_address, segment_argv, with_api_address
from orchestrator.k6.summary import instance_file
from orchestrator.pids import ProcessRef
from orchestrator.runtimes.base import (
    K6Outcome, LogFollower, OnStarted, RunContext, RuntimeBase, Watch, follow_processes, stop_processes,
)


# k6 outputs that write a file (`--out json=PATH`, `--out csv=PATH`).
FILE_OUTPUTS = ("json=", "csv=")


def instance_argv(argv: list[str], index: int, count: int) -> list[str]:
    """A single-run argv (k6.run_argv) -> the argv of instance `index` of `count`."""
    if len(argv) < 3 or argv[1] != "run":
        raise ValueError(f"not a `k6 run` argv: {argv[:3]}")
    out = [argv[0], "run", *segment_argv(index, count), "--tag", f"instance={index}"]
    # Instance 0 keeps the port run.json records; the others get their own free one.
    rest = list(argv[2:]) if index == 0 else with_api_address(list(argv[2:]), api_address())
    for at in range(len(rest) - 1):
        flag, value = rest[at], rest[at + 1]
        if flag == "--summary-export":
            rest[at + 1] = str(instance_file(Path(value), index))
        elif flag in ("-o", "--out") and value.startswith(FILE_OUTPUTS):
            # N processes writing one sample file would clobber it: each gets its own.
            kind, _, path = value.partition("=")
            rest[at + 1] = f"{kind}={instance_file(Path(path), index)}"
    return out + rest


def instance_env(env: dict[str, str], index: int) -> dict[str, str]:
    """Each instance exports its own web-dashboard report (k6.run_env set the path)."""
    export = env.get("K6_WEB_DASHBOARD_EXPORT")
    if not export:
        return env
    return {**env, "K6_WEB_DASHBOARD_EXPORT": str(instance_file(Path(export), index))}


def combined_exit_code(codes: list[int]) -> int:
    """The run's k6 exit code: the first real failure, else 99 if any thresholds failed, else 0."""
    failures = [c for c in codes if c not in (0, 99)]
    if failures:
        return failures[0]
    return 99 if 99 in codes else 0


class SegmentsRuntime(RuntimeBase):
    name = "segments"

    def __init__(self, count: int):
        if count < 2:
            raise ValueError("the segments runtime needs at least 2 instances")
        self.count = count

    @classmethod
    def for_run(cls, context: RunContext) -> "SegmentsRuntime":
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
        """`on_started` gets every instance's pid and start, in instance order. `watch` is
        polled while they run (the live gate); a reason it returns stops all of them gracefully."""
        with _started(argv, env, log_path, cwd, self.count) as (procs, sinks):
            followers = [LogFollower(instance_file(log_path, i)) for i in range(self.count)]
            interrupted_by, stopped_by = follow_processes(
                procs, sinks, lambda shown: _follow(followers, shown), progress=progress, watch=watch,
                announce=lambda: on_started(
                    {"instances": [ProcessRef.of(p.pid).as_dict() for p in procs], "argv": argv[1:]}),
            )
        codes = [p.returncode for p in procs]
        _write_index(log_path, codes)
        return K6Outcome(exit_code=combined_exit_code(codes), interrupted_by=interrupted_by, stopped_by=stopped_by)


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
    """Start every instance; if one cannot start, or perfctl fails later, stop all started."""
    procs: list[subprocess.Popen] = []
    started_sinks: list[k6_log_writer.LogSink] = []
    with contextlib.ExitStack() as sinks:
        try:
            masker = secret_mask.active()
            for index in range(count):
                # Each instance's output reaches its log through a masking writer (see runtimes/local.py).
                sink = sinks.enter_context(k6_log_writer.started(instance_file(log_path, index), masker))
                started_sinks.append(sink)
                try:
                    procs.append(
                        subprocess.Popen(
                            instance_argv(argv, index, count), stdout=sink.fd, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=instance_env(env, index), cwd=cwd, start_new_session=True,
                        )
                    )
                except OSError as exc:
                    raise EnvironmentProblem(f"cannot start k6 instance {index} ({argv[0]}): {exc.strerror}") from None
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
