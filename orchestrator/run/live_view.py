"""What a person watching a run sees while k6 runs: how far it is, what k6 measures, and
where every objective stands against its criterion right now.

On a TTY a compact panel is redrawn every ~2 s; off a TTY (CI logs) one plain line with the
same numbers is printed every `plain_every` seconds, and nothing is redrawn. k6's numbers
come from its REST API (the run's own loopback port) and fall back to its progress lines;
each objective's value is its gate query over the run so far, from Prometheus. The view
only watches: a source that does not answer leaves a blank, never stops the run.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from orchestrator import console, units
from orchestrator.verdict import gate
from orchestrator import criteria
from orchestrator.verdict import slo
from orchestrator.config.model import Config
from orchestrator.config.objectives import Objective
from orchestrator.errors import PerfctlError
from orchestrator.sli import SLIS

PANEL_EVERY = 2.0  # seconds between redraws on a TTY
PLAIN_EVERY = 10.0  # seconds between plain lines off a TTY
BAR_WIDTH = 24
_K6_PROGRESS = re.compile(r"^running \((?:(\d+)h)?(?:(\d+)m)?([\d.]+)s\), (\d+)/(\d+) VUs")
_ANSI = {"pass": "\x1b[32m", "warning": "\x1b[33m", "fail": "\x1b[31m", "inconclusive": "\x1b[35m"}
_RESET, _DIM, _BOLD = "\x1b[0m", "\x1b[2m", "\x1b[1m"
_WORD = {"pass": "PASS", "warning": "WARN", "fail": "FAIL", "inconclusive": "no data"}


@dataclass(frozen=True)
class Stage:
    ends_at: float  # seconds since the start
    label: str


@dataclass
class ObjectiveNow:
    name: str
    value: float | None
    unit: str
    criteria: str
    result: str  # what it would grade now: pass, warning, fail, inconclusive (no data yet)
    live: bool
    key: bool


@dataclass
class Snapshot:
    elapsed: float = 0.0
    planned: float = 0.0
    stage: str = ""
    vus: float | None = None
    vus_max: float | None = None
    rps: float | None = None
    failed: float | None = None
    p95: float | None = None  # seconds
    objectives: list[ObjectiveNow] = field(default_factory=list)


def stages_of(plan: dict) -> list[Stage]:
    """The longest part's stages (ramping executors), each with where it ends: `2/3 → 50 VUs`."""
    scenarios = [s for s in (plan.get("scenarios") or {}).values() if isinstance(s, dict) and s.get("stages")]
    if not scenarios:
        return []
    from orchestrator.config.durations import parse_duration

    longest = max(scenarios, key=lambda s: len(s["stages"]))
    out, at = [], 0.0
    what = "VUs" if longest.get("executor") == "ramping-vus" else "it/" + str(longest.get("timeUnit", "1s"))
    for stage in longest["stages"]:
        try:
            at += parse_duration(str(stage.get("duration")))
        except ValueError:
            continue
        out.append(Stage(at, f"→ {units.number(float(stage.get('target', 0)))} {what}"))
    return out


def current_stage(stages: list[Stage], elapsed: float) -> str:
    for index, stage in enumerate(stages):
        if elapsed < stage.ends_at:
            return f"stage {index + 1}/{len(stages)} {stage.label}"
    return f"stage {len(stages)}/{len(stages)} {stages[-1].label}" if stages else ""


# ---- text (pure) -------------------------------------------------------------------------------------


def progress_bar(elapsed: float, planned: float, width: int = BAR_WIDTH) -> str:
    share = min(max(elapsed / planned, 0.0), 1.0) if planned > 0 else 0.0
    filled = round(share * width)
    return "█" * filled + "░" * (width - filled) + f" {share * 100:3.0f}%"


def k6_numbers(s: Snapshot) -> str:
    vus = "—" if s.vus is None else units.number(s.vus) + (f"/{units.number(s.vus_max)}" if s.vus_max else "")
    return (f"VUs {vus} · {units.quantity(s.rps, 'req/s') if s.rps is not None else '— req/s'}"
            f" · failed {units.quantity(s.failed, 'ratio')} · p95 {units.quantity(s.p95, 's')}")


def time_text(s: Snapshot) -> str:
    planned = f" / {units.duration(s.planned)}" if s.planned else ""
    return f"{units.duration(s.elapsed)}{planned}"


def plain_line(s: Snapshot) -> str:
    """One line for a CI log: `[12 s / 30 s 40%] stage 1/2 → 10 VUs · VUs 8/10 · ... | error_ratio 0% PASS · ...`"""
    share = f" {min(s.elapsed / s.planned, 1.0) * 100:.0f}%" if s.planned else ""
    head = f"[{time_text(s)}{share}]" + (f" {s.stage}" if s.stage else "") + f" · {k6_numbers(s)}"
    objectives = " · ".join(f"{o.name}{'*' if o.live else ''} {units.quantity(o.value, o.unit)} {_WORD[o.result]}"
                            for o in s.objectives)
    return head + (f" | {objectives}" if objectives else "")


