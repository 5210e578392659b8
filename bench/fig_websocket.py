"""Figure 5, WebSocket scale: how many streaming WebSocket VUs `perfctl run websocket` holds
for 60 s against the reference backend with < 1% errors, k6's memory per VU, and which
process runs out first."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench import servers
from bench.context import BenchContext, shown
from bench.fig_overhead import managed_prometheus
from bench.measure import PerfctlWatch, cpu_seconds, machine_cpu_seconds, rss_kb, run_measured
from bench.stats import FigureResult, Headline, Row, Summary, Target
from orchestrator.commands.demo import write_demo_config
from orchestrator.netutil import free_port

SCENARIO = "websocket"
TARGET_VUS = Target(">=", 1000, "VUs")
MAX_ERROR_RATIO = 0.01


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


@dataclass
class Sampler(PerfctlWatch):
    """Watches k6 (found under perfctl) and the backend while the test runs."""

    backend_pid: int
    k6_cores: float | None = None
    backend_cores: float | None = None
    machine_busy: float | None = None  # share of all CPUs busy, 0..1
    k6_peak_rss_kb: int | None = None
    backend_peak_fds: int = 0

    def _watch(self, perfctl_pid: int) -> None:
        k6 = self.wait_for_k6(perfctl_pid)
        if k6 is None:
            return
        time.sleep(2)  # past k6's init: measure the steady state
        t0, k0, b0, (busy0, total0) = time.monotonic(), cpu_seconds(k6), cpu_seconds(self.backend_pid), machine_cpu_seconds()
        last = (t0, k0, cpu_seconds(self.backend_pid), busy0, total0)
        while True:
            k = cpu_seconds(k6)
            if k is None:
                break
            hwm = rss_kb(k6, "VmHWM")
            if hwm:
                self.k6_peak_rss_kb = hwm
            self.backend_peak_fds = max(self.backend_peak_fds, open_fds(self.backend_pid) or 0)
            busy, total = machine_cpu_seconds()
            last = (time.monotonic(), k, cpu_seconds(self.backend_pid), busy, total)
            time.sleep(0.5)
        t1, k1, b1, busy1, total1 = last
        # Drop the last ~2 s (k6 winding down) only implicitly: samples stop when k6 is gone.
        if t1 - t0 > 1 and k0 is not None and b0 is not None and b1 is not None:
            self.k6_cores = (k1 - k0) / (t1 - t0)
            self.backend_cores = (b1 - b0) / (t1 - t0)
            self.machine_busy = (busy1 - busy0) / max(total1 - total0, 1e-9)


@dataclass(frozen=True)
class Level:
    vus: int
    seconds: float
    error_ratio: float | None
    replies: float
    sessions_per_s: float | None
    k6_peak_rss_mb: float | None
    k6_cores: float | None
    backend_cores: float | None
    machine_busy: float | None
    backend_peak_fds: int
    exit_code: int
    reply_p95_ms: float | None = None

    @property
    def held(self) -> bool:
        return self.error_ratio is not None and self.error_ratio < MAX_ERROR_RATIO and self.replies > 0


def replies_and_errors(summary: dict) -> tuple[float, float | None, float | None]:
    metrics = summary.get("metrics", {})
    reply = metrics.get("ws_reply_success", {})
    connect = metrics.get("ws_connect_success", {})
    passes, fails = float(reply.get("passes", 0)), float(reply.get("fails", 0))
    connect_fails = float(connect.get("fails", 0))
    attempts = passes + fails + connect_fails
    error = None if attempts == 0 else (fails + connect_fails) / attempts
    sessions = metrics.get("ws_sessions", {}).get("rate")
    return passes, error, sessions


def measure_level(ctx: BenchContext, home: Path, config_path: Path, backend_pid: int, vus: int, seconds: float) -> Level:
    sampler = Sampler(backend_pid)
    argv = [*ctx.perfctl, "run", SCENARIO, "--vus", str(vus), "--duration", f"{seconds:g}s", "-c", str(config_path), "--json"]
    sample = run_measured(argv, env={**os.environ, "NO_COLOR": "1"}, cwd=config_path.parent, log=home / f"perfctl-{vus}.log",
                          timeout=seconds + 180, ok_codes=(0, 98, 99), on_start=sampler.attach)
    sampler.join()
    run_dir = max((config_path.parent / "results").iterdir(), key=lambda p: p.stat().st_mtime)
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    replies, error, sessions = replies_and_errors(summary)
    peak = sampler.k6_peak_rss_kb or sample.max_rss_kb
    reply_p95 = summary.get("metrics", {}).get("ws_reply_time", {}).get("p(95)")
    return Level(vus, seconds, error, replies, sessions, peak / 1024 if peak else None, sampler.k6_cores,
                 sampler.backend_cores, sampler.machine_busy, sampler.backend_peak_fds, sample.code, reply_p95)


def run(ctx: BenchContext) -> FigureResult:
    fig = FigureResult("websocket", "WebSocket scale: streaming WebSocket VUs held against the reference backend")
    home = ctx.dir("websocket")
    # Short levels first (memory slope, warm-up), then the target's 60 s levels.
    plan = [(20, 4), (50, 4)] if ctx.quick else [(100, 20), (500, 30), (1000, 60), (2000, 60)]
    full_length = plan[-1][1]
    levels: list[Level] = []
    with servers.reference_backend(home / "backend", python=ctx.python) as backend:
        config_path = write_demo_config(home / "ws", backend_port=backend.port, prometheus_port=free_port())
        with managed_prometheus(config_path):
            for vus, seconds in plan:
                level = measure_level(ctx, home, config_path, backend.pid, vus, seconds)
                levels.append(level)
                print(f"bench: websocket {vus} VUs: errors {level.error_ratio}, k6 {level.k6_cores} cores, "
                      f"backend {level.backend_cores} cores", flush=True)
                if not level.held:
                    break
    held = [lv for lv in levels if lv.held and lv.seconds >= full_length]
    best = max((lv.vus for lv in held), default=0)
    fig.headlines.append(Headline(f"VUs held {full_length:g} s with < 1% errors (largest level tried)", Summary.of([best]), TARGET_VUS, "VUs"))
    fig.extra["levels"] = [
        {"VUs": lv.vus, "seconds": lv.seconds, "held": lv.held,
         "error ratio": None if lv.error_ratio is None else round(lv.error_ratio, 4),
         "replies": int(lv.replies), "reply p95 ms": None if lv.reply_p95_ms is None else round(lv.reply_p95_ms),
         "sessions/s": None if lv.sessions_per_s is None else round(lv.sessions_per_s, 1),
         "k6 peak RSS MB": None if lv.k6_peak_rss_mb is None else round(lv.k6_peak_rss_mb, 1),
         "k6 cores": _r(lv.k6_cores), "backend cores": _r(lv.backend_cores),
         "machine busy": _r(lv.machine_busy), "backend open fds (peak)": lv.backend_peak_fds, "perfctl exit": lv.exit_code}
        for lv in levels
    ]
    measured = [lv for lv in levels if lv.k6_peak_rss_mb]
    if len(measured) >= 2:
        low, high = measured[0], max(measured, key=lambda lv: lv.vus)
        per_vu_kb = (high.k6_peak_rss_mb - low.k6_peak_rss_mb) * 1024 / max(high.vus - low.vus, 1)
        fig.rows.append(Row(f"k6 memory per VU (peak RSS slope {low.vus} → {high.vus} VUs)", Summary.of([per_vu_kb]), "KiB"))
    for lv in levels:
        if lv.k6_peak_rss_mb:
            fig.rows.append(Row(f"k6 peak RSS / VUs at {lv.vus} VUs", Summary.of([lv.k6_peak_rss_mb * 1024 / lv.vus]), "KiB"))
    fig.notes.append(_limit_note(levels))
    fig.notes.append("Each level is `perfctl run websocket` of examples/demo (connect, two messages each streamed back in "
                     "5 chunks 20 ms apart, 100 ms think time) with the levels' --vus/--duration; errors = failed replies "
                     "and connects / attempts (k6's ws_reply_success and ws_connect_success). One level, one measurement.")
    fig.commands.append(shown([*ctx.perfctl, "run", SCENARIO, "--vus", "N", "--duration", "60s", "-c", "perfctl.yaml", "--json"]))
    return fig


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _limit_note(levels: list[Level]) -> str:
    last = levels[-1] if levels else None
    if last is None:
        return "no level measured"
    busy = f"machine {100 * last.machine_busy:.0f}% busy" if last.machine_busy is not None else "machine load unknown"
    who = []
    if last.backend_cores is not None and last.backend_cores > 0.85:
        who.append(f"the backend (one Python event loop) used {last.backend_cores:.2f} cores: it is saturated")
    if last.k6_cores is not None:
        who.append(f"k6 used {last.k6_cores:.2f} cores")
    verdict = "held" if last.held else "did not hold"
    # Unloaded, an iteration takes >= 0.3 s: two replies of 5 chunks 20 ms apart, then 100 ms think time.
    pace = ""
    if last.sessions_per_s:
        pace = f" Sessions/s {last.sessions_per_s:.0f} against at most {last.vus / 0.3:.0f} on an unloaded machine"
        pace += (": past saturation the VUs stay connected and error-free, but each conversation takes longer."
                 if last.sessions_per_s < 0.8 * last.vus / 0.3 else ".")
    return f"At {last.vus} VUs (the last level, {verdict}): {'; '.join(who) or 'no CPU figures'}; {busy}.{pace}"
