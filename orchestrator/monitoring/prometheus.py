"""PromQL instant queries with timeouts; an unreachable Prometheus is an EnvironmentProblem."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass

from orchestrator.config.env import redact_url
from orchestrator.errors import EnvironmentProblem, UsageError

# The smallest valid remote-write request: a snappy block of an empty WriteRequest (one zero
# byte, "length 0"); Prometheus answers 204 and stores nothing.
EMPTY_WRITE = b"\x00"
REMOTE_WRITE_HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
UNREACHABLE_HINT = "start it with `perfctl start-monitoring`, or fix prometheus.url in perfctl.yaml"


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class QueryRejected(UsageError):
    """Prometheus answered, but refused the PromQL (a bad custom query)."""


CREDENTIALS_HINT = "set prometheus.bearer_token / prometheus.headers in perfctl.yaml, and the variables they name"
TLS_HINT = "set prometheus.ca_file to the CA that signed its certificate (insecure_skip_verify: true only for a test store)"
CLIENTS = ("http_client", "prometheus-api-client")


class Prometheus:
    """`access`: headers, token and TLS of a managed store (prometheus_access.resolve).
    `client`: what sends the API queries: orchestrator.http_client (the default: ~0.3-0.6 ms of
    client CPU a query) or prometheus-api-client's PrometheusConnect on one requests Session
    (3-3.5x that, which misses figure 6's target: bench/results.md); both send the same
    fields, `time` to the millisecond."""

    def __init__(self, url: str, *, timeout: float = 10.0, access=None, client: str = "http_client"):
        from orchestrator.monitoring.access import NO_ACCESS

        if client not in CLIENTS:
            raise ValueError(f"client: one of {CLIENTS}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.access = access or NO_ACCESS
        self.client = client
        self._api = None
        self._quick_api = None  # for ready() and check_remote_write(): a short timeout
        self._connect = None
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings, *, timeout: float | None = None) -> "Prometheus":
        """The client of a config's `prometheus:` (its headers, token and TLS filled in now)."""
        from orchestrator.monitoring.access import resolve

        return cls(settings.url, timeout=settings.query_timeout if timeout is None else timeout,
                   access=resolve(settings), client=settings.client)

    def _new_http(self, timeout: float):
        from orchestrator.http_client import HttpApi

        return HttpApi(self.url, timeout=timeout, headers=self.access.headers, tls=self.access.tls_context())

    def _quick(self):
        """The client of the short checks, built once: its keep-alive connection serves a
        polling loop (a Prometheus starting, a readiness wait) instead of one connection a call."""
        with self._lock:
            if self._quick_api is None:
                self._quick_api = self._new_http(min(self.timeout, 3.0))
        return self._quick_api

    def _http(self):
        # Imported on first use: `perfctl --help` never needs http.client or ssl.
        with self._lock:  # the gate queries from several threads at once
            if self._api is None:
                try:
                    # The client waits a little longer than Prometheus's own query timeout, so
                    # Prometheus's answer ("query timed out in ...") is what the user reads.
                    self._api = self._new_http(self.timeout + 2)
                except ValueError as exc:
                    raise UsageError(f"prometheus.url: {exc}") from None
        return self._api

    def _post(self, path: str, fields: dict[str, str]):
        from orchestrator.http_client import Unreachable

        try:
            return self._http().post_form(path, fields)
        except Unreachable as exc:
            raise EnvironmentProblem(
                f"Prometheus at {redact_url(self.url)} is unreachable ({exc})", hint=UNREACHABLE_HINT
            ) from None

    def ready(self) -> bool:
        """True when it answers; an answer refusing perfctl's credentials (401, 403) is an
        EnvironmentProblem rather than "not running": nothing should start in its place."""
        from orchestrator.http_client import Unreachable

        try:
            api = self._quick()
            answer = api.get("/-/ready")
            if answer.status == 404:
                # Mimir, Cortex, Thanos serve the query API under the URL, not Prometheus's /-/ready.
                answer = api.post_form("/api/v1/query", {"query": "vector(1)"})
        except Unreachable as exc:
            if "CERTIFICATE" in str(exc).upper():  # it answers, but perfctl cannot trust it: say which setting helps
                raise EnvironmentProblem(f"Prometheus at {redact_url(self.url)}: TLS failed ({exc})", hint=TLS_HINT) from None
            return False
        except ValueError:
            return False
        self._refused(answer, "the query API")
        return answer.status == 200

    def check_remote_write(self) -> None:
        """k6 pushes its metrics to /api/v1/write: refused there, a run would judge nothing of k6's.
        Sends an empty write request (snappy of nothing: one zero byte), which stores nothing;
        EnvironmentProblem when the store refuses perfctl's credentials, has no receiver, or
        refuses the write."""
        from orchestrator.http_client import Unreachable

        try:
            answer = self._quick().post("/api/v1/write", EMPTY_WRITE, REMOTE_WRITE_HEADERS)
        except Unreachable as exc:
            raise EnvironmentProblem(
                f"Prometheus at {redact_url(self.url)} is unreachable ({exc})", hint=UNREACHABLE_HINT
            ) from None
        except ValueError as exc:
            raise UsageError(f"prometheus.url: {exc}") from None
        self._refused(answer, "remote write")
        if 200 <= answer.status < 300:
            return
        where = redact_url(self.url)
        if answer.status == 404:
            raise EnvironmentProblem(
                f"Prometheus at {where} does not accept remote writes (HTTP 404 on /api/v1/write), "
                "so k6 could not send its metrics",
                hint="start it with --web.enable-remote-write-receiver (perfctl's own Prometheus has it)",
            )
        raise EnvironmentProblem(
            f"Prometheus at {where} refused a remote write: HTTP {answer.status} {_error_text(answer.body)}".rstrip(),
            hint="k6 sends its metrics there; check that prometheus.url is a Prometheus with the remote-write receiver on",
        )

    def _refused(self, answer, side: str) -> None:
        if answer.status in (401, 403):
            sent = ", ".join(sorted(self.access.headers)) or "no credentials"
            raise EnvironmentProblem(
                f"Prometheus at {redact_url(self.url)} refused {side}: HTTP {answer.status} "
                f"(perfctl sent {sent}) {_error_text(answer.body)}".rstrip(),
                hint=CREDENTIALS_HINT,
            )

    def reload(self) -> None:
        """Asks Prometheus to re-read its configuration; a failure keeps the old scrape config,
        which the gate's target_up objective notices."""
        from orchestrator.http_client import Unreachable

        try:
            self._http().post_form("/-/reload", {})
        except Unreachable:
            pass

    def query(self, promql: str, *, at: float | None = None) -> list[Sample]:
        """An instant query, pinned to `at` (unix seconds) when given."""
        return [_sample(item) for item in self._instant(promql, at)]

    def sample_times(self, selector: str, *, at: float) -> list[tuple[dict[str, str], list[float]]]:
        """The raw samples' timestamps of a range selector (`metric{...}[30s]`), per series."""
        return [
            (dict(item.get("metric", {})), [float(t) for t, _ in item.get("values", [])])
            for item in self._instant(selector, at)
        ]

    def _instant(self, promql: str, at: float | None) -> list[dict]:
        fields = {"query": promql, "timeout": f"{self.timeout:g}s"}
        if at is not None:
            fields["time"] = f"{at:.3f}"
        return self._api_result("/api/v1/query", fields)

    def _api_result(self, path: str, fields: dict[str, str]) -> list[dict]:
        if self.client == "prometheus-api-client":
            return self._via_connect().result(path, fields)
        return self._result(fields["query"], self._post(path, fields))

    def _via_connect(self):
        from orchestrator.monitoring.connect import ConnectQueries

        with self._lock:
            if self._connect is None:
                self._connect = ConnectQueries(self.url, self.access, timeout=self.timeout + 2, on_answer=self._result)
        return self._connect

    def query_range(self, promql: str, *, start: float, end: float, step: float) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """A range query: (labels, [(unix seconds, value), ...]) per series; for report charts."""
        fields = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{max(step, 0.001):.3f}",
                  "timeout": f"{self.timeout:g}s"}
        series = []
        for item in self._api_result("/api/v1/query_range", fields):
            points = []
            for t, v in item.get("values", []):
                try:
                    points.append((float(t), float(v)))
                except (TypeError, ValueError):
                    continue
            series.append((dict(item.get("metric", {})), points))
        return series

    def _result(self, promql: str, answer) -> list[dict]:
        """data.result of an API answer; a refused query is the user's (exit 2), anything else the environment's."""
        self._refused(answer, "the query")
        if answer.status in (400, 422):
            raise QueryRejected(f"Prometheus rejected the query {promql!r}: {_error_text(answer.body)}")
        if answer.status != 200:
            raise EnvironmentProblem(
                f"Prometheus at {redact_url(self.url)} failed: HTTP {answer.status} {_error_text(answer.body)}",
                hint=UNREACHABLE_HINT,
            )
        try:
            payload = json.loads(answer.body)
        except ValueError:
            raise EnvironmentProblem(
                f"Prometheus at {redact_url(self.url)} answered with something that is not JSON "
                f"(is prometheus.url a Prometheus?)", hint=UNREACHABLE_HINT,
            ) from None
        result = payload.get("data", {}).get("result", []) if isinstance(payload, dict) else []
        return result if isinstance(result, list) else []

    def scalar(self, promql: str, *, at: float | None = None) -> float | None:
        """The single value of a query; None when it returns nothing (or only NaN)."""
        samples = [s for s in self.query(promql, at=at) if not math.isnan(s.value)]
        if not samples:
            return None
        if len(samples) > 1:
            raise QueryRejected(
                f"the query returned {len(samples)} series, the gate needs one (aggregate it, e.g. with sum or max): {promql}"
            )
        return samples[0].value

    def active_targets(self) -> list[dict]:
        """/api/v1/targets' active targets (scrapePool, scrapeUrl, health, lastScrape, lastError)."""
        from orchestrator.http_client import Unreachable

        try:
            answer = self._http().get("/api/v1/targets", {"state": "active"})
        except Unreachable as exc:
            raise EnvironmentProblem(
                f"Prometheus at {redact_url(self.url)} is unreachable ({exc})", hint=UNREACHABLE_HINT
            ) from None
        if answer.status != 200:
            raise EnvironmentProblem(
                f"Prometheus at {redact_url(self.url)} failed: HTTP {answer.status} {_error_text(answer.body)}",
                hint=UNREACHABLE_HINT,
            )
        try:
            targets = json.loads(answer.body)["data"]["activeTargets"]
        except (ValueError, KeyError, TypeError):
            targets = None
        if not isinstance(targets, list):
            raise EnvironmentProblem(
                f"Prometheus at {redact_url(self.url)} answered /api/v1/targets with something unexpected "
                "(is prometheus.url a Prometheus?)", hint=UNREACHABLE_HINT,
            )
        return [t for t in targets if isinstance(t, dict)]

    def remote_write(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """POSTs a remote-write request to /api/v1/write: (HTTP status, Prometheus's error text)."""
        from orchestrator.http_client import Unreachable

        try:
            answer = self._http().post("/api/v1/write", body, headers)
        except Unreachable as exc:
            raise EnvironmentProblem(
                f"Prometheus at {redact_url(self.url)} is unreachable ({exc})", hint=UNREACHABLE_HINT
            ) from None
        return answer.status, _error_text(answer.body) if answer.status >= 300 else ""


def _sample(item: dict) -> Sample:
    value = item.get("value") or [0, "NaN"]
    try:
        number = float(value[1])
    except (TypeError, ValueError):
        number = math.nan
    return Sample(labels=dict(item.get("metric", {})), value=number)


def _error_text(body: bytes) -> str:
    """Prometheus's own `error` text of an API answer, else the start of the body."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    return str(error) if error else body[:200].decode("utf-8", "replace").strip()
