"""The connection to a Docker API (Docker Engine, or Podman's compatible service).

One place turns "no engine" and "image missing" into EnvironmentProblems with a hint,
so the docker runtime and the monitoring stack fail the same clear way.
"""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.errors import EnvironmentProblem

# Where scripts/docker-api puts Podman's service when DOCKER_HOST is not set.
PERFCTL_PODMAN_SOCKET = Path(os.environ.get("PERFCTL_DOCKER_API_DIR", "/run/perfctl-docker-api")) / "podman.sock"
ENGINE_HINT = (
    "start Docker (or Podman's API: scripts/docker-api prints the DOCKER_HOST to export), "
    "or use --runtime local"
)


def docker_host() -> str | None:
    """DOCKER_HOST, else the socket scripts/docker-api starts, else the SDK's default."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    if PERFCTL_PODMAN_SOCKET.exists() and not Path("/var/run/docker.sock").exists():
        return f"unix://{PERFCTL_PODMAN_SOCKET}"
    return None


# The API version each engine named, by DOCKER_HOST, for this process: a new client asks
# the engine (GET /version) unless told, and Podman takes ~0.3 s to answer; a docker run
# connects several times (the image's ID, the run, the monitoring stack). Not kept across
# processes: the engine may be upgraded in between.
_api_versions: dict[str | None, str] = {}


def connect(timeout: float = 30.0):
    """A docker SDK client that has answered a ping."""
    import docker
    from docker.errors import DockerException

    host = docker_host()
    version = _api_versions.get(host, "auto")
    try:
        client = (docker.DockerClient(base_url=host, timeout=int(timeout), version=version) if host
                  else docker.from_env(timeout=int(timeout), version=version))
        client.ping()
    except DockerException as exc:
        where = host or "the default socket"
        raise EnvironmentProblem(f"no Docker API answers at {where}: {short_error(exc)}", hint=ENGINE_HINT) from None
    _api_versions[host] = client.api.api_version
    return client


def reachable() -> str | None:
    """None if a Docker API answers; otherwise why not (for test skips and `doctor`)."""
    try:
        connect(timeout=5).close()
    except EnvironmentProblem as exc:
        return exc.message
    return None


def require_image(client, image: str):
    """The image (the SDK's Image), here or pulled; otherwise an EnvironmentProblem naming it."""
    from docker.errors import APIError, ImageNotFound

    try:
        return client.images.get(image)
    except ImageNotFound:
        pass
    except APIError as exc:
        raise EnvironmentProblem(f"cannot inspect image {image}: {short_error(exc)}") from None
    try:
        client.images.pull(image)
        return client.images.get(image)
    except APIError as exc:
        raise EnvironmentProblem(
            f"image {image} is not on this machine and cannot be pulled: {short_error(exc)}",
            hint="docker pull it where the network allows, or point the config's image at a local one "
            "(scripts/docker-api builds localhost/perfctl-k6 and localhost/perfctl-prometheus)",
        ) from None


def last_log_lines(container, count: int = 20) -> list[str]:
    try:
        text = container.logs(tail=count).decode("utf-8", "replace")
    except Exception:  # the container may be gone already; the lines are only a help
        return []
    return [line for line in text.splitlines() if line.strip()][-count:]


def short_error(exc: Exception) -> str:
    text = str(getattr(exc, "explanation", None) or exc)
    return text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__