def panel(s: Snapshot, *, color: bool, width: int = 100) -> list[str]:
    """The TTY panel's lines (no line longer than `width`)."""
    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    lines = [f"{progress_bar(s.elapsed, s.planned)}  {time_text(s)}" + (f"  {s.stage}" if s.stage else ""),
             k6_numbers(s)]
    if s.objectives:
        names = [o.name + (" (key)" if o.key else "") + (" *" if o.live else "") for o in s.objectives]
        values = [units.quantity(o.value, o.unit) for o in s.objectives]
        crits = [units.criterion(o.criteria, o.unit) for o in s.objectives]
        wn, wv, wc = (max(len(x) for x in col) for col in (names, values, crits))
        lines.append(paint(f"{'objective':<{wn}}  {'now':>{wv}}  {'criterion':<{wc}}  would be", _DIM))
        for o, name, value, crit in zip(s.objectives, names, values, crits):
            word = paint(_WORD[o.result], _ANSI[o.result])
            lines.append(f"{name:<{wn}}  {value:>{wv}}  {crit:<{wc}}  {word}")
        if any(o.live for o in s.objectives):
            lines.append(paint("* live: a breach longer than its grace stops the run", _DIM))
    return [_clip(line, width) for line in lines]


def _clip(line: str, width: int) -> str:
    # Escape codes take no columns; clip only lines that would wrap (they would break the redraw).
    visible = re.sub(r"\x1b\[[0-9;]*m", "", line)
    return line if len(visible) <= width else visible[: width - 1] + "…"


# ---- sources -----------------------------------------------------------------------------------------


class K6Api:
    """k6's REST API on the run's loopback port: VUs and its cumulative request numbers."""

    def __init__(self, address: str):
        from orchestrator.http_client import HttpApi

        self.api = HttpApi(f"http://{address}", timeout=1.0)
        self._last: tuple[float, float] | None = None  # (time, request count)

    def read(self, into: Snapshot, now: float) -> None:
        import json

        from orchestrator.http_client import Unreachable

        try:
            status = json.loads(self.api.get("/v1/status").body)["data"]["attributes"]
            metrics = {m["id"]: m["attributes"].get("sample", {})
                       for m in json.loads(self.api.get("/v1/metrics").body)["data"]}
        except (Unreachable, ValueError, KeyError, TypeError):
            return
        into.vus, into.vus_max = status.get("vus"), status.get("vus-max")
        count = metrics.get("http_reqs", {}).get("count")
        if isinstance(count, (int, float)):
            if self._last is not None and now > self._last[0]:
                into.rps = max(0.0, (count - self._last[1]) / (now - self._last[0]))  # since the last look
            self._last = (now, float(count))
        into.failed = metrics.get("http_req_failed", {}).get("rate")
        p95 = metrics.get("http_req_duration", {}).get("p(95)")
        into.p95 = p95 / 1000.0 if isinstance(p95, (int, float)) else None  # k6 reports milliseconds


class K6FromPrometheus:
    """k6's numbers from what it pushed by remote write: for runtimes whose k6 has no REST API
    perfctl can reach (containers, pods, other hosts, several processes)."""

    # failed and p95 are the gate's own error_ratio and http_p95 over the run so far.
    QUERIES = {
        "rps": 'sum(rate(k6_http_reqs_total{testid="$testid"}[$push_range]))',
        "failed": SLIS["error_ratio"].query,
        "p95": SLIS["http_p95"].query,
        "vus": 'sum(last_over_time(k6_vus{testid="$testid"}[$push_range]))',
    }

    def __init__(self, config: Config, prom, *, run_id: str, start: float):
        self.config, self.prom, self.run_id, self.start = config, prom, run_id, start

    def read(self, into: Snapshot, now: float) -> None:
        window = gate.Window(start=self.start, end=now)
        ctx = gate.QueryContext(self.run_id, window, self.config.prometheus.scrape_interval, self.config.k6.push_interval)
        for name, query in self.QUERIES.items():
            try:
                value = self.prom.scalar(ctx.fill(query), at=now)
            except PerfctlError:
                continue
            if value is not None and (name != "vus" or into.vus is None):
                setattr(into, name, value)


