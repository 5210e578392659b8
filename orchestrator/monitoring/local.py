"""A Prometheus process that perfctl manages on this machine (the local runtime's stack).

Its config, data, pid file and log live in the state directory (`.perfctl/prometheus/`
beside perfctl.yaml, or $PERFCTL_STATE_DIR). It keeps running between runs, so a run's
data stays queryable for `evaluate`, `recover` and `compare`; `stop-monitoring` ends it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from orchestrator.config.env import redact_url
from orchestrator.config.model import Config, LoadedConfig
from orchestrator.errors import EnvironmentProblem, UsageError
from orchestrator.monitoring.base import StackState, Stopped
from orchestrator.pids import ProcessRef
from orchestrator.monitoring.prometheus import Prometheus
from orchestrator.monitoring.prometheus_config import prometheus_yml

INSTALL_HINT = "install it: apt-get install prometheus (Debian/Ubuntu), or set prometheus.binary"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def state_dir(config_path: Path) -> Path:
    env = os.environ.get("PERFCTL_STATE_DIR")
    return Path(env) if env else config_path.parent / ".perfctl"


# All the Prometheus perfctl starts gets of perfctl's environment: it outlives the run, and
# the secrets the k6 script reads (tokens, passwords) are no business of a metrics server.
PROMETHEUS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")


def prometheus_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    return {k: environ[k] for k in PROMETHEUS_ENV if k in environ}


def running_process(home: Path) -> ProcessRef | None:
    """The Prometheus started from this home, if it still runs."""
    try:
        ref = ProcessRef.from_dict(json.loads((home / "prometheus.pid").read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return ref if ref.alive() else None


@dataclass
class LocalPrometheus:
    config: Config
    home: Path  # <state dir>/prometheus
    _client: Prometheus | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def for_config(cls, config: Config, config_path: Path) -> "LocalPrometheus":
        return cls(config, state_dir(config_path) / "prometheus")

    @property
    def url(self) -> str:
        return self.config.prometheus.url.rstrip("/")

    @property
    def url_shown(self) -> str:
        """The url for messages: a password in it is `***` (config.redact_url, the one rule)."""
        return redact_url(self.url)

    @property
    def pid_file(self) -> Path:
        return self.home / "prometheus.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "prometheus.log"

    def client(self) -> Prometheus:
        if self._client is None:  # built once: its access (headers, token, TLS) and its connection
            self._client = Prometheus.for_settings(self.config.prometheus)
        return self._client

    def running_process(self) -> ProcessRef | None:
        return running_process(self.home)

    def ensure(self, *, wait: float = 30.0) -> bool:
        """Make Prometheus answer at url. True if this call started it."""
        client = self.client()
        if client.ready():
            if self.running_process():
                self._apply_config()
            return False
        if not self.config.prometheus.manage:
            raise EnvironmentProblem(
                f"Prometheus does not answer at {self.url_shown} and prometheus.manage is false",
                hint="start it yourself, or set prometheus.manage: true",
            )
        # Several perfctl at once in one folder (parallel first runs): one starts Prometheus, the
        # others wait for the lock and then use that one; the pid file names the one that runs.
        with self._start_lock(timeout=wait + 15):
            if client.ready():
                return False
            if self.running_process():
                # Started by someone (a perfctl that died while it was starting?): wait, do not start twice.
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline and self.running_process():
                    if client.ready():
                        return False
                    time.sleep(0.2)
                if self.running_process():
                    raise EnvironmentProblem(
                        f"the Prometheus perfctl started (pid {self.running_process().pid}) does not answer at "
                        f"{self.url_shown} within {wait:g}s", lines=self.last_log_lines(),
                        hint="perfctl stop-monitoring, then try again",
                    )
            self.start(wait=wait)
            return True

    @contextlib.contextmanager
    def _start_lock(self, *, timeout: float):
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "start.lock", "a+") as fh:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise EnvironmentProblem(
                            f"another perfctl has been starting Prometheus in {self.home} for {timeout:g}s",
                            hint="wait for it, or check `perfctl status`",
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def start(self, *, wait: float = 30.0) -> ProcessRef:
        host, port = self._listen_address()
        binary = self.config.prometheus.binary or shutil.which("prometheus")
        if not binary or not Path(binary).exists():
            raise EnvironmentProblem("prometheus not found", hint=INSTALL_HINT)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "data").mkdir(exist_ok=True)
        (self.home / "prometheus.yml").write_text(prometheus_yml(self.config))
        listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        argv = [
            binary,
            f"--config.file={self.home / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--storage.tsdb.retention.time={self.config.prometheus.retention}",
            f"--web.listen-address={listen}",
            "--web.enable-remote-write-receiver",  # k6 pushes here
            "--web.enable-lifecycle",  # lets perfctl reload a changed scrape config
            "--enable-feature=native-histograms",  # exact percentiles across k6 instances
        ]
        with open(self.log_file, "ab") as log:
            try:
                proc = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                    env=prometheus_env(),
                )
            except OSError as exc:
                raise EnvironmentProblem(f"cannot start {binary}: {exc.strerror}", hint=INSTALL_HINT) from None
        ref = ProcessRef.of(proc.pid)
        self._write_pid(ref)
        try:
            self._wait_ready(proc, wait)
        except BaseException:
            # Not ready, exited, or Ctrl-C while waiting: what this call started does not outlive it.
            ref.terminate(grace=5)
            self.pid_file.unlink(missing_ok=True)
            raise
        return ref

    def _wait_ready(self, proc: subprocess.Popen, wait: float) -> None:
        deadline = time.monotonic() + wait
        client = self.client()
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise EnvironmentProblem(
                    f"Prometheus exited at start (code {proc.returncode})", lines=self.last_log_lines(), hint=f"log: {self.log_file}"
                )
            if client.ready():
                return
            time.sleep(0.2)
        raise EnvironmentProblem(
            f"Prometheus did not become ready at {self.url_shown} within {wait:g}s", lines=self.last_log_lines()
        )

    def stop(self, *, grace: float = 15.0) -> bool:
        """Stop the Prometheus this state dir started. False if none was running."""
        ref = self.running_process()
        self.pid_file.unlink(missing_ok=True)
        if ref is None:
            return False
        ref.terminate(grace=grace)
        return True

    def last_log_lines(self, count: int = 10) -> list[str]:
        try:
            return self.log_file.read_text(errors="replace").splitlines()[-count:]
        except OSError:
            return []

    def _apply_config(self) -> None:
        path = self.home / "prometheus.yml"
        wanted = prometheus_yml(self.config)
        if path.exists() and path.read_text() == wanted:
            return
        path.write_text(wanted)
        Prometheus(self.url, timeout=5).reload()

    def _write_pid(self, ref: ProcessRef) -> None:
        tmp = self.pid_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(ref.as_dict()))
        os.replace(tmp, self.pid_file)

    def _listen_address(self) -> tuple[str, int]:
        parsed = urlparse(self.url)
        host = parsed.hostname or "127.0.0.1"
        if host not in LOOPBACK:
            raise EnvironmentProblem(
                f"perfctl only starts Prometheus on loopback, not on {host}",
                hint="start that Prometheus yourself, or point prometheus.url at 127.0.0.1",
            )
        try:
            port = parsed.port
        except ValueError:  # the config refuses such a URL; a URL from elsewhere gets the same answer
            raise UsageError(f"prometheus.url: '{redact_url(self.url)}' must have a port in 1-65535") from None
        return ("127.0.0.1" if host == "localhost" else host), port or 9090


class LocalStack:
    """The local runtime's stack (monitoring/base.py's Stack): the Prometheus process above.
    Grafana does not run as a local process."""

    kind = "local"

    def __init__(self, loaded: LoadedConfig):
        self.loaded = loaded
        self.prometheus = LocalPrometheus.for_config(loaded.config, loaded.path)

    @property
    def url(self) -> str:
        return self.prometheus.url

    def client(self) -> Prometheus:
        return self.prometheus.client()

    def ensure(self) -> bool:
        return self.prometheus.ensure()

    def stop(self, *, purge: bool = False) -> Stopped:
        stopped = self.prometheus.stop()
        data = self.prometheus.home / "data"
        removed = None
        if purge and data.exists():
            shutil.rmtree(data)  # stopped above: nothing writes there any more
            removed = data
        return Stopped((f"Prometheus at {self.prometheus.url_shown}",) if stopped else (), removed)

    def status(self) -> StackState:
        ref = self.prometheus.running_process()
        return StackState(self.prometheus.url_shown, self.client().ready(), ref.pid if ref else None)
