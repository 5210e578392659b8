"""Render a Verdict for people (terminal, Markdown) and machines (verdict.json, JUnit XML).

Pure string/dict functions: the callers decide where the text goes. Every renderer
sanitises text that came from the config or from Prometheus, because objective names
and reasons end up in terminals (escape sequences), XML (invalid characters) and
Markdown tables (`|`).
"""

from __future__ import annotations

import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Any

from orchestrator import units
from orchestrator.percent import percent_text
from orchestrator.units import format_value
from orchestrator.verdict.slo import Grade, Result, Verdict

SCHEMA = "perfctl.verdict/v1"

# ---- verdict.json -----------------------------------------------------------------------------------

# JSON has no NaN or infinity; Python's json would write the non-standard `NaN`/`Infinity`
# that jq and most other readers reject, so non-finite numbers travel as these strings.
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _num_out(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _num_in(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in _NONFINITE:
            raise ValueError(f"not a number: {value!r}")
        return _NONFINITE[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    return value


def _as_datetime(value: Any) -> datetime:
    """A window edge given as an aware/naive datetime (naive = UTC), epoch seconds or ISO text."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(value, timezone.utc)
    elif isinstance(value, str):
        # Python 3.10's fromisoformat does not take a trailing Z.
        dt = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    else:
        raise ValueError(f"window: cannot read {value!r} as a time")
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _window_out(window: dict) -> dict:
    start, end = _as_datetime(window["start"]), _as_datetime(window["end"])
    seconds = window.get("seconds")
    seconds = float(seconds) if seconds is not None else (end - start).total_seconds()
    return {"start": _iso(start), "end": _iso(end), "seconds": seconds}


def _objective_out(g: Grade, query: str | None) -> dict:
    return {
        "name": g.name,
        "query": query,
        "value": _num_out(g.value),
        "criterion": g.criteria,
        "warning": g.warning,
        "weight": g.weight,
        "key": g.key,
        "result": g.result.value,
        "score": g.score,
        "baseline": _num_out(g.baseline),
        "reason": g.reason,
        "unit": g.unit,
    }


def verdict_to_dict(
    verdict: Verdict,
    *,
    run_id: str,
    scenario: str,
    window: dict,
    queries: dict[str, str],
    extra: dict | None = None,
) -> dict:
    """The stable `verdict.json` document (schema `perfctl.verdict/v1`).

    `window` takes `start` and `end` (datetime, epoch seconds or ISO text) and optionally
    `seconds`; they are written as UTC ISO-8601. `extra` keys are added at the top level
    but may not replace a schema key.
    """
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": run_id,
        "scenario": scenario,
        "result": verdict.result.value,
        "score": verdict.score,
        "max_score": verdict.max_score,
        "percent": _num_out(verdict.percent),
        "window": _window_out(window),
        "reasons": list(verdict.reasons),
        "objectives": [_objective_out(g, queries.get(g.name)) for g in verdict.grades],
    }
    clashes = sorted(set(extra or {}) & set(doc))
    if clashes:
        raise ValueError(f"extra keys would replace schema keys: {', '.join(clashes)}")
    doc.update(extra or {})
    return doc


def _grade_in(o: dict) -> Grade:
    return Grade(
        name=o["name"],
        result=Result(o["result"]),
        value=_num_in(o.get("value")),
        score=o["score"],
        weight=o["weight"],
        key=o["key"],
        criteria=o["criterion"],
        warning=o.get("warning"),
        baseline=_num_in(o.get("baseline")),
        reason=o.get("reason", ""),
        unit=o.get("unit", "none"),  # verdicts written before units read as plain numbers
    )


def verdict_from_dict(d: dict) -> Verdict:
    """The inverse of verdict_to_dict (run id, window and queries are not part of a Verdict)."""
    if d.get("schema") != SCHEMA:
        raise ValueError(f"not a {SCHEMA} document (schema: {d.get('schema')!r})")
    return Verdict(
        result=Result(d["result"]),
        score=d["score"],
        max_score=d["max_score"],
        percent=_num_in(d["percent"]),
        grades=tuple(_grade_in(o) for o in d["objectives"]),
        reasons=tuple(d.get("reasons", ())),
    )


# ---- shared text helpers ---------------------------------------------------------------------------

# C0/C1 control characters (ESC, CR, BEL, ...): in a terminal they could move the cursor or
# recolour the screen, in XML most of them are not even allowed.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Characters XML 1.0 forbids outright (ElementTree would write them and produce broken XML).
_XML_INVALID_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _one_line(text: str) -> str:
    """Newlines and tabs become spaces; other control characters become U+FFFD."""
    text = re.sub(r"[\r\n\t]+", " ", text)
    return _CONTROL_RE.sub("\ufffd", text)


def _xml_text(text: str) -> str:
    return _XML_INVALID_RE.sub("\ufffd", text)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _percent(verdict: Verdict) -> str:
    # The one formatter (orchestrator/percent.py): never rounds 89.96% up to 90%. With no
    # evaluated weight there is no score, which "0%" would misstate.
    return percent_text(verdict.percent if verdict.max_score else None)


def _criterion_cell(g: Grade) -> str:
    criteria = units.criterion(g.criteria, g.unit)
    return criteria if g.warning is None else f"{criteria} (warn {units.criterion(g.warning, g.unit)})"


def _value_cell(g: Grade) -> str:
    value = units.quantity(g.value, g.unit)
    return value if g.baseline is None else f"{value} (baseline {units.quantity(g.baseline, g.unit)})"


# ---- terminal -------------------------------------------------------------------------------------

_ANSI = {
    Result.PASS: "\x1b[32m",  # green
    Result.WARNING: "\x1b[33m",  # yellow
    Result.FAIL: "\x1b[31m",  # red
    Result.INCONCLUSIVE: "\x1b[35m",  # magenta
    Result.NOT_EVALUATED: "\x1b[36m",  # cyan
}
_RESET = "\x1b[0m"
_NAME_LIMIT = 40
_QUERY_LIMIT = 60


def _width(text: str) -> int:
    """Terminal columns: CJK and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


def _paint(text: str, result: Result, color: bool) -> str:
    return f"{_ANSI[result]}{text}{_RESET}" if color else text


def terminal_table(verdict: Verdict, *, queries: dict | None = None, color: bool) -> str:
    """A compact fixed-width table (objective | value | criterion | result [| query]),
    the score line and the reasons. No escape codes at all when color is False."""
    headers = ["objective", "value", "criterion", "result"] + (["query"] if queries else [])
    rows = []
    for g in verdict.grades:
        name = _truncate(_one_line(g.name), _NAME_LIMIT) + (" (key)" if g.key else "")
        row = [name, _one_line(_value_cell(g)), _one_line(_criterion_cell(g)), g.result.name]
        if queries:
            row.append(_truncate(_one_line(queries.get(g.name) or "—"), _QUERY_LIMIT))
        rows.append((row, g.result))
    widths = [max([_width(h)] + [_width(r[i]) for r, _ in rows]) for i, h in enumerate(headers)]

    def line(cells: list[str], result: Result | None) -> str:
        out = []
        for i, cell in enumerate(cells):
            # The last cell is not padded: trailing blanks only wrap badly in narrow terminals.
            padded = cell if i == len(cells) - 1 else _pad(cell, widths[i], right=(i == 1))
            # Paint after padding: escape codes have no width, so padding them would misalign.
            out.append(_paint(padded, result, color) if i == 3 and result is not None else padded)
        return "  ".join(out)

    lines = [line(headers, None), "  ".join("-" * w for w in widths)]
    lines += [line(row, result) for row, result in rows] or ["(no objectives)"]
    score = f"{format_value(verdict.score)}/{format_value(verdict.max_score)}"
    word = _paint(verdict.result.name, verdict.result, color)
    lines.append(f"score {_percent(verdict)} ({score}) → {word}")
    lines += [f"  {_one_line(reason)}" for reason in verdict.reasons]
    return "\n".join(lines) + "\n"


# ---- JUnit XML ------------------------------------------------------------------------------------

GATE_CASE = "(gate)"


def _in_unit(value: float | None, unit: str) -> str:
    """` (12.3 ms)` beside the raw number, when the unit changes how it reads."""
    shown = units.quantity(value, unit, digits=6)
    return "" if value is None or shown == format_value(value, digits=6) else f" ({shown})"


def _in_unit_criterion(text: str, unit: str) -> str:
    shown = units.criterion(text, unit)
    return "" if shown == text else f" ({shown})"


def _case_details(g: Grade, *, with_reason: bool = True) -> str:
    lines = [
        f"value: {format_value(g.value, digits=6)}" + _in_unit(g.value, g.unit),
        f"criterion: {g.criteria}" + _in_unit_criterion(g.criteria, g.unit),
    ]
    if g.warning is not None:
        lines.append(f"warning: {g.warning}")
    if g.baseline is not None:
        lines.append(f"baseline: {format_value(g.baseline, digits=6)}")
    lines.append(f"weight: {format_value(g.weight)}" + (" (key)" if g.key else ""))
    if with_reason:
        lines.append(f"reason: {g.reason or '—'}")
    return "\n".join(lines)


def _testcase(classname: str, name: str, result: Result, message: str, body: str) -> ET.Element:
    """A passing testcase, or one with <failure>/<error>; a warning passes but says so."""
    case = ET.Element("testcase", classname=classname, name=_xml_text(name))
    message, body = _xml_text(message), _xml_text(body)
    if result is Result.FAIL:
        ET.SubElement(case, "failure", message=message, type="slo.fail").text = body
    elif result is Result.INCONCLUSIVE:
        # An error, not a skip: a gate without data must not look green in CI.
        ET.SubElement(case, "error", message=message, type="slo.inconclusive").text = body
    elif result is Result.WARNING:
        ET.SubElement(case, "system-out").text = f"warning: {message}\n{body}"
    elif result is Result.NOT_EVALUATED:
        # Skipped, not passed: the objective was measured but not judged (no baseline yet).
        ET.SubElement(case, "skipped", message=message).text = body
    return case


def junit_xml(
    verdict: Verdict,
    *,
    run_id: str,
    scenario: str,
    duration_seconds: float,
    include_gate: bool = True,
) -> str:
    """One <testsuite name="perfctl.<scenario>"> with a <testcase> per objective.

    With include_gate (the default) one more testcase, `(gate)`, carries the overall
    verdict: a score below the threshold fails the gate although no single objective
    failed, and a gate with no objectives is inconclusive — CI must show both.
    """
    classname = _xml_text(f"perfctl.{scenario}")
    seconds = duration_seconds if math.isfinite(duration_seconds) and duration_seconds > 0 else 0.0
    cases = []
    for g in verdict.grades:
        # A warning's reason is already its message; failures and errors repeat it in the body
        # because some CI views show only the body.
        body = _case_details(g, with_reason=g.result is not Result.WARNING)
        cases.append((_testcase(classname, g.name, g.result, g.reason or g.result.value, body), g.result))
    if include_gate:
        score = f"score {_percent(verdict)} ({format_value(verdict.score)}/{format_value(verdict.max_score)})"
        message = "; ".join(verdict.reasons) or verdict.result.value
        body = score if verdict.result is Result.WARNING else "\n".join([score, *verdict.reasons])
        cases.append((_testcase(classname, GATE_CASE, verdict.result, message, body), verdict.result))

    counts = {
        "tests": str(len(cases)),
        "failures": str(sum(r is Result.FAIL for _, r in cases)),
        "errors": str(sum(r is Result.INCONCLUSIVE for _, r in cases)),
        "skipped": str(sum(r is Result.NOT_EVALUATED for _, r in cases)),
        "time": f"{seconds:.3f}",
    }
    root = ET.Element("testsuites", name="perfctl", **counts)
    suite = ET.SubElement(root, "testsuite", name=classname, **counts)
    props = ET.SubElement(suite, "properties")
    for key, value in (("run_id", run_id), ("scenario", scenario), ("result", verdict.result.value),
                       ("percent", _percent(verdict))):
        ET.SubElement(props, "property", name=key, value=_xml_text(value))
    suite.extend(case for case, _ in cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---- Markdown -------------------------------------------------------------------------------------


def md_cell(text: str) -> str:
    # A `|` would end the cell; a newline would end the row.
    return _one_line(text).replace("|", "\\|")


def _md_code(text: str) -> str:
    """Inline code that survives backticks in the text."""
    text = _one_line(text)
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown(verdict: Verdict, *, run_id: str, scenario: str, window_seconds: float, results_path: str) -> str:
    """A summary for a PR comment or a CI job summary: heading, objectives table, score, reasons."""
    lines = [
        f"## perfctl gate: {verdict.result.name} — {md_cell(scenario)}",
        "",
        f"Run {_md_code(run_id)}, window {format_value(window_seconds)} s, results in {_md_code(results_path)}.",
        "",
    ]
    if verdict.grades:
        lines += [
            "| Objective | Value | Criterion | Weight | Result | Reason |",
            "| --- | ---: | --- | ---: | --- | --- |",
        ]
        for g in verdict.grades:
            name = g.name + (" (key)" if g.key else "")
            cells = [name, _value_cell(g), _criterion_cell(g), format_value(g.weight), g.result.name, g.reason]
            lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    else:
        lines.append("_No objectives._")
    score = f"{format_value(verdict.score)}/{format_value(verdict.max_score)}"
    lines += ["", f"**Score:** {_percent(verdict)} ({score}) → **{verdict.result.name}**"]
    if verdict.reasons:
        lines += [""] + [f"- {_one_line(r)}" for r in verdict.reasons]
    return "\n".join(lines) + "\n"
