"""Figure 11, flat memory through a soak: `perfctl run` of a 30-minute constant-arrival-rate
test against nginx on loopback, remote write on, with perfctl's defaults: `k6.memory: auto`
runs it flat because it is planned longer than `k6.flat_after` (10 minutes). k6's RSS is
sampled every 10 s; the headline is its RSS around minute 30 over its RSS around minute 5.

Beside it, at the same rate:
- the same test run exact (`k6.memory: exact`, k6's own summary and thresholds, trend stats)
  for a few minutes: how fast exact memory grows, per million requests;
- a short exact run with native histograms, whose k6 summary and threshold verdicts are set
  beside what a flat run computes from the same series (k6/prom_summary.py, k6/thresholds.py).

Only with `bench/run --only soak` (~40 minutes). Load goes to the bench's own nginx on 127.0.0.1."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import servers
from bench.context import BenchContext, shown
from bench.fig_overhead import managed_prometheus
from bench.measure import PerfctlWatch, rss_kb, run_measured
from bench.stats import FigureResult, Headline, Row, Summary, Target
from orchestrator.config.load import load_config
from orchestrator.netutil import free_port

SCENARIO = "soak"
RATE = 2000  # requests/s: k6 at well under one core, nginx at a fraction of the other
TARGET_GROWTH = Target("<", 1.10)
SAMPLE_SECONDS = 10.0
MARK_WINDOW = 60.0  # RSS "at minute m": the median of the samples within ±30 s of it
THRESHOLDS = {"http_req_duration": ["p(95)<500", "p(99)<1000", "avg<200"], "http_req_failed": ["rate<0.01"],
              "checks": ["rate>0.99"], "http_reqs": ["count>100"]}


@dataclass
class Plan:
    soak_minutes: float
    early: float  # minute of the first mark
    late: float  # minute of the second mark
    exact_minutes: float
    reference_seconds: float


def plan(quick: bool) -> Plan:
    if quick:
        return Plan(soak_minutes=2, early=0.5, late=1.75, exact_minutes=1, reference_seconds=20)
    return Plan(soak_minutes=31, early=5, late=30, exact_minutes=4, reference_seconds=60)


def config_text(base_url: str, prometheus_port: int, *, memory: str, native_histograms: bool = False) -> str:
    thresholds = json.dumps(THRESHOLDS)
    return f"""\
version: 1
name: soak
target:
  base_url: {base_url}
  health_path: /health
prometheus:
  url: http://127.0.0.1:{prometheus_port}
  manage: true
  scrape_interval: 5s
k6:
  push_interval: 5s
  memory: {memory}
  native_histograms: {str(native_histograms).lower()}
scenarios:
  {SCENARIO}:
    description: static GETs at a constant rate, for as long as it takes
    executor: constant-arrival-rate
    rate: {RATE}
    time_unit: 1s
    duration: 30m
    pre_allocated_vus: 20
    max_vus: 100
    requests:
      - name: static
        path: /index.html
        expect_status: [200]
    thresholds: {thresholds}
objectives:
  - {{ name: error_ratio, sli: error_ratio, pass: "< 0.01", key: true }}
  - {{ name: p95, sli: http_p95, pass: "< 0.5" }}
