"""PromQL instant queries with timeouts; an unreachable Prometheus is an EnvironmentProblem."""

from __future__ import annotations

import math
import os
import threading
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
        self._lock = threading.Lock()

    def _connect(self):
        # Imported here: `perfctl --help` must not pay for requests/urllib3.
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        with self._lock:  # the gate queries from several threads at once
            if self._client is None:
                self._client = PrometheusConnect(
                    url=self.url, retry=Retry(total=1, backoff_factor=0.2, status_forcelist=(502, 503, 504)),
                    session=_session(self.url),
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
        return [_sample(item) for item in self._instant(promql, at)]

    def sample_times(self, selector: str, *, at: float) -> list[tuple[dict[str, str], list[float]]]:
        """The raw samples' timestamps of a range selector (`metric{...}[30s]`), per series."""
        return [
            (dict(item.get("metric", {})), [float(t) for t, _ in item.get("values", [])])
            for item in self._instant(selector, at)
        ]

    def _instant(self, promql: str, at: float | None) -> list[dict]:
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
        return result

    def query_range(self, promql: str, *, start: float, end: float, step: float) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """A range query: (labels, [(unix seconds, value), ...]) per series; for report charts."""
        import requests

        params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{max(step, 0.001):.3f}",
                  "timeout": f"{self.timeout:g}s"}
        try:
            resp = requests.get(self.url + "/api/v1/query_range", params=params, timeout=self.timeout + 2)
        except requests.RequestException as exc:
            raise EnvironmentProblem(
                f"Prometheus at {self.url} is unreachable ({type(exc).__name__})", hint=UNREACHABLE_HINT
            ) from None
        if resp.status_code in (400, 422):
            raise QueryRejected(f"Prometheus rejected the query {promql!r}: {_error_text(resp.text)}")
        if resp.status_code != 200:
            raise EnvironmentProblem(f"Prometheus at {self.url} failed: HTTP {resp.status_code}", hint=UNREACHABLE_HINT)
        series = []
        for item in resp.json().get("data", {}).get("result", []):
            points = []
            for t, v in item.get("values", []):
                try:
                    points.append((float(t), float(v)))
                except (TypeError, ValueError):
                    continue
            series.append((dict(item.get("metric", {})), points))
        return series

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


def _session(url: str):
    """A requests session that reads the environment (proxies, NO_PROXY, netrc, CA bundle) once.

    By default requests re-reads os.environ on every request; for the gate's 20+ concurrent
    queries that was about a third of its CPU (bench/, figure 6). Same settings, read once.
    """
    import requests

    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(url))
    auth = requests.utils.get_netrc_auth(url)
    if auth:
        session.auth = auth
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    return session


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
