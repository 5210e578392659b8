"""The health gate: no load is sent until the target's health endpoint answers 2xx."""

from __future__ import annotations

import time

from orchestrator.config import Target
from orchestrator.errors import HealthGateFailed


def health_url(target: Target) -> str | None:
    if not target.health_path:
        return None
    return target.base_url.rstrip("/") + "/" + target.health_path.lstrip("/")


def wait_healthy(target: Target, *, interval: float = 0.5) -> str | None:
    """Poll until healthy or target.health_timeout passes; the URL checked, or None if disabled."""
    import requests

    url = health_url(target)
    if url is None:
        return None
    deadline = time.monotonic() + target.health_timeout
    last = "no answer"
    attempts = 0
    while True:
        attempts += 1
        try:
            response = requests.get(url, timeout=min(5.0, max(target.health_timeout, 0.5)), allow_redirects=False)
            if 200 <= response.status_code < 300:
                return url
            last = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise HealthGateFailed(
        f"health gate failed: {url} did not answer 2xx within {target.health_timeout:g}s ({attempts} tries, last: {last}); no load was sent",
        hint="start the target (for the demo: `perfctl demo target`), or fix target.base_url / target.health_path",
    )
