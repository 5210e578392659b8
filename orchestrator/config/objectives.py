"""What a run is judged on: objectives (a built-in SLI or PromQL, with pass/warning criteria)
and the gate's settings (score thresholds, baselines, compare's noise floors, the guards)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from orchestrator.config.base import Duration, Model, Name
from orchestrator.sli import NAMES as SLI_NAMES, SLIS

# The built-in SLIs by name (orchestrator/sli.py), in the order of the JSON schema's enum.
Sli = Literal[SLI_NAMES]  # type: ignore[valid-type]


# What a value is measured in (orchestrator/units.UNITS): durations in seconds, ratios 0..1.
Unit = Literal["s", "ms", "ratio", "percent", "req/s", "Hz", "messages", "iterations", "requests", "count", "bytes", "none"]

# SLIs measured drain_seconds after the run's end.
DRAIN_SLIS = tuple(name for name, record in SLIS.items() if record.drains)


class Objective(Model):
    name: Name
    sli: Sli | None = Field(None, description="a built-in SLI by name")
    query: str | None = Field(None, description="custom PromQL; placeholders $testid $window $start $end $seconds $job $rate_range $step $push_range (docs/slis.md)")
    pass_: str = Field(alias="pass", description="e.g. '< 0.01', '>= 95', 'between 90 and 110', '<= +10%'")
    warning: str | None = None
    weight: float = Field(1.0, gt=0)
    key: bool = Field(False, description="a failed key objective fails the gate whatever the score")
    scenarios: list[Name] = Field(default_factory=list, description="only for these scenarios (default: all)")
    job: str | None = Field(None, description="scrape job whose `up` must hold during the window (backend SLIs)")
    live: bool = Field(False, description="also checked every few seconds while k6 runs; a breach stops the run")
    grace: Duration = Field(10.0, ge=0, description="live: how long a breach may last before the run is stopped")
    live_window: Literal["recent", "run"] = Field(
        "recent", description="live: each check reads the last few seconds (recent) or the run so far (run, as k6's thresholds)"
    )
    live_after: Duration = Field(0.0, ge=0, description="live: not checked before this long after k6's start (k6's delayAbortEval)")
    drain_seconds: Duration | None = Field(
        None, gt=0, description="kafka_lag_after: measure this long after the run's end (the gate waits for it)"
    )
    unit: Unit | None = Field(
        None, description="how reports print the value, in the query's unit (default: the SLI's; none for a query)"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _source(self) -> "Objective":
        if (self.sli is None) == (self.query is None):
            raise ValueError("give exactly one of sli or query")
        record = SLIS.get(self.sli or "")
        if record is not None and record.needs_job and not self.job:
            raise ValueError(f"job: sli {self.sli} needs the scrape job of the backend (e.g. job: backend)")
        if record is not None and record.drains and self.drain_seconds is None:
            raise ValueError(f"drain_seconds: sli {self.sli} needs drain_seconds (e.g. drain_seconds: 10s)")
        if self.drain_seconds is not None and not (record is not None and record.drains) and self.query is None:
            raise ValueError(f"drain_seconds: only for sli {' or '.join(DRAIN_SLIS)} or a custom query")
        if self.live and any(p.relative for p in _criteria_parts(self.pass_)):
            raise ValueError("live: a live objective needs absolute criteria (no baseline exists mid-run)")
        from orchestrator.criteria import parse_criteria

        for label, text in (("pass", self.pass_), ("warning", self.warning)):
            if text is not None:
                try:
                    parse_criteria(text)
                except ValueError as exc:
                    raise ValueError(f"{label}: {exc}") from None
        return self

    def applies_to(self, scenario: str) -> bool:
        return not self.scenarios or scenario in self.scenarios


def _criteria_parts(text: str):
    from orchestrator.criteria import parse_criteria

    try:
        return parse_criteria(text).parts
    except ValueError:
        return ()  # reported by the pass/warning check


class CompareSettings(Model):
    """`perfctl compare`: a change is a regression only beyond the tolerance AND the unit's floor."""

    tolerance: float = Field(5.0, ge=0, description="percent: smaller relative changes are noise")
    duration_floor_ms: float = Field(1.0, ge=0, description="durations (ms): smaller absolute changes are noise")
    ratio_floor_points: float = Field(0.1, ge=0, description="ratios (0..1): smaller changes, in percentage points, are noise")
    count_floor: float = Field(1.0, ge=0, description="counts and rates: smaller absolute changes are noise")


class GuardSettings(Model):
    """Key objectives perfctl adds when no objective watches errors (orchestrator/verdict/guards.py)."""

    enabled: bool = Field(True, description="false switches the guards off; the verdict then says it was the user's choice")
    http_failed_max: float = Field(0.05, gt=0, le=1, description="guard:errors: failed / all HTTP requests must stay below this")
    ws_success_min: float = Field(0.95, ge=0, le=1, description="guard:ws_messages: WebSocket message success must be at least this")


class GateSettings(Model):
    pass_percent: float = Field(90.0, ge=0, le=100)
    warning_percent: float = Field(75.0, ge=0, le=100)
    baseline_runs: int = Field(3, ge=1, le=1000, description="--baseline last-pass: the mean of this many last passing runs")
    live_interval: Duration = Field(2.0, gt=0, description="how often live objectives are checked while k6 runs")
    require_baseline: bool = Field(
        False, description="relative criteria without a baseline make the run inconclusive (default: not evaluated)"
    )
    compare: CompareSettings = Field(default_factory=CompareSettings, description="noise floors of `perfctl compare`")
    guards: GuardSettings = Field(
        default_factory=GuardSettings, description="failed-request guards added when no objective watches errors"
    )
