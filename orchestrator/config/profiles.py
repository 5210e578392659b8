"""Named load shapes -> k6 executor settings: the Profile model, and pure functions (no I/O).

A scenario says `profile: spike` (or `profile: {name: spike, peak_vus: 500, hold: 2m}`);
`expand` turns that into the executor, VUs, stages, rates and (for breakpoint) the
aborting thresholds that k6 runs, and `resolve` returns the scenario with them filled in,
so overrides (`--vus`, `--duration`, `--rate`, `--stage`) and rendering never see a profile.

| profile            | executor              | numbers (default)                                             |
| ------------------ | --------------------- | ------------------------------------------------------------- |
| smoke              | constant-vus          | vus (1), duration (1m); with iterations: per-vu-iterations    |
| load               | ramping-vus           | vus or levels [..], ramp_up (1m) and hold (5m) per level,     |
|                    |                       | ramp_down (1m)                                                |
| spike              | ramping-vus           | start_vus (1), peak_vus, ramp_up (10s), hold (1m),            |
|                    |                       | ramp_down (10s), recover (1m)                                 |
| soak               | ramping-vus           | vus, duration (1h), ramp_up (1m), ramp_down (1m)              |
| stress             | ramping-vus           | peak_vus, steps (4), ramp_up (1m) and hold (2m) per step,     |
|                    |                       | ramp_down (1m)                                                |
| breakpoint         | ramping-arrival-rate  | start_rate (1), peak_rate, duration (10m), time_unit (1s),    |
|                    |                       | abort_error_rate (0.05), abort_p95 (2s), abort_delay (10s)    |
| throughput         | constant-arrival-rate | rate, time_unit (1s), duration (5m)                           |
| per-vu-iterations  | per-vu-iterations     | vus (1), iterations, duration = maxDuration (10m)             |
| shared-iterations  | shared-iterations     | vus (1), iterations, duration = maxDuration (10m)             |

Arrival-rate profiles size their VU pool from the rate: preAllocatedVUs covers the rate at
the expected iteration time (iteration_time, default 0.5 s plus the think time), maxVUs four
times that (at least +10), so a slower system shows as more VUs first and as
`dropped_iterations` only when even those run out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from orchestrator.config.base import Duration, Model, PositiveDuration
from orchestrator.config.k6_terms import Stage, Threshold
from orchestrator.config.limits import MAX_VUS
from orchestrator.config.types import Count, CountOrZero, Vus, VusOrZero

# A config Scenario: orchestrator/config/scenario.py builds on this module, so it is not named here.
ScenarioModel = TypeVar("ScenarioModel", bound=BaseModel)

ProfileName = Literal[
    "smoke", "load", "spike", "soak", "stress", "breakpoint", "throughput", "per-vu-iterations", "shared-iterations"
]


class Profile(Model):
    """A named load shape; orchestrator/config/profiles.py expands it into executor options.
    Which numbers each profile takes, and their defaults, is written there."""

    name: ProfileName
    vus: Vus | None = None
    start_vus: VusOrZero | None = None
    peak_vus: Vus | None = None
    levels: list[Vus] = Field(default_factory=list, description="load: VU plateaus, in order")
    steps: int | None = Field(None, gt=0, le=1000, description="stress: plateaus up to peak_vus")
    duration: PositiveDuration | None = None
    ramp_up: Duration | None = None
    hold: Duration | None = None
    ramp_down: Duration | None = None
    recover: Duration | None = None
    iterations: Count | None = None
    rate: Count | None = Field(None, description="throughput: iterations per time_unit")
    start_rate: CountOrZero | None = None
    peak_rate: Count | None = Field(None, description="breakpoint: the rate reached at the end of the ramp")
    time_unit: PositiveDuration | None = None
    pre_allocated_vus: Vus | None = None
    max_vus: Vus | None = None
    iteration_time: PositiveDuration | None = Field(None, description="expected seconds per iteration, sizes the VU pool")
    abort_error_rate: float | None = Field(None, gt=0, le=1, description="breakpoint: abort above this error ratio")
    abort_p95: PositiveDuration | None = Field(None, description="breakpoint: abort above this p95 latency")
    abort_delay: Duration | None = Field(None, description="breakpoint: no abort before this much time")

    @classmethod
    def from_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


# profile -> the numbers it takes (anything else set under it is a mistake worth naming)
ACCEPTS: dict[str, frozenset[str]] = {
    "smoke": frozenset({"vus", "duration", "iterations"}),
    "load": frozenset({"vus", "levels", "ramp_up", "hold", "ramp_down"}),
    "spike": frozenset({"start_vus", "peak_vus", "ramp_up", "hold", "ramp_down", "recover"}),
    "soak": frozenset({"vus", "duration", "ramp_up", "ramp_down"}),
    "stress": frozenset({"peak_vus", "steps", "ramp_up", "hold", "ramp_down"}),
    "breakpoint": frozenset({
        "start_rate", "peak_rate", "duration", "time_unit", "pre_allocated_vus", "max_vus", "iteration_time",
        "abort_error_rate", "abort_p95", "abort_delay",
    }),
    "throughput": frozenset({"rate", "time_unit", "duration", "pre_allocated_vus", "max_vus", "iteration_time"}),
    "per-vu-iterations": frozenset({"vus", "iterations", "duration"}),
    "shared-iterations": frozenset({"vus", "iterations", "duration"}),
}
REQUIRES: dict[str, tuple[str, ...]] = {
    "spike": ("peak_vus",),
    "soak": ("vus",),
    "stress": ("peak_vus",),
    "breakpoint": ("peak_rate",),
    "throughput": ("rate",),
    "per-vu-iterations": ("iterations",),
    "shared-iterations": ("iterations",),
}
# Scenario fields a profile sets; giving them beside a profile would be ambiguous.
EXECUTOR_FIELDS = (
    "executor", "vus", "start_vus", "duration", "iterations", "stages", "rate", "time_unit", "pre_allocated_vus",
    "max_vus",
)
DEFAULT_ITERATION_SECONDS = 0.5


@dataclass(frozen=True)
class Expansion:
    """What a profile means in k6 terms: Scenario fields, plus thresholds it adds."""

    fields: dict
    thresholds: dict = field(default_factory=dict)


def check_scenario(profile: Profile, scenario_fields: set[str], think_time: float) -> None:
    """Config-time check of a scenario with a profile (`scenario_fields`: the fields the scenario
    sets itself); ValueError lines name the field."""
    clashing = [f for f in EXECUTOR_FIELDS if f in scenario_fields]
    if clashing:
        raise ValueError(
            f"{clashing[0]}: set by profile '{profile.name}'; give the numbers under profile "
            f"(it takes {', '.join(sorted(ACCEPTS[profile.name]))})"
        )
    _check_vus(expand(profile, think_time=think_time))


def _check_vus(expansion: Expansion) -> None:
    """The VUs a profile works out (a VU pool sized from a rate) stay within what k6 can hold."""
    fields = expansion.fields
    counts = {name: fields.get(name) for name in ("vus", "start_vus", "pre_allocated_vus", "max_vus")}
    if fields.get("executor") == "ramping-vus":
        counts["stages"] = max((target for _, target in fields.get("stages", [])), default=0)
    for name, count in counts.items():
        if count is not None and count > MAX_VUS:
            raise ValueError(f"profile: works out to {count:,} VUs ({name}), more than {MAX_VUS:,}; "
                             "lower the rate or iteration_time, or set max_vus")


def expand(profile: Profile, *, think_time: float = 0.0) -> Expansion:
    name = profile.name
    given = profile.model_fields_set - {"name"}
    for extra in sorted(given - ACCEPTS[name]):
        raise ValueError(f"profile.{extra}: not used by the {name} profile (it takes {', '.join(sorted(ACCEPTS[name]))})")
    for needed in REQUIRES.get(name, ()):
        if getattr(profile, needed) is None:
            raise ValueError(f"profile.{needed}: the {name} profile needs {needed}")
    return _EXPANDERS[name](profile, think_time)


def resolve(scenario: ScenarioModel) -> ScenarioModel:
    """The scenario with its profile expanded (unchanged if it has none)."""
    if scenario.profile is None:
        return scenario
    expansion = expand(scenario.profile, think_time=scenario.think_time)
    update = dict(expansion.fields)
    update["stages"] = [Stage(duration=d, target=t) for d, t in update.get("stages", [])]
    thresholds = dict(scenario.thresholds)
    for metric, items in expansion.thresholds.items():
        thresholds.setdefault(metric, list(items))
    update["thresholds"] = thresholds
    return scenario.model_copy(update=update)


def _or(value, default):
    return default if value is None else value


def _smoke(p: Profile, _think: float) -> Expansion:
    vus = _or(p.vus, 1)
    if p.iterations is not None:
        fields = {"executor": "per-vu-iterations", "vus": vus, "iterations": p.iterations}
        if p.duration is not None:
            fields["duration"] = p.duration  # maxDuration
        return Expansion(fields)
    return Expansion({"executor": "constant-vus", "vus": vus, "duration": _or(p.duration, 60.0)})


def _load(p: Profile, _think: float) -> Expansion:
    if p.levels and p.vus is not None:
        raise ValueError("profile.levels: give vus (one plateau) or levels (several), not both")
    levels = list(p.levels) or ([p.vus] if p.vus is not None else [])
    if not levels:
        raise ValueError("profile.vus: the load profile needs vus (or levels)")
    ramp, hold = _or(p.ramp_up, 60.0), _or(p.hold, 300.0)
    stages = []
    for level in levels:
        stages += [(ramp, level), (hold, level)]
    stages.append((_or(p.ramp_down, 60.0), 0))
    return Expansion({"executor": "ramping-vus", "start_vus": 0, "stages": _drop_empty(stages)})


def _spike(p: Profile, _think: float) -> Expansion:
    base = _or(p.start_vus, 1)
    if p.peak_vus <= base:
        raise ValueError(f"profile.peak_vus: must exceed start_vus ({base})")
    stages = [
        (_or(p.ramp_up, 10.0), p.peak_vus),
        (_or(p.hold, 60.0), p.peak_vus),
        (_or(p.ramp_down, 10.0), base),
        (_or(p.recover, 60.0), base),
    ]
    return Expansion({"executor": "ramping-vus", "start_vus": base, "stages": _drop_empty(stages)})


def _soak(p: Profile, _think: float) -> Expansion:
    stages = [(_or(p.ramp_up, 60.0), p.vus), (_or(p.duration, 3600.0), p.vus), (_or(p.ramp_down, 60.0), 0)]
    return Expansion({"executor": "ramping-vus", "start_vus": 0, "stages": _drop_empty(stages)})


def _stress(p: Profile, _think: float) -> Expansion:
    steps = _or(p.steps, 4)
    ramp, hold = _or(p.ramp_up, 60.0), _or(p.hold, 120.0)
    stages = []
    for i in range(1, steps + 1):
        target = max(1, round(p.peak_vus * i / steps))
        stages += [(ramp, target), (hold, target)]
    stages.append((_or(p.ramp_down, 60.0), 0))
    return Expansion({"executor": "ramping-vus", "start_vus": 0, "stages": _drop_empty(stages)})


def _breakpoint(p: Profile, think: float) -> Expansion:
    time_unit = _or(p.time_unit, 1.0)
    start = _or(p.start_rate, 1)
    if p.peak_rate <= start:
        raise ValueError(f"profile.peak_rate: must exceed start_rate ({start})")
    pre, most = size_vu_pool(start, p.peak_rate, time_unit, _or(p.iteration_time, DEFAULT_ITERATION_SECONDS) + think,
                             p.pre_allocated_vus, p.max_vus)
    fields = {
        "executor": "ramping-arrival-rate", "rate": start, "time_unit": time_unit,
        "stages": [(_or(p.duration, 600.0), p.peak_rate)], "pre_allocated_vus": pre, "max_vus": most,
    }
    delay = _or(p.abort_delay, 10.0)
    thresholds = {
        "http_req_failed": [
            Threshold(threshold=f"rate<{_or(p.abort_error_rate, 0.05):g}", abort_on_fail=True, delay_abort_eval=delay)
        ],
        "http_req_duration": [
            Threshold(threshold=f"p(95)<{round(_or(p.abort_p95, 2.0) * 1000)}", abort_on_fail=True, delay_abort_eval=delay)
        ],
    }
    return Expansion(fields, thresholds)


def _throughput(p: Profile, think: float) -> Expansion:
    time_unit = _or(p.time_unit, 1.0)
    pre, most = size_vu_pool(p.rate, p.rate, time_unit, _or(p.iteration_time, DEFAULT_ITERATION_SECONDS) + think,
                             p.pre_allocated_vus, p.max_vus)
    return Expansion({
        "executor": "constant-arrival-rate", "rate": p.rate, "time_unit": time_unit,
        "duration": _or(p.duration, 300.0), "pre_allocated_vus": pre, "max_vus": most,
    })


def _iterations(p: Profile, _think: float) -> Expansion:
    fields = {"executor": p.name, "vus": _or(p.vus, 1), "iterations": p.iterations}
    if p.duration is not None:
        fields["duration"] = p.duration  # maxDuration
    return Expansion(fields)


def size_vu_pool(
    start_rate: float, peak_rate: float, time_unit: float, iteration_seconds: float,
    pre_allocated: int | None = None, max_vus: int | None = None,
) -> tuple[int, int]:
    """(preAllocatedVUs, maxVUs) for an arrival rate: Little's law at the expected iteration time."""
    per_second = lambda rate: rate / time_unit  # noqa: E731
    pre = pre_allocated or max(1, math.ceil(per_second(start_rate) * iteration_seconds))
    needed_at_peak = max(1, math.ceil(per_second(peak_rate) * iteration_seconds))
    most = max_vus or max(needed_at_peak * 4, needed_at_peak + 10)
    if most < pre:
        raise ValueError(f"profile.max_vus: {most} is below pre_allocated_vus ({pre})")
    return pre, most


def _drop_empty(stages: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """A zero-length ramp or hold (`hold: 0s`) is left out rather than sent to k6."""
    return [(d, t) for d, t in stages if d > 0]


_EXPANDERS = {
    "smoke": _smoke,
    "load": _load,
    "spike": _spike,
    "soak": _soak,
    "stress": _stress,
    "breakpoint": _breakpoint,
    "throughput": _throughput,
    "per-vu-iterations": _iterations,
    "shared-iterations": _iterations,
}
