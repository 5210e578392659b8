"""PromQL instant queries with timeouts; an unreachable Prometheus is an EnvironmentProblem."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
        self._client = None

    def _connect(self):
        # Imported here: `perfctl --help` must not pay for requests/urllib3.
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        if self._client is None:
            self._client = PrometheusConnect(
                url=self.url, retry=Retry(total=1, backoff_factor=0.2, status_forcelist=(502, 503, 504))
            )
        return self._client

    def ready(self) -> bool:
        import requests

        try:
            return requests.get(self.url + "/-/ready", timeout=min(self.timeout, 3.0)).status_code == 200
        except requests.RequestException:
            return False

    def query(self, promql: str, *, at: float | None = None) -> list[Sample]:
        """An instant query, pinned to `at` (unix seconds) when given."""
        import requests
        from prometheus_api_client.exceptions import PrometheusApiClientException

        params = {"timeout": f"{self.timeout:g}s"}
        if at is not None:
            params["time"] = f"{at:.3f}"
        try:
            result = self._connect().custom_query(promql, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise EnvironmentProblem(
                f"Prometheus at {self.url} is unreachable ({type(exc).__name__})", hint=UNREACHABLE_HINT
            ) from None
        except PrometheusApiClientException as exc:
            text = str(exc)
            if "HTTP Status Code 400" in text or "HTTP Status Code 422" in text:
                raise QueryRejected(f"Prometheus rejected the query {promql!r}: {_error_text(text)}") from None
            raise EnvironmentProblem(f"Prometheus at {self.url} failed: {text[:200]}", hint=UNREACHABLE_HINT) from None
        return [_sample(item) for item in result]

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


def _sample(item: dict) -> Sample:
    value = item.get("value") or [0, "NaN"]
    try:
        number = float(value[1])
    except (TypeError, ValueError):
        number = math.nan
    return Sample(labels=dict(item.get("metric", {})), value=number)


def _error_text(text: str) -> str:
    import re

    match = re.search(r'"error":"((?:[^"\\]|\\.)*)"', text)
    return match.group(1) if match else text[:200]
