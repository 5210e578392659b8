"""The loopback servers a benchmark runs against, each a context manager that stops it,
also when starting it fails: nginx (raw HTTP), the reference backend, Prometheus."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from orchestrator.netutil import free_port

STATIC_BODY = b"hello from nginx, a small static file for the benchmark\n" * 4  # ~230 bytes


@dataclass(frozen=True)
class Server:
    name: str
    pid: int
    base_url: str  # http://127.0.0.1:PORT

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])


def wait_http(url: str, *, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited at start (code {proc.returncode}): {_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:g}s: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").splitlines()[-5:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def child_process(argv: list[str], log: Path, *, env: dict | None = None) -> Iterator[subprocess.Popen]:
    """A server process in its own session; SIGTERM (then SIGKILL) to its group at the end."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    try:
        yield proc
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def nginx_conf(home: Path, port: int, *, workers: int = 1) -> str:
    """One worker (k6 gets the other core), no access log, keep-alive without limit."""
    # As root, workers stay root: they must read files under a private (0700) temp dir.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return user + f"""\
daemon off;
worker_processes {workers};
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  default_type text/plain;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path {home}/tmp/body;
  proxy_temp_path {home}/tmp/proxy;
  fastcgi_temp_path {home}/tmp/fastcgi;
  uwsgi_temp_path {home}/tmp/uwsgi;
  scgi_temp_path {home}/tmp/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {home}/www;
  }}
}}
"""


@contextlib.contextmanager
def nginx(home: Path) -> Iterator[Server]:
    """nginx serving /index.html and /health (a small static file) on a free loopback port."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx not found: apt-get install nginx-light (bench/run installs it)")
    home.mkdir(parents=True, exist_ok=True)
    (home / "www").mkdir(exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    (home / "www" / "index.html").write_bytes(STATIC_BODY)
    (home / "www" / "health").write_bytes(b"ok\n")
    # nginx workers run as an unprivileged user: they must be able to read the files.
    for path in (home, home / "www", home / "tmp"):
        path.chmod(0o755)
    port = free_port()
    (home / "nginx.conf").write_text(nginx_conf(home, port))
    log = home / "nginx.out"
    with child_process([binary, "-c", str(home / "nginx.conf"), "-p", str(home)], log) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/index.html", timeout=15, proc=proc, log=log)
        yield Server("nginx", proc.pid, url)


@contextlib.contextmanager
def reference_backend(home: Path, *, python: str = sys.executable) -> Iterator[Server]:
    """`perfctl demo target` in its own process, so its CPU is not the benchmark's."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = home / "backend.log"
    argv = [python, "-m", "orchestrator", "demo", "target", "--port", str(port)]
    with child_process(argv, log) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/health", timeout=30, proc=proc, log=log)
        yield Server("backend", proc.pid, url)


def prometheus_argv(home: Path, port: int, *, config: Path, data: Path) -> list[str]:
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    return [
        binary, f"--config.file={config}", f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-remote-write-receiver", "--enable-feature=native-histograms",
        "--storage.tsdb.retention.time=30d", "--query.max-concurrency=20",
    ]


@contextlib.contextmanager
def prometheus(home: Path, *, data: Path | None = None, scrape_yml: str = "scrape_configs: []\n") -> Iterator[Server]:
    """A Prometheus of the benchmark's own (remote write on), over `data` if given."""
    home.mkdir(parents=True, exist_ok=True)
    data = data or home / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = home / "prometheus.yml"
    config.write_text(scrape_yml)
    port = free_port()
    log = home / "prometheus.log"
    with child_process(prometheus_argv(home, port, config=config, data=data), log) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/-/ready", timeout=60, proc=proc, log=log)
        yield Server("prometheus", proc.pid, url)


def find_child(parent_pid: int, name: str, timeout: float = 10.0) -> int | None:
    """The pid of a direct child of `parent_pid` whose command name is `name` (e.g. k6 under perfctl)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{parent_pid}/task/{parent_pid}/children").read_text().split()
        except OSError:
            return None
        for child in children:
            try:
                if Path(f"/proc/{child}/comm").read_text().strip() == name:
                    return int(child)
            except OSError:
                continue
        time.sleep(0.05)
    return None
