"""The docker runtime: k6 in a container of the configured (pinned) k6 image.

Same shape as every runtime (runtimes/base.py). The run folder is mounted twice: read-only at
/scripts (the script) and writable at /results (summary, exports), and host paths in
k6's argv and environment are rewritten to those. Only k6's own variables (K6_*) and the
secrets the script reads (`${VAR}` refs of the config) enter the container, as container
environment: nothing is written to a file. The container's output is streamed into
k6.log, and progress from it to the terminal.

Ctrl-C, SIGTERM and SIGHUP reach k6 once as SIGINT (graceful stop: the summary is
written), a second time as SIGKILL. Whatever ends the run, the container, and a network
this runtime created, are removed; so is everything it created when the start fails.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from orchestrator import docker_engine
from orchestrator.config.env import runtime_env_refs
from orchestrator.config.model import LoadedConfig
from orchestrator.console import Progress
from orchestrator.errors import ConfigError, EnvironmentProblem
from orchestrator.pids import ProcessRef
from orchestrator.k6.features import K6Features
from orchestrator.interrupts import recorded_signals
from orchestrator.runtimes.base import K6Outcome, LogFollower, OnStarted, RunContext, RuntimeBase, Wakeup, Watch, look_every
from orchestrator.monitoring.services import K6_RESULTS, K6_SCRIPTS, LABEL_RUN_ID, LABEL_STACK, k6_service

STOP_GRACE = 30.0  # seconds k6 gets after SIGINT to finish its summary before SIGKILL
# How often the container's state is asked for once its log stream has ended: the engine
# may say "running" for a moment after the stream closes, and a broken stream says nothing.
ENDING_LOOK = 0.2


class DockerRuntime(RuntimeBase):
    name = "docker"

    def __init__(self, *, image: str, network: str = "host", stack: str = "perfctl", secrets: Iterable[str] = ()):
        self.image = image
        self.network = network
        self.stack = stack
        self.secrets = frozenset(secrets)  # names of variables the script reads at run time
        self.container_id: str | None = None
        self.ran: tuple[float, float] | None = None  # wall-clock start and exit of the k6 container
        self._image_id: str | None = None

    @classmethod
    def for_run(cls, context: RunContext) -> "DockerRuntime":
        return cls.for_config(context.loaded)

    @classmethod
    def for_config(cls, loaded: LoadedConfig) -> "DockerRuntime":
        from orchestrator.monitoring.local import state_dir
        from orchestrator.monitoring.services import stack_id

        config = loaded.config
        if config.prometheus.ca_file and config.prometheus.url.lower().startswith("https://"):
            from orchestrator import console

            # Not mounted (yet): SSL_CERT_FILE names a path on this machine.
            console.info("warning: prometheus.ca_file is used by perfctl's queries only; k6 in the container "
                         "checks remote write's certificate against its image's CAs")
        return cls(
            image=config.k6.image,
            network=config.k6.network,
            stack=stack_id(config, state_dir(loaded.path)),
            secrets=runtime_env_refs(config),
        )

    def details(self) -> dict:
        """What run.json records about where k6 ran."""
        return {"container": self.container_id, "image": self.image}

    @classmethod
    def clean_leftovers(cls, known_run_ids: set[str] | None) -> list[str]:
        return clean_leftovers(known_run_ids)

    @classmethod
    def rollback_run(cls, run, record, purge: bool) -> list[str]:
        return rollback_run(run, record, purge)

    # ---- before the run: version and inspect, in the image itself, once per image ----

    def features(self) -> K6Features:
        """The image's `k6 version`: asked in a container the first time only (k6/memo.py)."""
        from orchestrator.k6 import memo
        from orchestrator.k6.binary import parse_version

        return memo.remembered_features(memo.image_key(self.image_id()),
                                        lambda: K6Features(parse_version(self._one_shot(["version"]))))

    def inspect(self, text: str) -> None:
        """`k6 inspect` the script inside the image, unless this image accepted it before;
        ConfigError with k6's words if rejected."""
        from orchestrator.k6 import memo

        memo.remembered_inspect(memo.image_key(self.image_id()), text, lambda: self._inspect_in_image(text))

    def image_id(self) -> str:
        """The k6 image's ID (pulled first if missing): a digest of its content, so the same
        ID is the same k6."""
        if self._image_id is None:
            client = docker_engine.connect()
            try:
                self._image_id = str(docker_engine.require_image(client, self.image).id or "")
            finally:
                client.close()
        return self._image_id

    def _inspect_in_image(self, text: str) -> str:
        with tempfile.TemporaryDirectory(prefix="perfctl-inspect-") as tmp:
            path = Path(tmp) / "script.js"
            path.write_text(text, encoding="utf-8")
            path.chmod(0o644)
            Path(tmp).chmod(0o755)  # readable by whatever user the image runs as
            return self._one_shot(["inspect", f"{K6_SCRIPTS}/script.js"], scripts=tmp, what="k6 inspect")

    def _one_shot(self, args: list[str], *, scripts: str | None = None, what: str = "k6") -> str:
        from docker.errors import APIError, ContainerError
        from docker.types import Mount

        from orchestrator.k6.binary import k6_error_line

        client = docker_engine.connect()
        try:
            docker_engine.require_image(client, self.image)
            mounts = [Mount(K6_SCRIPTS, scripts, type="bind", read_only=True)] if scripts else []
            out = client.containers.run(
                self.image, args, remove=True, stdout=True, stderr=True, mounts=mounts,
                network_mode="none", labels={LABEL_STACK: self.stack}, user=_host_user(),
            )
            return out.decode("utf-8", "replace")
        except ContainerError as exc:
            detail = (exc.stderr or b"").decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else str(exc.stderr)
            if what == "k6 inspect":
                raise ConfigError(f"k6 inspect rejected the generated script: {k6_error_line(detail)}") from None
            raise EnvironmentProblem(f"{what} failed in {self.image}: {k6_error_line(detail)}") from None
        except APIError as exc:
            raise EnvironmentProblem(f"{what} in {self.image}: {docker_engine.short_error(exc)}") from None
        finally:
            client.close()

    # ---- the run ----

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
        """`on_started` gets the container's process (pid, start), argv and details()."""
        cwd = Path(cwd).resolve()
        script = Path(argv[-1]).resolve()
        run_id = _testid(argv)
        service = k6_service(
            name="k6",
            image=self.image,
            args=tuple(_to_container(a, cwd, script) for a in argv[1:]),
            environment=self.container_env(env, cwd, script),
            scripts=str(script.parent),
            results=str(cwd),
            stack=self.stack,
            network=self.network,
            run_id=run_id,
            user=_host_user(),
        )
        client = docker_engine.connect()
        with contextlib.ExitStack() as cleanup:
            # Unwound in reverse: the container goes first, then a network made for it.
            cleanup.callback(client.close)
            docker_engine.require_image(client, self.image)
            self._ensure_network(client, run_id, cleanup)
            container = self._create(client, service, run_id)
            cleanup.callback(_remove, container)
            return self._follow(container, log_path, on_started, argv, progress, watch)

    def container_env(self, env: dict[str, str], cwd: Path, script: Path) -> dict[str, str]:
        chosen = {k: v for k, v in env.items() if k.startswith("K6_") or k in self.secrets}
        return {k: _to_container(v, cwd, script) for k, v in chosen.items()}

    def _ensure_network(self, client, run_id: str | None, cleanup: contextlib.ExitStack) -> None:
        from docker.errors import NotFound

        if self.network in ("host", "bridge", "none"):
            return
        try:
            client.networks.get(self.network)
        except NotFound:
            labels = {LABEL_STACK: self.stack, **({LABEL_RUN_ID: run_id} if run_id else {})}
            network = client.networks.create(self.network, labels=labels)
            cleanup.callback(_quietly, network.remove)  # created for this run: removed with it

    def _create(self, client, service, run_id: str | None):
        from docker.errors import APIError

        from orchestrator.monitoring.stack import container_options

        name = f"perfctl-k6-{run_id}" if run_id else None
        try:
            container = client.containers.create(name=name, **container_options(service))
        except APIError as exc:
            raise EnvironmentProblem(f"cannot create the k6 container: {docker_engine.short_error(exc)}") from None
        self.container_id = container.id
        return container

    def _follow(self, container, log_path: Path, on_started, argv: list[str], progress: Progress, watch) -> K6Outcome:
        from orchestrator.k6.log_writer import open_log

        with os.fdopen(open_log(log_path), "ab") as log, Wakeup() as wake:
            try:
                container.start()
                started_at = time.time()
            except Exception as exc:
                raise EnvironmentProblem(
                    f"cannot start the k6 container: {docker_engine.short_error(exc)}",
                    lines=docker_engine.last_log_lines(container),
                ) from None
            # The log stream ends with the container: the writer's end wakes the loop below.
            writer = threading.Thread(target=_copy_logs, args=(container, log, wake.set), daemon=True)
            writer.start()
            try:
                container.reload()
                pid = int(container.attrs.get("State", {}).get("Pid") or 0)
                ref = ProcessRef.of(pid) if pid > 0 else ProcessRef(0, None)
                on_started({**ref.as_dict(), "argv": argv[1:], **self.details()})
                follower = LogFollower(log_path)
                stopped_by = None
                # A signal wakes the loop, which passes it on: no API call inside the handler.
                with recorded_signals(lambda _count: wake.set()) as received:
                    sent = 0
                    while container.status in ("created", "running", "configured"):
                        follower.show(progress)
                        if len(received) > sent:
                            # First signal: k6's graceful stop (summary written). Second: kill.
                            _quietly(container.kill, signal="SIGINT" if sent == 0 else "SIGKILL")
                            sent = len(received)
                        elif watch is not None and stopped_by is None and not received:
                            stopped_by = watch()
                            if stopped_by:
                                progress.message(f"stopping k6: {stopped_by}")
                                _quietly(container.kill, signal="SIGINT")
                        # Once the stream has ended (or broken), the engine's state is what
                        # says the container is gone: asked as often as before.
                        wake.wait(look_every(watch) if writer.is_alive() else ENDING_LOOK)
                        container.reload()
                    exit_code = int(container.wait(timeout=60).get("StatusCode", 1))
                    self.ran = _container_times(container) or (started_at, time.time())
                writer.join(timeout=10)
                log.flush()
                follower.show(progress)
            except BaseException:
                # perfctl itself failed or was interrupted hard: stop the load it started.
                _stop(container)
                raise
            finally:
                progress.clear()
        return K6Outcome(exit_code=exit_code, interrupted_by=received[0] if received else None, stopped_by=stopped_by)


