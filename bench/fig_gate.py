"""Figure 6, gate speed: orchestrator.verdict.gate.evaluate with 20 objectives over a 1-hour window
at 1 s resolution, against the sum of Prometheus's own times for the same queries."""

from __future__ import annotations

import time

import requests

from bench import servers
from bench.context import BenchContext
from bench.stats import FigureResult, Headline, Row, Summary, Target, pairwise_ratios
from bench.synthetic_tsdb import backend_series, backfill, k6_series
from orchestrator.verdict import gate
from orchestrator.config.model import Config
from orchestrator.monitoring.prometheus import Prometheus

TESTID = "bench-gate"
WINDOW_SECONDS = 3600
TARGET = Target("<=", 1.2)
HTTP_CLIENT, API_CLIENT = "http_client", "prometheus-api-client"

BUILTINS = [
    ("error_ratio", "< 0.01", None), ("http_p95", "< 0.5", None), ("http_p99", "< 1", None), ("checks", ">= 0.99", None),
    ("requests_per_second", "> 1", None), ("ws_connect_p95", "< 0.1", None), ("ws_message_success", ">= 0.99", None),
    ("dropped_iterations", "< 100", None), ("loop_rate_min", ">= 95", "backend"), ("kafka_lag_max", "< 500", "backend"),
    ("target_up", ">= 1", "backend"),
]
CUSTOM = [
    ("loop_hz_avg", 'avg_over_time(backend_loop_hz{job="$job"}[$window])', ">= 95", "backend"),
    ("loop_rate_p1", 'quantile_over_time(0.01, rate(backend_loop_iterations_total{job="$job"}[$rate_range])[$window:$step])', ">= 90", "backend"),
    ("lag_partition_max", 'max(max_over_time(kafka_consumergroup_lag{job="$job"}[$window]))', "< 500", "backend"),
    ("lag_growth", 'max(deriv(sum by (consumergroup) (kafka_consumergroup_lag{job="$job"})[$window:$step]))', "< 1", "backend"),
    ("backend_requests", 'sum(increase(http_requests_total{job="$job"}[$window]))', "> 0", "backend"),
    ("ws_open_max", 'max_over_time(websocket_connections_active{job="$job"}[$window])', "< 1000", "backend"),
    ("errors_total", 'sum(last_over_time(k6_http_reqs_total{testid="$testid",expected_response="false"}[$window])) or vector(0)', "< 1000", None),
    ("send_p95", 'max(last_over_time(k6_http_req_duration_p95{testid="$testid",name="send_message"}[$window]))', "< 0.5", None),
    ("vus_peak", 'max(max_over_time(k6_vus{testid="$testid"}[$window]))', "<= 50", None),
]


def gate_config(prometheus_url: str) -> Config:
    objectives = [{"name": f"b_{sli}", "sli": sli, "pass": crit, **({"job": job} if job else {})} for sli, crit, job in BUILTINS]
    objectives += [{"name": name, "query": q, "pass": crit, **({"job": job} if job else {})} for name, q, crit, job in CUSTOM]
    return Config.model_validate({
        "name": "bench-gate",
        "prometheus": {"url": prometheus_url, "scrape_interval": "1s", "manage": False},
        "k6": {"push_interval": "1s"},
        "scenarios": {"chat-http": {"vus": 1, "duration": "1h", "requests": [{"name": "health", "path": "/health"}]}},
        "objectives": objectives,
    })


class RecordingPrometheus(Prometheus):
    """The gate's own client, noting every query it sends (to replay them one by one)."""

    def __init__(self, url: str, client: str = "http_client"):
        super().__init__(url, timeout=60, client=client)
        self.sent: list[tuple[str, float | None]] = []

    def _instant(self, promql, at):  # every instant query, the data-gap checks' raw samples included
        self.sent.append((promql, at))
        return super()._instant(promql, at)


def prometheus_time(session: requests.Session, url: str, promql: str, at: float | None) -> tuple[float, float]:
    """(Prometheus's own execTotalTime, the request's wall time) of one query sent alone."""
    params = {"query": promql, "stats": "all"}
    if at is not None:
        params["time"] = f"{at:.3f}"
    started = time.perf_counter()
    resp = session.get(url + "/api/v1/query", params=params, timeout=60)
    wall = time.perf_counter() - started
    resp.raise_for_status()
    timings = resp.json()["data"]["stats"]["timings"]
    return float(timings["execTotalTime"]), wall


def evaluate_once(config: Config, url: str, window: gate.Window, client: str = "http_client") -> tuple[float, gate.GateResult, RecordingPrometheus]:
    prom = RecordingPrometheus(url, client)
    started = time.perf_counter()
    result = gate.evaluate(config, prom, run_id=TESTID, scenario="chat-http", window=window)
    return time.perf_counter() - started, result, prom


def client_cpu_per_query(config: Config, url: str, window: gate.Window, client: str) -> tuple[float, float]:
    """(gate wall, this process's CPU per query sent) of one gate.evaluate through `client`:
    Prometheus is another process, so the CPU here is the client's (threads included)."""
    cpu = time.process_time()
    wall, _, prom = evaluate_once(config, url, window, client)
    return wall, (time.process_time() - cpu) / max(len(prom.sent), 1)


