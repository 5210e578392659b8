"""`perfctl doctor`: checks every prerequisite and says how to fix each one that fails.

Exit 0 when everything a local run needs is there, 3 when something is missing; optional
parts (tmux for --detach, a Docker API for --runtime docker) are reported, not required.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from orchestrator.errors import ExitCode, PerfctlError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _k6(config) -> Check:
    from orchestrator.k6.binary import INSTALL_HINT, detect_features, find_k6

    try:
        binary = find_k6(config.k6.binary if config else None)
        return Check("k6", True, f"{detect_features(binary).text} at {binary}")
    except PerfctlError as exc:
        return Check("k6", False, exc.message, INSTALL_HINT)


def _prometheus_binary(config) -> Check:
    from orchestrator.monitoring.local import INSTALL_HINT

    configured = config.prometheus.binary if config else None
    found = configured if configured and Path(configured).exists() else shutil.which("prometheus")
    required = bool(config is None or config.prometheus.manage)
    if found:
        return Check("prometheus binary", True, found, required=required)
    return Check("prometheus binary", False, "not found", INSTALL_HINT, required=required)


def _prometheus_reachable(config) -> Check:
    from orchestrator.config.env import redact_url
    from orchestrator.monitoring.prometheus import Prometheus

    from orchestrator.errors import PerfctlError

    shown = redact_url(config.prometheus.url)
    try:
        ready = Prometheus.for_settings(config.prometheus, timeout=3).ready()
    except PerfctlError as exc:  # an unset token variable, a refused token: said like any failed check
        return Check("prometheus", False, exc.message, exc.hint or "")
    if ready:
        return Check("prometheus", True, f"ready at {shown}")
    if config.prometheus.manage:
        return Check("prometheus", True, f"not running at {shown}; `perfctl run` will start it", required=False)
    return Check("prometheus", False, f"no answer at {shown}", "perfctl start-monitoring, or fix prometheus.url")


def _target(config) -> Check:
    import requests

    from orchestrator.config.env import redact_url
    from orchestrator.run.health import health_url

    url = health_url(config.target)
    if url is None:
        return Check("target health", True, "health gate disabled (target.health_path: null)", required=False)
    shown = redact_url(url)  # doctor's output is pasted into tickets; a password in the URL is not
    try:
        status = requests.get(url, timeout=3).status_code
    except requests.RequestException as exc:
        return Check("target health", False, f"{shown}: {type(exc).__name__}", "start the target (demo: `perfctl demo target`)")
    if 200 <= status < 300:
        return Check("target health", True, f"{shown}: HTTP {status}")
    return Check("target health", False, f"{shown}: HTTP {status}", "the target answers but is not healthy")


def _tmux(_config) -> Check:
    found = shutil.which("tmux")
    if found:
        return Check("tmux", True, found, required=False)
    return Check("tmux", False, "not found (needed for --detach)", "apt-get install tmux", required=False)


def _docker(_config) -> Check:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        import docker

        client = docker.DockerClient(base_url=host, timeout=3)
        try:
            version = client.version().get("Version", "?")
        finally:
            client.close()
        return Check("docker API", True, f"{host} (engine {version})", required=False)
    except Exception as exc:  # the SDK raises many kinds; any of them means "not usable"
        return Check(
            "docker API", False, f"{host}: {type(exc).__name__}",
            "only for --runtime docker: start Docker, or Podman's service (scripts/docker-api)", required=False,
        )


def doctor(config_path: Path | None, *, json_output: bool) -> int:
    from orchestrator.config.load import load_config

    checks: list[Check] = []
    config = None
    try:
        loaded = load_config(config_path)
        config = loaded.config
        checks.append(Check("config", True, str(loaded.path)))
    except PerfctlError as exc:
        checks.append(Check("config", False, exc.message, exc.hint or "perfctl init", required=config_path is not None))
    probes: list[Callable] = [_k6, _prometheus_binary, _tmux, _docker]
    if config is not None:
        probes[2:2] = [_prometheus_reachable, _target]
    checks += [probe(config) for probe in probes]
    failed = [c for c in checks if not c.ok and c.required]
    if json_output:
        print(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        for c in checks:
            mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
            print(f"{mark}  {c.name:18} {c.detail}")
            if not c.ok and c.fix:
                print(f"      {'':18} fix: {c.fix}")
    return int(ExitCode.ENVIRONMENT) if failed else 0
