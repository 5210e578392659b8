"""Custom objectives' PromQL checked before any load: `perfctl validate`, and `perfctl run`
before the health gate.

Two checks, each a list of one-line problems (exit 2):

- static, without Prometheus: a query on a k6 trend stat that `k6.trend_stats` does not
  export (`k6_ws_reply_time_p90` without `p(90)`), or on a k6 metric no scenario defines,
  would only say "no data" after the run;
- syntax, by the configured Prometheus when it answers: Prometheus 2.42 has no parse-only
  endpoint, but an instant query answers HTTP 400 `bad_data` ("1:18: parse error: ...") for
  a syntax error. The query is filled in as the gate would fill it and pinned to 1970
  (`time=60`), where no data exists, so evaluating it costs nothing.
"""

from __future__ import annotations

import re

from orchestrator.config.model import Config
from orchestrator.config.objectives import Objective
from orchestrator.errors import ConfigError, EnvironmentProblem, UsageError
from orchestrator.config.k6_terms import K6_BUILTIN_METRICS, PERFCTL_SCRIPT_METRICS
from orchestrator.verdict.gate import PLACEHOLDERS, QueryContext, Window

_TYPE_SUFFIX = {"counter": "_total", "rate": "_rate", "gauge": ""}
_TREND_STAT = re.compile(r"^(?P<name>.+)_(?P<stat>p\d+|avg|min|max|med|count|sum)$")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_K6_NAME = re.compile(r"(?<![A-Za-z0-9_:])k6_[A-Za-z0-9_]+")
_PARSE_ERROR = re.compile(r".*\b(\d+):(\d+)(?:-\d+:\d+)?: parse error: (.*)$", re.DOTALL)
# Where the syntax check pins its queries: 60 s after 1970-01-01, where no data exists.
_CHECK_WINDOW = Window(start=0.0, end=60.0)


def custom_objectives(config: Config, scenario: str | None = None) -> list[tuple[int, Objective]]:
    """(index in `objectives`, objective) of the custom queries; only the scenario's if given."""
    return [(i, o) for i, o in enumerate(config.objectives)
            if o.query is not None and (scenario is None or o.applies_to(scenario))]


def _label(index: int, obj: Objective) -> str:
    return f"objectives[{index}] '{obj.name}'"


# ---- static: names k6 will send -------------------------------------------------------------------


def stat_suffix(stat: str) -> str:
    """k6's remote-write suffix of a trend stat: p(90) -> p90, p(99.9) -> p999, avg -> avg."""
    return re.sub(r"[().]", "", stat)


def _stat_of_suffix(suffix: str) -> str:
    """The trend_stats entry that makes k6 send `suffix`: p90 -> p(90), p999 -> p(99.9)."""
    if re.fullmatch(r"p\d+", suffix):
        digits = suffix[1:]
        return f"p({digits[:2]}.{digits[2:]})" if len(digits) > 2 else f"p({digits})"
    return suffix


def known_metrics(config: Config) -> dict[str, str]:
    known = {**K6_BUILTIN_METRICS, **PERFCTL_SCRIPT_METRICS}
    for scenario in config.scenarios.values():
        known.update(scenario.metrics)
    return known


def static_problems(config: Config, objectives: list[tuple[int, Objective]], *, own_metrics: bool = False) -> list[str]:
    """`own_metrics`: a hand-written script defines metrics the config does not know, so
    only the trend-stat rule applies."""
    known = known_metrics(config)
    exported = {stat_suffix(s) for s in config.k6.trend_stats}
    problems = []
    for index, obj in objectives:
        seen = set()
        for token in _K6_NAME.findall(_STRINGS.sub('""', obj.query or "")):
            if token in seen:
                continue
            seen.add(token)
            problem = _token_problem(token, known, exported, config, own_metrics=own_metrics)
            if problem:
                problems.append(f"{_label(index, obj)}: {problem}")
    return problems