class ObjectivesNow:
    """Each objective's gate query over [start, now], graded as it would be now."""

    def __init__(self, config: Config, prom, objectives: list[Objective], *, run_id: str, start: float):
        self.config, self.prom, self.objectives = config, prom, objectives
        self.run_id, self.start = run_id, start

    def read(self, now: float) -> list[ObjectiveNow]:
        window = gate.Window(start=self.start, end=now)
        ctx = gate.QueryContext(self.run_id, window, self.config.prometheus.scrape_interval, self.config.k6.push_interval)
        out = []
        for obj in self.objectives:
            spec = gate.spec_of(obj)
            value = None
            if not any(p.relative for p in criteria.parse_criteria(obj.pass_).parts):  # no baseline mid-run
                try:
                    value = self.prom.scalar(gate.objective_query(obj, ctx, native_histograms=self.config.k6.native_histograms),
                                             at=now)
                except PerfctlError:
                    value = None
            result = slo.grade(spec, value).result.value
            out.append(ObjectiveNow(obj.name, value, spec.unit, obj.pass_, result, obj.live, obj.key))
        return out


# ---- the view ----------------------------------------------------------------------------------------


class LiveView(console.Progress):
    """A Progress that shows the panel: the runtimes pass k6's progress lines and notable log
    lines to it as before; a background thread reads k6 and Prometheus and redraws."""

    def __init__(self, *, planned: float, stages: list[Stage], objectives: ObjectivesNow | None,
                 k6_api: K6Api | None, start: float, pushed: K6FromPrometheus | None = None, stream=None,
                 plain_every: float = PLAIN_EVERY):
        super().__init__(stream, every=plain_every)
        self.snapshot = Snapshot(planned=planned)
        self.stages, self.objectives, self.k6_api, self.start = stages, objectives, k6_api, start
        self.pushed = pushed
        self.color = console.use_color(self.stream)
        self._lock = threading.Lock()
        self._drawn_lines = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_plain = time.monotonic() + PANEL_EVERY  # the first line as soon as there are numbers

    def __enter__(self) -> "LiveView":
        self._thread = threading.Thread(target=self._loop, name="perfctl-live-view", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.clear()

    # Progress's interface, as the runtimes call it.
    def update(self, line: str) -> None:
        match = _K6_PROGRESS.match(line)
        if match:  # k6's own clock and VUs: used when its REST API cannot be read
            hours, minutes, seconds, vus, vus_max = match.groups()
            with self._lock:
                self.snapshot.elapsed = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)
                if self.k6_api is None:
                    self.snapshot.vus, self.snapshot.vus_max = float(vus), float(vus_max)

    def message(self, line: str) -> None:
        with self._lock, console.terminal_may_be_gone():
            self._erase()
            self.stream.write(line + "\n")
            self._draw()

    def clear(self) -> None:
        with self._lock, console.terminal_may_be_gone():
            self._erase()

    def _loop(self) -> None:
        while not self._stop.wait(self._until_next()):
            self.refresh(time.time())

    def _until_next(self) -> float:
        if self.tty:
            return PANEL_EVERY if self._drawn_lines else 0.5
        # Off a TTY nothing shows between two plain lines: the sources (k6's API, one PromQL
        # query per objective) are read only when a line is due, not every PANEL_EVERY.
        return max(0.05, self._next_plain - time.monotonic())

    def refresh(self, now: float) -> None:
        """Read the sources and show the result; one failing source leaves its numbers blank."""
        if self.k6_api is not None:
            self.k6_api.read(self.snapshot, now)
        if self.pushed is not None and (self.k6_api is None or self.snapshot.p95 is None):
            self.pushed.read(self.snapshot, now)
        objectives = self.objectives.read(now) if self.objectives is not None else []
        with self._lock, console.terminal_may_be_gone():
            self.snapshot.elapsed = max(self.snapshot.elapsed, now - self.start)
            self.snapshot.stage = current_stage(self.stages, self.snapshot.elapsed)
            self.snapshot.objectives = objectives
            if self.tty:
                self._erase()
                self._draw()
            elif time.monotonic() >= self._next_plain:
                self._next_plain = time.monotonic() + self.every
                self.stream.write(plain_line(self.snapshot) + "\n")
                self.stream.flush()

    def _draw(self) -> None:
        if not self.tty:
            return
        lines = panel(self.snapshot, color=self.color, width=max(40, console.columns() - 1))
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn_lines = len(lines)

    def _erase(self) -> None:
        if self._drawn_lines:
            # Up to the panel's first line, then clear to the end of the screen.
            self.stream.write(f"\x1b[{self._drawn_lines}F\x1b[J")
            self.stream.flush()
            self._drawn_lines = 0


def for_run(config: Config, prom, objectives: list[Objective], *, run_id: str, start: float, planned: float,
            plan: dict, k6_address: str | None) -> LiveView:
    """The view of one run: its plan, its objectives, k6's API when the runtime gives one."""
    return LiveView(
        planned=planned, stages=stages_of(plan),
        objectives=ObjectivesNow(config, prom, objectives, run_id=run_id, start=start) if objectives else None,
        k6_api=K6Api(k6_address) if k6_address else None, start=start,
        pushed=K6FromPrometheus(config, prom, run_id=run_id, start=start),
    )
