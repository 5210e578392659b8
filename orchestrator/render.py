"""Config scenario -> k6 JavaScript, through Jinja2 templates.

Every value from the config enters the script as JSON data inside one ASCII string
literal (`JSON.parse("...")`), so quotes, backticks, `${...}`, `</script>`, newlines
and non-ASCII text cannot change the code; the only identifiers written into code are
exec function names that perfctl derives itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import __version__
from orchestrator.config import Config, LoadedConfig, Scenario
from orchestrator.durations import k6_duration
from orchestrator.errors import UsageError

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class K6Features:
    """What the detected k6 version supports; rendering and flags follow it."""

    version: tuple[int, int, int]

    @property
    def websocket_module(self) -> str:
        # k6/websockets left experimental in 1.6; before that only the experimental path exists.
        return "k6/websockets" if self.version >= (1, 6, 0) else "k6/experimental/websockets"

    @property
    def text(self) -> str:
        return "v" + ".".join(map(str, self.version))


@dataclass(frozen=True)
class Overrides:
    vus: int | None = None
    duration: float | None = None
    rate: int | None = None  # arrival-rate executors: iterations per time unit
    stages: tuple[tuple[float, int], ...] | None = None  # (seconds, target) pairs replacing the stages


@dataclass(frozen=True)
class Part:
    name: str
    exec: str
    protocol: str
    executor: str
    scenario: Scenario


@dataclass(frozen=True)
class RenderedScript:
    scenario: str
    text: str
    parts: tuple[Part, ...]
    expected_seconds: float  # the longest part's planned duration, for progress and windows
    plan: dict = field(repr=False)


def scenario_parts(config: Config, name: str) -> list[tuple[str, Scenario]]:
    if name not in config.scenarios:
        known = ", ".join(sorted(config.scenarios))
        raise UsageError(f"unknown scenario '{name}' (this config has: {known})")
    scenario = config.scenarios[name]
    if scenario.include:
        return [(inc, config.scenarios[inc]) for inc in scenario.include]
    return [(name, scenario)]


def render_scenario(
    loaded: LoadedConfig, name: str, features: K6Features, overrides: Overrides = Overrides()
) -> RenderedScript:
    config = loaded.config
    parts = []
    used: set[str] = set()
    for part_name, scenario in scenario_parts(config, name):
        scenario = apply_overrides(scenario, overrides)
        parts.append(Part(part_name, _exec_name(part_name, used), scenario.protocol, scenario.executor, scenario))
    plan = _plan(config, parts)
    context = {
        "perfctl_version": __version__,
        "k6_version": features.text,
        "config_name": loaded.path.name,
        "config_digest": loaded.digest,
        "scenario": name,
        "parts": parts,
        "uses_websocket": any(p.protocol == "websocket" for p in parts),
        "websocket_module": features.websocket_module,
        # A JSON document inside a JSON string literal: pure ASCII, no way out of the string.
        "plan_literal": json.dumps(json.dumps(plan, ensure_ascii=True, sort_keys=True)),
    }
    text = _environment().get_template("script.js.j2").render(**context)
    expected = max(planned_seconds(p.scenario) for p in parts)
    return RenderedScript(scenario=name, text=text, parts=tuple(parts), expected_seconds=expected, plan=plan)


def apply_overrides(scenario: Scenario, overrides: Overrides) -> Scenario:
    changes: dict = {}
    if overrides.vus is not None:
        if scenario.executor in ("ramping-vus",):
            peak = max(s.target for s in scenario.stages) or 1
            changes["stages"] = [
                s.model_copy(update={"target": round(s.target * overrides.vus / peak)}) for s in scenario.stages
            ]
        elif scenario.executor in ("constant-arrival-rate", "ramping-arrival-rate"):
            changes["pre_allocated_vus"] = overrides.vus
            changes["max_vus"] = max(overrides.vus, scenario.max_vus or 0)
        else:
            changes["vus"] = overrides.vus
    if overrides.duration is not None:
        if scenario.stages:
            total = sum(s.duration for s in scenario.stages) or 1.0
            changes["stages"] = [
                s.model_copy(update={"duration": s.duration * overrides.duration / total})
                for s in changes.get("stages", scenario.stages)
            ]
        else:
            changes["duration"] = overrides.duration
    return scenario.model_copy(update=changes) if changes else scenario


def planned_seconds(scenario: Scenario) -> float:
    if scenario.stages:
        run = sum(s.duration for s in scenario.stages)
    elif scenario.duration is not None:
        run = scenario.duration
    else:
        run = 0.0  # iteration-based: unknown up front
    return scenario.start_time + run


def _exec_name(name: str, used: set[str]) -> str:
    base = "run_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}_{n}", n + 1
    used.add(candidate)
    return candidate


def _plan(config: Config, parts: list[Part]) -> dict:
    thresholds: dict[str, list[str]] = {}
    for part in parts:
        for metric, exprs in part.scenario.thresholds.items():
            thresholds.setdefault(metric, [])
            thresholds[metric] += [e for e in exprs if e not in thresholds[metric]]
    return {
        "base_url": config.target.base_url.rstrip("/"),
        "ws_base_url": config.target.websocket_url,
        "headers": config.target.headers,
        "scenarios": {p.name: _executor_options(p) for p in parts},
        "thresholds": thresholds,
        "parts": {p.name: _part_data(p) for p in parts},
    }


def _executor_options(part: Part) -> dict:
    s = part.scenario
    opts: dict = {"executor": s.executor, "exec": part.exec, "gracefulStop": "10s"}
    if s.start_time:
        opts["startTime"] = k6_duration(s.start_time)
    if s.tags:
        opts["tags"] = dict(s.tags)
    stages = [{"duration": k6_duration(st.duration), "target": st.target} for st in s.stages]
    vus = s.vus or 1
    if s.executor == "constant-vus":
        opts.update(vus=vus, duration=k6_duration(s.duration or 0))
    elif s.executor == "ramping-vus":
        opts.update(startVUs=0, stages=stages, gracefulRampDown="10s")
    elif s.executor in ("constant-arrival-rate", "ramping-arrival-rate"):
        pre = s.pre_allocated_vus or max(1, s.vus or 10)
        opts.update(timeUnit=k6_duration(s.time_unit), preAllocatedVUs=pre, maxVUs=max(pre, s.max_vus or pre * 2))
        if s.executor == "constant-arrival-rate":
            opts.update(rate=s.rate, duration=k6_duration(s.duration or 0))
        else:
            opts.update(startRate=s.rate or 0, stages=stages)
    else:  # per-vu-iterations, shared-iterations
        opts.update(vus=vus, iterations=s.iterations)
        if s.duration:
            opts["maxDuration"] = k6_duration(s.duration)
    return opts


def _part_data(part: Part) -> dict:
    s = part.scenario
    data: dict = {"name": part.name, "protocol": s.protocol, "think_time": s.think_time}
    if s.protocol == "http":
        requests = [r.model_dump(by_alias=True, mode="json") for r in s.requests]
        total, cumulative = 0.0, []
        for r in s.requests:
            total += r.weight
            cumulative.append(total)
        data.update(requests=requests, cumulative_weights=cumulative)
    else:
        flow = s.websocket or _default_websocket()
        data["websocket"] = {
            "path": flow.path,
            "messages": flow.messages,
            "done_type": flow.done_type,
            "reply_timeout_ms": round(flow.reply_timeout * 1000),
            "headers": flow.headers,
        }
    return data


def _default_websocket():
    from orchestrator.config import WebSocketFlow

    return WebSocketFlow()


def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # JavaScript, not HTML: data goes in through the JSON literal only
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
