"""A run's load plan in a line per k6 scenario, for run.json and the reports:
`ramping-vus: 0 → 2,000 → 5,000 → 10,000 → 0 VUs over 23m`, `constant-vus: 4 VUs for 20s`."""

from __future__ import annotations

from orchestrator import units
from orchestrator.config.durations import parse_duration


def describe_plan(plan: dict) -> list[dict]:
    """[{part, executor, shape}] for each k6 scenario of a generated script's PLAN."""
    scenarios = plan.get("scenarios") if isinstance(plan, dict) else None
    return [
        {"part": name, "executor": str(options.get("executor", "")), "shape": shape(options)}
        for name, options in (scenarios or {}).items()
        if isinstance(options, dict)
    ]


def shape(options: dict) -> str:
    executor = options.get("executor", "")
    if executor in ("ramping-vus", "ramping-arrival-rate"):
        start = options.get("startVUs", options.get("startRate", 0))
        targets = [start] + [stage.get("target", 0) for stage in options.get("stages") or ()]
        total = sum(_seconds(stage.get("duration")) for stage in options.get("stages") or ())
        steps = _collapse(targets)
        what = "VUs" if executor == "ramping-vus" else f"iterations per {options.get('timeUnit', '1s')}"
        return f"{' → '.join(units.number(t) for t in steps)} {what} over {units.duration(total)}"
    if executor == "constant-vus":
        return f"{units.number(options.get('vus', 1))} VUs for {options.get('duration', '?')}"
    if executor == "constant-arrival-rate":
        return (f"{units.number(options.get('rate', 0))} iterations per {options.get('timeUnit', '1s')}"
                f" for {options.get('duration', '?')} (up to {units.number(options.get('maxVUs', options.get('preAllocatedVUs', 0)))} VUs)")
    if executor in ("per-vu-iterations", "shared-iterations"):
        return f"{units.number(options.get('iterations', 1))} iterations, {units.number(options.get('vus', 1))} VUs"
    return str(executor)


def _collapse(targets: list) -> list:
    """0 → 10 → 10 → 0 reads 0 → 10 → 0: a hold is a stage, not a new level."""
    out: list = []
    for target in targets:
        if not out or out[-1] != target:
            out.append(target)
    return out


def _seconds(text) -> float:
    try:
        return parse_duration(str(text)) if text is not None else 0.0
    except ValueError:
        return 0.0
