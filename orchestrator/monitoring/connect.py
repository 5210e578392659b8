"""The gate's queries through prometheus-api-client (the client the project's design names).

One PrometheusConnect on one requests Session per Prometheus client, so a run keeps one
connection pool; headers, token and TLS come from prometheus_access. The fields are the ones
orchestrator.http_client sends (`time`, `start`, `end` as unix seconds to the millisecond):
PrometheusConnect's own range call rounds datetimes to whole seconds, so the exact values go
in `params`, which it sends last. Imported only when chosen (bench/ figure 6 measures both).
"""

from __future__ import annotations

import ast
import re
from datetime import datetime, timezone
from typing import Callable

from orchestrator.config.env import redact_url
from orchestrator.errors import EnvironmentProblem
from orchestrator.http_client import RETRY_PAUSE, RETRY_STATUSES, Answer


class ConnectQueries:
    def __init__(self, url: str, access, *, timeout: float, on_answer: Callable[[str, Answer], list[dict]]):
        import requests
        from urllib3.util.retry import Retry

        try:
            from prometheus_api_client import PrometheusConnect
        except ImportError:
            raise EnvironmentProblem(
                "prometheus.client is prometheus-api-client, which is not installed",
                hint="pip install 'perfctl[prometheus-api-client]', or remove prometheus.client (the default needs nothing)",
            ) from None

        self.url = url
        session = requests.Session()
        session.verify = access.verify
        session.headers.update(access.headers)
        # The retry http_client makes: one, after a pause, on a dropped connection or a 502/503/504.
        retry = Retry(total=1, backoff_factor=RETRY_PAUSE, status_forcelist=RETRY_STATUSES, allowed_methods=None,
                      raise_on_status=False)
        self._connect = PrometheusConnect(url, session=session, retry=retry, timeout=timeout, method="POST")
        self._on_answer = on_answer

    def result(self, path: str, fields: dict[str, str]) -> list[dict]:
        from prometheus_api_client import PrometheusApiClientException
        import requests

        params = {k: v for k, v in fields.items() if k != "query"}
        try:
            if path == "/api/v1/query":
                return self._connect.custom_query(fields["query"], params=params)
            start, end = (datetime.fromtimestamp(float(fields[k]), timezone.utc) for k in ("start", "end"))
            return self._connect.custom_query_range(fields["query"], start_time=start, end_time=end,
                                                    step=fields["step"], params=params)
        except PrometheusApiClientException as exc:
            return self._on_answer(fields["query"], _answer_of(exc))
        except requests.exceptions.JSONDecodeError:  # a 200 that is not JSON (also a RequestException)
            return self._on_answer(fields["query"], Answer(200, b""))
        except requests.RequestException as exc:
            raise EnvironmentProblem(
                f"Prometheus at {redact_url(self.url)} is unreachable ({type(exc).__name__})",
                hint="start it with `perfctl start-monitoring`, or fix prometheus.url in perfctl.yaml",
            ) from None
        except ValueError:  # a 200 that is not JSON
            return self._on_answer(fields["query"], Answer(200, b""))

    def close(self) -> None:
        self._connect.close()


def _answer_of(exc: Exception) -> Answer:
    """PrometheusConnect reports a non-200 as text: `HTTP Status Code 400 (b'...')`."""
    match = re.match(r"HTTP Status Code (\d+) \((b(['\"]).*\3)\)$", str(exc), re.DOTALL)
    if not match:
        return Answer(0, str(exc).encode())
    try:
        body = ast.literal_eval(match.group(2))
    except (ValueError, SyntaxError):
        body = b""
    return Answer(int(match.group(1)), body)
