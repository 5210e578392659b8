"""One hour of synthetic k6 and backend series at 1 s resolution, backfilled into a fresh
Prometheus data dir with `promtool tsdb create-blocks-from openmetrics`."""

from __future__ import annotations

import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

REQUEST_NAMES = ("send_message", "history", "health")
CHECKS = ("send_message: status in 201", "history: status in 200", "health: status 2xx/3xx")


@dataclass(frozen=True)
class Series:
    metric: str
    labels: dict[str, str]
    value: Callable[[int], float | None]  # second index -> value; None: no sample that second


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def k6_series(testid: str) -> list[Series]:
    base = {"testid": testid, "scenario": "chat-http"}
    out = [Series("k6_vus", base, lambda i: 50.0),
           Series("k6_iterations_total", base, lambda i: 80.0 * (i + 1)),
           Series("k6_dropped_iterations_total", base, lambda i: float(i // 600)),
           Series("k6_ws_connecting_p95", base, lambda i: 0.002 + 0.0005 * math.sin(i / 60)),
           Series("k6_ws_reply_success_rate", base, lambda i: 0.999)]
    for n, name in enumerate(REQUEST_NAMES):
        tags = {**base, "name": name, "method": "GET", "status": "200"}
        rate = 40.0 / (n + 1)
        out += [
            Series("k6_http_reqs_total", {**tags, "expected_response": "true"}, lambda i, r=rate: r * (i + 1)),
            Series("k6_http_reqs_total", {**tags, "expected_response": "false", "status": "500"}, lambda i, r=rate: float(int(r * (i + 1) / 1000))),
            Series("k6_http_req_duration_p95", tags, lambda i, n=n: 0.05 + 0.01 * n + 0.005 * math.sin(i / 90)),
            Series("k6_http_req_duration_p99", tags, lambda i, n=n: 0.09 + 0.01 * n + 0.01 * math.sin(i / 70)),
            Series("k6_checks_rate", {**base, "check": CHECKS[n]}, lambda i: 0.999),
        ]
    return out


def backend_series(job: str) -> list[Series]:
    base = {"job": job, "instance": "127.0.0.1:8080"}
    out = [Series("up", base, lambda i: 1.0),
           Series("backend_loop_hz", base, lambda i: 100.0 - (3.0 if i % 300 == 0 else 0.0)),
           Series("backend_loop_iterations_total", base, lambda i: 100.0 * (i + 1)),
           Series("websocket_connections_active", base, lambda i: 40.0 + 5 * math.sin(i / 50))]
    for group in ("chat-consumer", "audit-consumer"):
        for partition in range(4):
            out.append(Series("kafka_consumergroup_lag", {**base, "consumergroup": group, "topic": "chat-messages",
                                                          "partition": str(partition)},
                              lambda i, p=partition: float((i * 7 + p * 13) % 40)))
    for route, status in (("/api/messages", "201"), ("/api/v1/conversations/{id}/messages", "200"), ("/health", "200")):
        out.append(Series("http_requests_total", {**base, "method": "GET", "route": route, "status": status},
                          lambda i: 30.0 * (i + 1)))
    return out


def openmetrics_lines(series: list[Series], start: int, seconds: int) -> Iterator[str]:
    """Families contiguous, every series' samples in time order, `# EOF` last."""
    families: dict[str, list[Series]] = {}
    for s in series:
        families.setdefault(s.metric, []).append(s)
    for metric, members in families.items():
        yield f"# TYPE {metric} gauge\n"  # gauge: OpenMetrics counters would need the _total suffix split off
        for s in members:
            prefix = metric + _labels(s.labels) + " "
            for i in range(seconds):
                value = s.value(i)
                if value is not None:
                    yield f"{prefix}{value:.6g} {start + i}\n"
    yield "# EOF\n"


def backfill(data_dir: Path, work: Path, series: list[Series], *, start: int, seconds: int) -> Path:
    """Write the OpenMetrics file and turn it into TSDB blocks in `data_dir`."""
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    source = work / "synthetic.om"
    with open(source, "w") as fh:
        fh.writelines(openmetrics_lines(series, start, seconds))
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
                   check=True, capture_output=True, timeout=600)
    source.unlink()
    return data_dir