def client_alone_cpu(url: str, client: str, queries: list[tuple[str, float | None]], rounds: int) -> float:
    """This process's CPU per query of the gate's queries sent one after another through
    `client` alone (no gate around it), after a warm-up round."""
    prom = Prometheus(url, timeout=60, client=client)
    for promql, at in queries:
        prom.query(promql, at=at)
    cpu = time.process_time()
    for _ in range(rounds):
        for promql, at in queries:
            prom.query(promql, at=at)
    return (time.process_time() - cpu) / (rounds * len(queries))


def run(ctx: BenchContext) -> FigureResult:
    fig = FigureResult("gate", "Gate speed: 20 objectives over a 1-hour window at 1 s resolution")
    home = ctx.dir("gate")
    end = int(time.time()) - 120  # in the past: every sample is in a backfilled block
    start = end - WINDOW_SECONDS
    series = k6_series(TESTID) + backend_series("backend")
    for other in range(3):  # other runs' series in the same hour: the selectors must skip them
        series += k6_series(f"other-run-{other}")
    backfill(home / "data", home, series, start=start, seconds=WINDOW_SECONDS + 1)
    fig.notes.append(f"{len(series)} series × {WINDOW_SECONDS + 1} samples (1 s apart) backfilled with promtool; "
                     f"{len(BUILTINS)} built-in and {len(CUSTOM)} custom PromQL objectives, window {WINDOW_SECONDS} s.")
    window = gate.Window(start + 0.5, end)
    with servers.prometheus(home, data=home / "data") as server:
        config = gate_config(server.base_url)
        session = requests.Session()
        _, result, recorder = evaluate_once(config, server.base_url, window)  # warm-up (page cache, chunk decoding)
        missing = [g.name for g in result.verdict.grades if g.value is None]
        if missing:
            fig.notes.append(f"objectives without a value (check the synthetic data): {', '.join(missing)}")
        queries = list(recorder.sent)
        for promql, at in queries:
            prometheus_time(session, server.base_url, promql, at)
        evaluate_once(config, server.base_url, window, API_CLIENT)  # its warm-up: imports, session
        gate_walls, own_sums, alone_sums = [], [], []
        cpu = {HTTP_CLIENT: [], API_CLIENT: []}
        client_only = {HTTP_CLIENT: [], API_CLIENT: []}
        api_walls = []
        for _ in range(ctx.reps(5, 2)):
            own, alone = zip(*(prometheus_time(session, server.base_url, q, at) for q, at in queries))
            own_sums.append(sum(own))
            alone_sums.append(sum(alone))
            # The two clients alternate, so both see the same machine load.
            wall, per_query = client_cpu_per_query(config, server.base_url, window, HTTP_CLIENT)
            gate_walls.append(wall)
            cpu[HTTP_CLIENT].append(per_query)
            wall, per_query = client_cpu_per_query(config, server.base_url, window, API_CLIENT)
            api_walls.append(wall)
            cpu[API_CLIENT].append(per_query)
            for client in (HTTP_CLIENT, API_CLIENT):
                client_only[client].append(client_alone_cpu(server.base_url, client, queries, ctx.reps(4, 1)))
    fig.headlines.append(Headline("gate.evaluate wall / Σ Prometheus execTotalTime", Summary.of(pairwise_ratios(gate_walls, own_sums)), TARGET))
    fig.rows += [
        Row("gate.evaluate (20 objectives + data-gap checks): wall", Summary.of([w * 1000 for w in gate_walls]), "ms"),
        Row(f"Σ Prometheus execTotalTime of the same {len(queries)} queries, one at a time", Summary.of([s * 1000 for s in own_sums]), "ms"),
        Row("Σ wall of the same queries over HTTP, one at a time", Summary.of([s * 1000 for s in alone_sums]), "ms"),
        Row("gate wall / Σ HTTP wall one at a time", Summary.of(pairwise_ratios(gate_walls, alone_sums)), "×"),
        Row("client CPU per query, the client alone: http_client", Summary.of([c * 1000 for c in client_only[HTTP_CLIENT]]), "ms"),
        Row("client CPU per query, the client alone: prometheus-api-client (PrometheusConnect, one Session)",
            Summary.of([c * 1000 for c in client_only[API_CLIENT]]), "ms"),
        Row("client CPU per query alone: prometheus-api-client / http_client",
            Summary.of(pairwise_ratios(client_only[API_CLIENT], client_only[HTTP_CLIENT])), "×"),
        Row("gate CPU per query (gate.evaluate's CPU / queries): http_client (the gate's)", Summary.of([c * 1000 for c in cpu[HTTP_CLIENT]]), "ms"),
        Row("gate CPU per query: prometheus-api-client", Summary.of([c * 1000 for c in cpu[API_CLIENT]]), "ms"),
        Row("gate CPU per query: prometheus-api-client / http_client",
            Summary.of(pairwise_ratios(cpu[API_CLIENT], cpu[HTTP_CLIENT])), "×"),
        Row("gate.evaluate wall via prometheus-api-client / Σ Prometheus execTotalTime (target <= 1.2 if it were the gate's)",
            Summary.of(pairwise_ratios(api_walls, own_sums)), "×"),
    ]
    fig.extra["queries_sent_by_the_gate"] = len(queries)
    fig.commands += [
        "promtool tsdb create-blocks-from openmetrics synthetic.om data/   # bench/synthetic_tsdb.py writes synthetic.om",
        "prometheus --storage.tsdb.path=data/ ...; python: orchestrator.verdict.gate.evaluate(config, prom, window=1h)  # bench/fig_gate.py",
        "GET /api/v1/query?query=<each query the gate sent>&time=<its time>&stats=all  -> data.stats.timings.execTotalTime",
    ]
    return fig
