"""The local runtime: k6 as a child process of perfctl on this machine.

k6 writes into a pipe read by the log writer (orchestrator.k6.log_writer), which masks
secrets and appends to the run's k6.log; both run in their own session: if perfctl dies,
k6 keeps running and keeps logging, and `perfctl recover` finishes the run. perfctl follows the log for progress. Ctrl-C, SIGTERM and SIGHUP reach k6 once,
as SIGINT, so it stops gracefully and writes its summary; a second signal kills it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from orchestrator import secret_mask
from orchestrator.k6 import log_writer as k6_log_writer
from orchestrator.console import Progress
from orchestrator.errors import EnvironmentProblem
from orchestrator.pids import ProcessRef
from orchestrator.runtimes.base import K6Outcome, LogFollower, OnStarted, RunContext, RuntimeBase, Watch, follow_processes


class LocalRuntime(RuntimeBase):
    name = "local"

    @classmethod
    def for_run(cls, context: RunContext) -> "LocalRuntime":
        return cls()

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
        """`on_started` gets k6's pid, start time and argv. `watch` is polled while k6 runs (it
        rate-limits itself); a reason it returns stops k6 gracefully, once, with SIGINT, as a
        user's Ctrl-C would."""
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
            interrupted_by, stopped_by = follow_processes(
                [proc], [sink], LogFollower(log_path).show, progress=progress, watch=watch,
                announce=lambda: on_started({**ProcessRef.of(proc.pid).as_dict(), "argv": argv[1:]}),
            )
        return K6Outcome(exit_code=proc.returncode, interrupted_by=interrupted_by, stopped_by=stopped_by)