def _container_times(container) -> tuple[float, float] | None:
    """The engine's own record of when the container's process started and exited: exact,
    unlike the time this side saw it (polling and API calls add up to a second)."""
    container.reload()
    state = container.attrs.get("State", {})
    started, finished = _timestamp(state.get("StartedAt")), _timestamp(state.get("FinishedAt"))
    if started is None or finished is None or not started < finished:
        return None
    return started, finished


def _timestamp(text: str | None) -> float | None:
    # RFC 3339 with nanoseconds (2026-11-27T12:33:58.123456789Z or +00:00): Python takes micros.
    import re
    from datetime import datetime

    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text or "")
    if not match:
        return None
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    moment = datetime.fromisoformat(f"{match.group(1)}.{fraction}{zone}").timestamp()
    return moment if moment > 0 else None  # the zero time 0001-01-01 means "never"


def _copy_logs(container, log, ended: Callable[[], None]) -> None:
    # Secrets are masked before they land (see orchestrator.k6.log_writer); whole lines go out.
    from orchestrator.secret_mask import active

    masker, pending = active(), b""
    try:
        try:
            for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                out, pending = masker.split_bytes(pending + chunk, final=False)
                log.write(out)
                log.flush()
        except Exception:  # the stream ends with the container; a broken one only loses log lines
            pass
        log.write(masker.mask_bytes(pending))
        log.flush()
    finally:
        ended()