"""


@dataclass
class RssTrace(PerfctlWatch):
    """k6's RSS over its life, sampled from /proc while perfctl runs it."""

    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds since k6 started, MB)

    def _watch(self, perfctl_pid: int) -> None:
        k6 = self.wait_for_k6(perfctl_pid)
        if k6 is None:
            return
        started = time.monotonic()
        while (kb := rss_kb(k6)) is not None:  # until k6 has ended
            self.samples.append((time.monotonic() - started, kb / 1024))
            time.sleep(SAMPLE_SECONDS)

    def at(self, minute: float) -> float | None:
        """The median RSS (MB) of the samples within ±MARK_WINDOW/2 of `minute`."""
        near = sorted(mb for t, mb in self.samples if abs(t - minute * 60) <= MARK_WINDOW / 2)
        return near[len(near) // 2] if near else None


def _run(ctx: BenchContext, config: Path, minutes: float, log: Path, trace: RssTrace | None = None):
    argv = [*ctx.perfctl, "run", SCENARIO, "--duration", f"{minutes * 60:g}s", "-c", str(config), "--json"]
    sample = run_measured(argv, env={**os.environ, "NO_COLOR": "1"}, cwd=config.parent, log=log,
                          timeout=minutes * 60 + 300, ok_codes=(0, 98, 99), on_start=trace.attach if trace else None)
    if trace is not None:
        trace.join()
    run_dir = max((config.parent / "results").iterdir(), key=lambda p: p.stat().st_mtime)
    return sample, run_dir


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def run(ctx: BenchContext) -> FigureResult:
    fig = FigureResult("soak", "Flat memory through a soak: k6's RSS from minute 5 to minute 30, remote write on")
    p = plan(ctx.quick)
    home = ctx.dir("soak")
    with servers.nginx(home / "nginx") as nginx:
        workspace = home / "ws"
        workspace.mkdir(parents=True, exist_ok=True)
        port = free_port()
        configs = {}
        # --quick's soak is too short for auto to choose flat: it asks for flat.
        for name, memory, native in (("auto", "flat" if ctx.quick else "auto", False), ("exact", "exact", False),
                                     ("reference", "exact", True)):
            configs[name] = workspace / f"perfctl-{name}.yaml"
            configs[name].write_text(config_text(nginx.base_url, port, memory=memory, native_histograms=native))
        with managed_prometheus(configs["auto"]):
            flat = RssTrace()
            sample, flat_run = _run(ctx, configs["auto"], p.soak_minutes, home / "soak.log", flat)
            print(f"bench: soak flat {p.soak_minutes:g} min: exit {sample.code}, {len(flat.samples)} RSS samples", flush=True)
            exact = RssTrace()
            exact_sample, exact_run = _run(ctx, configs["exact"], p.exact_minutes, home / "exact.log", exact)
            ref_sample, ref_run = _run(ctx, configs["reference"], p.reference_seconds / 60, home / "reference.log")
            agreement = _agreement(configs["reference"], ref_run)

    record = _json(flat_run / "run.json")
    verdict = _json(flat_run / "verdict.json")
    early, late = flat.at(p.early), flat.at(p.late)
    requests = (_json(flat_run / "summary.json").get("metrics", {}).get("http_reqs") or {}).get("count")
    if early and late:
        fig.headlines.append(Headline(f"k6 RSS at minute {p.late:g} / minute {p.early:g} of a flat soak at {RATE:,} req/s",
                                      Summary.of([late / early]), TARGET_GROWTH))
        fig.rows.append(Row(f"k6 RSS at minute {p.early:g} (flat)", Summary.of([early]), "MB"))
        fig.rows.append(Row(f"k6 RSS at minute {p.late:g} (flat)", Summary.of([late]), "MB"))
    else:
        fig.error = f"too few RSS samples ({len(flat.samples)}) to read minutes {p.early:g} and {p.late:g}"
    exact_growth = _growth_per_million(exact, _json(exact_run / "summary.json"))
    if exact_growth is not None:
        fig.rows.append(Row(f"exact mode: k6 RSS growth per million requests (first {p.exact_minutes:g} min)",
                            Summary.of([exact_growth]), "MB"))
    flat_growth = _growth_per_million(flat, _json(flat_run / "summary.json"), start_minute=p.early)
    if flat_growth is not None:
        fig.rows.append(Row(f"flat mode: k6 RSS growth per million requests (minute {p.early:g} on)",
                            Summary.of([flat_growth]), "MB"))
    minutes = sorted({m for m in (0.5, 1, 2, 3, 4, 5, 10, 15, 20, 25, 30) if m <= p.soak_minutes} | {p.early, p.late})
    fig.extra["k6_RSS_by_minute"] = [
        {"minute": m, "flat MB": _mb(flat.at(m)), "exact MB": _mb(exact.at(m)) if m <= p.exact_minutes else None}
        for m in minutes]
    if "error" not in agreement:
        fig.extra["agreement_numbers"] = [
            {"number": name, "k6 (exact)": _mb(v["k6"], 4), "flat (from Prometheus)": _mb(v["flat"], 4),
             "flat / k6": _mb(v["ratio"], 4)} for name, v in agreement["numbers"].items()]
        fig.extra["agreement_thresholds"] = [
            {"threshold": name, "k6 failed": v["k6_failed"], "flat failed": v["flat_failed"],
             "flat value": _mb(v["flat_value"], 4)} for name, v in agreement["thresholds"].items()]
    memory = record.get("k6_memory") or {}
    fig.notes.append(
        f"The soak: {p.soak_minutes:g} min of constant-arrival-rate {RATE:,} req/s (static GETs against nginx on "
        f"127.0.0.1), perfctl's defaults but `k6.memory` left at auto: run.json says mode "
        f"{memory.get('mode')!r} ({memory.get('why')}); {requests and f'{requests:,.0f}'} requests; verdict "
        f"{verdict.get('result')} (exit {sample.code}), its {sum(len(v) for v in THRESHOLDS.values())} k6 thresholds "
        f"judged from Prometheus. k6 RSS sampled every {SAMPLE_SECONDS:g} s, a minute's value the median within "
        f"±{MARK_WINDOW / 2:g} s. Exact beside it: the same test for {p.exact_minutes:g} min with `k6.memory: exact` "
        f"(exit {exact_sample.code}).")
    fig.notes.append(_agreement_note(agreement, ref_sample.code))
    fig.commands.append(shown([*ctx.perfctl, "run", SCENARIO, "--duration", f"{p.soak_minutes * 60:g}s", "-c", "perfctl.yaml"]))
    return fig


def _mb(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _growth_per_million(trace: RssTrace, summary: dict, start_minute: float = 0.5) -> float | None:
    """MB of RSS per million requests between `start_minute` and k6's last sample."""
    samples = [(t, mb) for t, mb in trace.samples if t >= start_minute * 60]
    metrics = summary.get("metrics", {})
    rate = (metrics.get("http_reqs") or {}).get("rate")
    if len(samples) < 2 or not rate:
        return None
    (t0, first), (t1, last) = samples[0], samples[-1]
    requests = rate * (t1 - t0)
    return (last - first) / requests * 1e6 if requests > 0 else None


def _agreement(config: Path, run_dir: Path) -> dict:
    """k6's own summary and threshold verdicts of an exact run with native histograms, beside
    what a flat run computes from the same series."""
    from orchestrator.k6 import prom_summary
    from orchestrator.k6.thresholds import K6Threshold, metric_kinds, objective_of
    from orchestrator.monitoring.prometheus import Prometheus
    from orchestrator.verdict import gate, slo

    loaded = load_config(config)
    record = _json(run_dir / "run.json")
    exact = _json(run_dir / "summary.json").get("metrics", {})
    if not exact or record.get("start") is None:
        return {"error": "the reference run left no summary or window"}
    prom = Prometheus(loaded.config.prometheus.url)
    window = gate.Window(record["start"], record["end"])
    ctx = gate.QueryContext(record["id"], window, loaded.config.prometheus.scrape_interval, loaded.config.k6.push_interval)
    computed = prom_summary.build(prom, ctx.fill, at=window.end, seconds=window.seconds)["metrics"]
    out: dict = {"numbers": {}, "thresholds": {}}
    for metric, key in (("http_reqs", "count"), ("http_req_failed", "value"), ("http_req_duration", "avg"),
                        ("http_req_duration", "med"), ("http_req_duration", "p(95)"), ("http_req_duration", "p(99)")):
        k6_value, flat_value = (exact.get(metric) or {}).get(key), (computed.get(metric) or {}).get(key)
        ratio = flat_value / k6_value if k6_value and flat_value is not None else None
        out["numbers"][f"{metric}.{key}"] = {"k6": k6_value, "flat": flat_value, "ratio": ratio}
    kinds = metric_kinds()
    for key, items in THRESHOLDS.items():
        for text in items:
            objective = objective_of(K6Threshold(key, text), kinds)
            value = prom.scalar(gate.objective_query(objective, ctx), at=window.end)
            failed = slo.grade(gate.spec_of(objective), value).result is slo.Result.FAIL
            out["thresholds"][f"{key}: {text}"] = {"k6_failed": (exact.get(key) or {}).get("thresholds", {}).get(text),
                                                    "flat_failed": failed, "flat_value": value}
    return out


def _agreement_note(agreement: dict, code: int) -> str:
    if "error" in agreement:
        return f"Agreement with k6's exact numbers: not measured ({agreement['error']})."
    numbers = "; ".join(f"{name} {v['ratio']:.3f}" if v["ratio"] is not None else f"{name} —"
                        for name, v in agreement["numbers"].items())
    same = sum(1 for v in agreement["thresholds"].values() if v["k6_failed"] == v["flat_failed"])
    return (f"Agreement, on one exact run with native histograms (exit {code}): flat / k6 — {numbers} "
            f"(counts and avg exact; percentiles within one native-histogram bucket, ~9 % wide); thresholds: "
            f"{same} of {len(agreement['thresholds'])} judged the same as k6 judged them.")