def _token_problem(token: str, known: dict[str, str], exported: set[str], config: Config, *, own_metrics: bool) -> str:
    rest = token[len("k6_"):]
    if rest.startswith("browser_"):
        return ""  # k6 browser's many metrics: not checked here
    readings = [(rest, "gauge", None)]
    for kind, suffix in (("counter", "_total"), ("rate", "_rate"), ("trend", "_seconds")):
        if rest.endswith(suffix) and len(rest) > len(suffix):
            readings.append((rest[: -len(suffix)], kind, None))
    stat = _TREND_STAT.match(rest)
    if stat:
        readings.append((stat["name"], "trend", stat["stat"]))
    for name, kind, suffix in readings:
        if known.get(name) != kind:
            continue
        if suffix is None or suffix in exported or config.k6.native_histograms:
            return ""
        listed = ", ".join(config.k6.trend_stats) or "empty"
        return (f"{token} is trend stat '{_stat_of_suffix(suffix)}' of '{name}', which k6 does not export "
                f"(k6.trend_stats: {listed}): add \"{_stat_of_suffix(suffix)}\" to k6.trend_stats")
    if own_metrics:
        return ""
    # No reading names a metric of the right type: say what the closest one is.
    for name, kind, suffix in readings:
        if name in known:
            actual = known[name]
            sent = f"k6_{name}_<stat> (e.g. k6_{name}_p95)" if actual == "trend" else f"k6_{name}{_TYPE_SUFFIX[actual]}"
            return f"{token}: '{name}' is a {actual}, which k6 sends as {sent}"
    name, kind, _ = readings[-1]  # the most specific reading: k6_foo_total -> foo
    return (f"{token}: no scenario defines the k6 metric '{name}': declare it under a scenario's metrics "
            f"(scenarios.NAME.metrics: {{{name}: {kind}}}) and feed it from a request (feeds:), or fix the name")


# ---- syntax: asked of Prometheus --------------------------------------------------------------------


def fill_for_check(config: Config, obj: Objective) -> tuple[str, list[int]]:
    """The query filled in as the gate fills it, and for each character of the filled text
    (and its end) the position in the objective's own text, so an error points there."""
    ctx = QueryContext("perfctl-validate", _CHECK_WINDOW, config.prometheus.scrape_interval, config.k6.push_interval)
    template = obj.query or ""
    names = sorted(PLACEHOLDERS, key=len, reverse=True)  # longest first, as QueryContext.fill does
    filled: list[str] = []
    where: list[int] = []
    i = 0
    while i < len(template):
        name = next((n for n in names if template.startswith(n, i)), None)
        if name is None:
            filled.append(template[i])
            where.append(i)
            i += 1
            continue
        value = ctx.fill(name, obj.job)
        filled.append(value)
        where.extend([i] * len(value))
        i += len(name)
    where.append(len(template))
    return "".join(filled), where


def _position(filled: str, where: list[int], template: str, line: int, column: int) -> str:
    """Prometheus's line:column in the filled text -> 'char N' (or 'line L, char N') in the template."""
    lines = filled.split("\n")
    offset = sum(len(text) + 1 for text in lines[: max(line - 1, 0)]) + column - 1
    at = where[min(max(offset, 0), len(where) - 1)]
    before = template[:at]
    template_line = before.count("\n") + 1
    char = at - (before.rfind("\n") + 1) + 1
    place = f"char {char}" if "\n" not in template.strip() else f"line {template_line}, char {char}"
    shown = before.splitlines()[-1][-40:] if before.strip() else ""
    return f"{place}" + (f" (after '{shown}')" if shown else " (at the start)")


def syntax_problems(config: Config, objectives: list[tuple[int, Objective]], prom) -> list[str] | None:
    """Parse errors as Prometheus reports them; None when Prometheus does not answer."""
    if not objectives:
        return []
    if not prom.ready():
        return None
    problems = []
    for index, obj in objectives:
        filled, where = fill_for_check(config, obj)
        try:
            prom.query(filled, at=_CHECK_WINDOW.end)
        except EnvironmentProblem:
            return None
        except UsageError as exc:  # QueryRejected: Prometheus refused the text
            m = _PARSE_ERROR.match(exc.message)
            if m:
                where_text = _position(filled, where, obj.query or "", int(m[1]), int(m[2]))
                problems.append(f"{_label(index, obj)}: PromQL parse error at {where_text}: {m[3].strip()}")
            else:
                problems.append(f"{_label(index, obj)}: {exc.message}")
    return problems


# ---- both, for the commands -------------------------------------------------------------------------


def check_queries(
    config: Config, prom, *, scenario: str | None = None, own_metrics: bool = False, ask_prometheus: bool = True
) -> bool:
    """Raise ConfigError (exit 2) listing every problem; True when Prometheus checked the syntax
    (False: it did not answer, or was not asked; the caller may ask again later)."""
    objectives = custom_objectives(config, scenario)
    problems = static_problems(config, objectives, own_metrics=own_metrics)
    syntax = syntax_problems(config, objectives, prom) if ask_prometheus else None
    problems += syntax or []
    problems.sort(key=lambda line: int(re.match(r"objectives\[(\d+)\]", line)[1]))  # in the config's order
    if problems:
        raise ConfigError(f"{len(problems)} objective query problem(s), found before any load", lines=problems)
    return syntax is not None


def check_syntax_now(config: Config, prom, *, scenario: str) -> None:
    """The syntax check once Prometheus answers (a run that started it after the first check)."""
    problems = syntax_problems(config, custom_objectives(config, scenario), prom)
    if problems:
        raise ConfigError(f"{len(problems)} objective query problem(s), found before any load", lines=problems)