def _stop(container) -> None:
    _quietly(container.kill, signal="SIGINT")
    try:
        container.wait(timeout=STOP_GRACE)
    except Exception:
        _quietly(container.kill, signal="SIGKILL")


def _remove(container) -> None:
    _quietly(container.remove, force=True)


def _quietly(fn, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except Exception:  # cleanup of something already gone
        pass


def _to_container(value: str, cwd: Path, script: Path) -> str:
    """Host paths of the run folder -> the container's mounts."""
    if value == str(script):
        return f"{K6_SCRIPTS}/{script.name}"
    prefix = str(cwd)
    if value == prefix:
        return K6_RESULTS
    if value.startswith(prefix + os.sep):
        return K6_RESULTS + "/" + value[len(prefix) + 1 :]
    for sep in ("=",):  # --out json=/path, K6_..._EXPORT=/path forms
        key, found, rest = value.partition(sep)
        if found and rest.startswith(prefix + os.sep):
            return f"{key}{sep}{_to_container(rest, cwd, script)}"
    return value


def _testid(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv[:-1]):
        if arg == "--tag" and argv[i + 1].startswith("testid="):
            return argv[i + 1].split("=", 1)[1]
    return None


def _host_user() -> str:
    # Files k6 writes into the results folder belong to the user who runs perfctl.
    return f"{os.getuid()}:{os.getgid()}"


# ---- `perfctl clean` and `perfctl rollback` (DockerRuntime.clean_leftovers / rollback_run) ------


def clean_leftovers(known_run_ids: set[str] | None) -> list[str]:
    """k6 containers that ended without their perfctl removing them (it died), and networks
    created for runs; a running container is never touched here (`rollback` stops runs).
    Only of the runs in `known_run_ids` (this config's ledger); None: of every run."""
    if docker_engine.reachable() is not None:
        return []  # no Docker API, so nothing of ours can be left in one
    client = docker_engine.connect()
    removed = []
    try:
        for container in client.containers.list(all=True, filters={"label": LABEL_RUN_ID}):
            if container.status in ("running", "paused", "restarting"):
                continue
            run_id = container.labels.get(LABEL_RUN_ID)
            if known_run_ids is not None and run_id not in known_run_ids:
                continue  # another config's run
            _quietly(container.remove, force=True)
            removed.append(f"removed k6 container {container.name} of run {run_id} ({container.status})")
        for network in client.networks.list(filters={"label": LABEL_RUN_ID}):
            run_id = (network.attrs.get("Labels") or {}).get(LABEL_RUN_ID)
            if known_run_ids is not None and run_id not in known_run_ids:
                continue
            try:
                network.remove()  # refused while a container of a live run is attached
            except Exception:
                continue
            removed.append(f"removed network {network.name} of run {run_id}")
    finally:
        client.close()
    return removed


def rollback_run(run, record, purge: bool) -> list[str]:
    """Stop (gracefully: SIGINT, the summary is written) and remove a run's k6 container."""
    containers = [p.container for p in record.k6.processes if p.container] if record.k6 else []
    container_id = containers[0] if containers else None
    if record.identity.runtime != DockerRuntime.name or not container_id:
        return []
    from docker.errors import NotFound

    client = docker_engine.connect()
    try:
        try:
            container = client.containers.get(container_id)
        except NotFound:
            return []
        was_running = container.status == "running"
        if was_running:
            _stop(container)
        _remove(container)
        return [f"{'stopped and ' if was_running else ''}removed k6 container {container.name}"]
    finally:
        client.close()
