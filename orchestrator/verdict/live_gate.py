"""The live gate: objectives marked `live: true`, checked every few seconds while k6 runs.

k6's own abortOnFail sees only k6's metrics; this sees the backend's. An objective whose
value fails its criteria (pass and warning) for longer than its `grace` stops the run:
the runtime calls the gate as its watch (`LiveGate.poll()`) and sends k6 one SIGINT, so k6
still writes its summary.

A check without data is not a breach (nothing is known yet, e.g. the first seconds) and
leaves a running breach timer as it is; a check that passes ends the breach.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from orchestrator.units import format_value
from orchestrator import console
from orchestrator.verdict import gate
from orchestrator.verdict import slo
from orchestrator.config.model import Config
from orchestrator.config.objectives import Objective
from orchestrator.errors import PerfctlError
from orchestrator.monitoring.prometheus import Prometheus

# Each check looks back this many check intervals (and at least LOOKBACK_MIN seconds):
# long enough for a rate() to have samples, short enough to show the current state.
LOOKBACK_INTERVALS = 2
LOOKBACK_MIN = 4.0


@dataclass(frozen=True)
class LiveStop:
    """Why the live gate stopped a run."""

    objective: str
    value: float
    criteria: str
    breached_seconds: float

    @property
    def reason(self) -> str:
        return (
            f"live objective '{self.objective}' breached for {self.breached_seconds:.1f}s "
            f"(value {format_value(self.value, digits=6)}, needs {self.criteria})"
        )

    def as_dict(self) -> dict:
        return {
            "objective": self.objective,
            "value": self.value,
            "criteria": self.criteria,
            "breached_seconds": round(self.breached_seconds, 3),
            "reason": self.reason,
        }


class LiveGate:
    def __init__(
        self,
        config: Config,
        prom: Prometheus,
        objectives: list[Objective],
        *,
        run_id: str,
        start: float,
        clock: Callable[[], float] = time.time,
    ):
        self.config = config
        self.prom = prom
        self.objectives = [o for o in objectives if o.live]
        self.run_id = run_id
        self.start = start
        self.interval = config.gate.live_interval
        self.clock = clock
        self.breached_since: dict[str, float] = {}
        self.stopped: LiveStop | None = None
        self._next_check = start + self.interval
        self._warned = False

    def __bool__(self) -> bool:
        return bool(self.objectives)

    def __call__(self) -> str | None:
        # The runtime's watch; `interval` tells it how often to ask (runtimes.base.look_every).
        return self.poll()

    def poll(self) -> str | None:
        """Called often by the runtime; checks at most every `live_interval`. A reason to stop, or None."""
        if self.stopped is not None:
            return self.stopped.reason
        now = self.clock()
        if now < self._next_check:
            return None
        self._next_check = now + self.interval
        try:
            self.stopped = self.check(now)
        except PerfctlError as exc:
            # The live gate is a guard, not a dependency: the run goes on, the final gate judges it.
            if not self._warned:
                console.info(f"live gate: cannot check ({exc.message}); the run goes on")
                self._warned = True
            return None
        return self.stopped.reason if self.stopped else None

    def check(self, now: float) -> LiveStop | None:
        lookback = max(LOOKBACK_MIN, LOOKBACK_INTERVALS * self.interval)
        recent = gate.Window(start=max(self.start, now - lookback), end=now)
        so_far = gate.Window(start=self.start, end=now)
        for obj in self.objectives:
            if now - self.start < obj.live_after:
                continue  # k6's delayAbortEval: too early to judge this one
            window = so_far if obj.live_window == "run" else recent
            ctx = gate.QueryContext(self.run_id, window, self.config.prometheus.scrape_interval, self.config.k6.push_interval)
            value = self.prom.scalar(gate.objective_query(obj, ctx, native_histograms=self.config.k6.native_histograms), at=now)
            if value is None:
                continue
            result = slo.grade(gate.spec_of(obj), value).result
            if result is not slo.Result.FAIL:
                self.breached_since.pop(obj.name, None)
                continue
            since = self.breached_since.setdefault(obj.name, now)
            if now - since >= obj.grace:
                return LiveStop(obj.name, value, obj.pass_, now - since)
        return None
