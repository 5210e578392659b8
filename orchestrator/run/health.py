"""The health gate: no load is sent until the target's health endpoint answers 2xx."""

from __future__ import annotations

import time
import urllib.parse

from orchestrator.config.env import expand_env, redact_url
from orchestrator.config.settings import Target
from orchestrator.errors import HealthGateFailed, UsageError


def health_url(target: Target) -> str | None:
    """The URL to request, `${VAR}` in target.base_url filled in from the environment: it may
    carry a password, so it is for requesting only; show `shown_url` of it instead."""
    if not target.health_path:
        return None
    base = expand_env(target.base_url, field="target.base_url")
    return base.rstrip("/") + "/" + target.health_path.lstrip("/")


def shown_url(url: str) -> str:
    """A URL as printed: without the password a `user:password@` would show."""
    return redact_url(url)


def wait_healthy(target: Target, *, interval: float = 0.5) -> str | None:
    """Poll until healthy or target.health_timeout passes; the URL checked (password redacted,
    fit to print), or None if disabled."""
    from orchestrator.http_client import HttpApi, Unreachable

    url = health_url(target)
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url)
    try:
        api = HttpApi(f"{parts.scheme}://{parts.netloc}", timeout=min(5.0, max(target.health_timeout, 0.5)))
    except ValueError as exc:
        raise UsageError(f"target.base_url: {exc}") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + target.health_timeout
    last = "no answer"
    attempts = 0
    while True:
        attempts += 1
        try:
            status = api.get(path).status
            if 200 <= status < 300:
                return shown_url(url)
            last = f"HTTP {status}"
        except Unreachable as exc:
            last = str(exc).split(":")[0]  # the error's kind (ConnectionRefusedError, timeout, ...)
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise HealthGateFailed(
        f"health gate failed: {shown_url(url)} did not answer 2xx within {target.health_timeout:g}s ({attempts} tries, last: {last}); no load was sent",
        hint="start the target (for the demo: `perfctl demo target`), or fix target.base_url / target.health_path",
    )
