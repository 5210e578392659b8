"""PromQL instant queries with timeouts; an unreachable Prometheus is an EnvironmentProblem."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass

from orchestrator.config import redact_url
from orchestrator.errors import EnvironmentProblem, UsageError

UNREACHABLE_HINT = "start it with `perfctl start-monitoring`, or fix prometheus.url in perfctl.yaml"


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class QueryRejected(UsageError):
    """Prometheus answered, but refused the PromQL (a bad custom query)."""


class Prometheus:
    def __init__(self, url: str, *, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._api = None
        self._lock = threading.Lock()

    def _http(self):
        # Imported on first use: `perfctl --help` never needs http.client or ssl.
        from orchestrator.http_client import HttpApi

        with self._lock:  # the gate queries from several threads at once
            if self._api is None:
                try:
                    # The client waits a little longer than Prometheus's own query timeout, so
                    # Prometheus's answer ("query timed out in ...") is what the user reads.
                    self._api = HttpApi(self.url, timeout=self.timeout + 2)
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
        from orchestrator.http_client import HttpApi, Unreachable

        try:
            return HttpApi(self.url, timeout=min(self.timeout, 3.0)).get("/-/ready").status == 200
        except (Unreachable, ValueError):
            return False

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
        return self._result(promql, self._post("/api/v1/query", fields))

    def query_range(self, promql: str, *, start: float, end: float, step: float) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """A range query: (labels, [(unix seconds, value), ...]) per series; for report charts."""
        fields = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{max(step, 0.001):.3f}",
                  "timeout": f"{self.timeout:g}s"}
        series = []
        for item in self._result(promql, self._post("/api/v1/query_range", fields)):
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
