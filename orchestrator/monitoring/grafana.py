"""Grafana's admin password and the links into its provisioned dashboards."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlencode

# uids of the dashboards in monitoring/grafana/dashboards/ (a test keeps them in step).
K6_DASHBOARD_UID = "perfctl-k6"
BACKEND_DASHBOARD_UID = "perfctl-backend-slo"
OBJECTIVES_DASHBOARD_UID = "perfctl-objectives"  # generated from the config by dashboards.py


def password_file(state_dir: Path) -> Path:
    return state_dir / "grafana" / "admin-password"


def admin_password(state_dir: Path) -> str:
    """The stored admin password, generated (mode 0600) on first use; never admin/admin."""
    path = password_file(state_dir)
    try:
        stored = path.read_text().strip()
    except FileNotFoundError:
        stored = ""
    if stored:
        return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    # Created with 0600 from the start: the password is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    return password


def answers(base_url: str, *, timeout: float = 2.0) -> bool:
    """Whether a Grafana answers its health endpoint with a working database."""
    import json

    from orchestrator.http_client import HttpApi, Unreachable

    try:
        answer = HttpApi(base_url, timeout=timeout).get("/api/health")
        return answer.status == 200 and json.loads(answer.body).get("database") == "ok"
    except (Unreachable, ValueError, AttributeError):
        return False


def dashboard_url(base_url: str, *, testid: str | None, start_ms: int | None = None, end_ms: int | None = None) -> str:
    """The k6 results dashboard, filtered to one run's test id and its time range."""
    params: dict[str, str] = {}
    if testid:
        params["var-testid"] = testid
    if start_ms is not None:
        params["from"] = str(start_ms)
        params["to"] = str(end_ms) if end_ms is not None else "now"
    else:
        params["from"] = "now-1h"
        params["to"] = "now"
    return f"{base_url.rstrip('/')}/d/{K6_DASHBOARD_UID}/perfctl-k6-results?{urlencode(params)}"
