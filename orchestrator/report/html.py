"""report.html: one self-contained page a person opens from the results folder.

The verdict and score with the objectives' table, the run's settings, k6's headline and a
row per request beside its own thresholds, then a chart per objective (its time series
over the run, the criterion drawn in its grade's colour) and k6's load shape (VUs,
requests/s, failures) on the same time axis. Charts are inline SVG (orchestrator/report/svg_chart.py):
nothing is fetched, so the page works offline and from a CI artifact.

`collect` reads the series from Prometheus (query_range); `render` is pure.
"""

from __future__ import annotations

import html
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from orchestrator.units import format_value
from orchestrator import units
from orchestrator.verdict import gate
from orchestrator.k6 import breakdown as k6_breakdown
from orchestrator.k6.memory import MemoryMode
from orchestrator.report import k6_tables
from orchestrator import criteria
from orchestrator.verdict import slo
from orchestrator.config.model import Config
from orchestrator.config.objectives import Objective
from orchestrator.errors import PerfctlError
from orchestrator.ledger.record import RunRecord
from orchestrator.percent import percent_text
from orchestrator.monitoring.prometheus import Prometheus
from orchestrator.report.svg_chart import (  # noqa: F401 - the chart's colours are the report's
    LOAD_COLOR, PASS_LINE_COLOR, SERIES_COLOR, WARNING_LINE_COLOR, Chart, Line, Points, draw,
)

RESULT_COLOR = {"pass": "#2da44e", "warning": "#d4a72c", "fail": "#cf222e", "inconclusive": "#8250df",
                "not-evaluated": "#6e7781"}
MAX_POINTS = 240  # steps per chart: fine enough for minutes-long runs, small enough to stay light
# k6's load shape: title -> unit.
LOAD_UNITS = {"VUs": "none", "requests/s": "req/s", "failed requests": "ratio"}


@dataclass(frozen=True)
class ReportData:
    run_id: str
    start: float
    end: float  # the run's end
    until: float  # the charts' right edge (the run's end, or later for drain objectives)
    objectives: list[Chart] = field(default_factory=list)
    load: list[Chart] = field(default_factory=list)
    settings: tuple[tuple[str, str], ...] = ()  # (what, value) of the run, in order
    dashboard: str | None = None  # k6's own dashboard export beside report.html, when k6 made one


def collect(config: Config, prom: Prometheus, objectives: list[Objective], *, run_id: str, window: gate.Window,
            record: RunRecord | None = None, run_path: Path | None = None) -> ReportData:
    """The charts' series from Prometheus; `record` (run.json) gives the settings table and
    `run_path` the folder where k6 may have left its dashboard export."""
    until = max([window.end] + [gate.measure_time(o, window) for o in objectives])
    ctx = gate.QueryContext(run_id, window, config.prometheus.scrape_interval, config.k6.push_interval)
    step = max(0.5, (until - window.start) / MAX_POINTS)
    plans = [(obj.name, *gate.series_query(obj, ctx, native_histograms=config.k6.native_histograms), until) for obj in objectives]
    plans += [(title, ctx.fill(template), "", window.end) for title, template in gate.LOAD_QUERIES.items()]
    # Independent queries, side by side as the gate's: a run's exit waits for this report.
    with ThreadPoolExecutor(max_workers=8) as pool:
        series = list(pool.map(lambda plan: _series(prom, plan[1], window.start, plan[3], step), plans))
    chart_units = [units.sli_unit(o.sli, o.unit) for o in objectives] + [LOAD_UNITS.get(t, "none") for t in gate.LOAD_QUERIES]
    drawn = [Chart(title=title, points=points, note=note, problem=problem, unit=unit)
             for (title, _, note, _), (points, problem), unit in zip(plans, series, chart_units)]
    charts, load = drawn[: len(objectives)], drawn[len(objectives):]
    dashboard = "dashboard.html" if run_path is not None and (run_path / "dashboard.html").is_file() else None
    return ReportData(run_id=run_id, start=window.start, end=window.end, until=until, objectives=charts, load=load,
                      settings=run_settings(record), dashboard=dashboard)


def run_settings(record: RunRecord | None) -> tuple[tuple[str, str], ...]:
    """What was run, from run.json: enough to tell two reports apart without opening files."""
    if record is None:
        return (("scenario", ""),)
    who, plan = record.identity, record.plan
    rows = [("scenario", who.scenario)]
    for part in plan.parts:
        rows.append((f"load: {part.get('part')}", f"{part.get('executor')}: {part.get('shape')}"))
    if who.script:
        rows.append(("script", f"hand-written: {who.script}"))
    if who.overrides:
        rows.append(("overrides", ", ".join(f"{k}={v}" for k, v in who.overrides.items())))
    if plan.expected_seconds is not None:
        rows.append(("planned", units.duration(plan.expected_seconds)))
    for value, label in ((who.k6_version, "k6"), (who.runtime, "runtime"), (who.instances, "k6 instances"),
                         (who.perfctl_version, "perfctl"), (who.created, "started")):
        if value not in (None, ""):
            rows.append((label, str(value)))
    memory = MemoryMode.from_dict(who.k6_memory)
    if memory is not None and memory.flat:
        rows.append(("k6 memory", memory.describe().removeprefix("k6 memory: ")))
    if who.config_digest:
        rows.append(("config", f"{who.config or ''} (sha256 {who.config_digest[:12]})"))
    return tuple(rows)


def _series(prom: Prometheus, query: str, start: float, end: float, step: float) -> tuple[Points, str]:
    # A chart that cannot be drawn says why; it never stops the verdict from being written.
    try:
        series = prom.query_range(query, start=start, end=end, step=step)
    except PerfctlError as exc:
        return [], exc.message
    points = [(t, v) for _, values in series[:1] for t, v in values if math.isfinite(v)]
    if len(series) > 1:
        return points, f"the query returned {len(series)} series; the first is drawn"
    return points, "" if points else "no data in the window"


def criterion_lines(grade: slo.Grade) -> tuple[Line, ...]:
    """Horizontal lines for the grade's bounds, labelled in the value's unit; relative bounds
    need the baseline."""
    lines = []
    for text, colour, label in ((grade.criteria, PASS_LINE_COLOR, "pass"), (grade.warning, WARNING_LINE_COLOR, "warning")):
        if not text:
            continue
        try:
            parts = criteria.parse_criteria(text).parts
        except ValueError:
            continue
        for part in parts:
            shown = f"{label} {units.criterion(part.text, grade.unit)}"
            if part.op == "between":
                lines += [Line(part.value, colour, shown), Line(part.high or part.value, colour, shown)]
            elif not part.relative:
                lines.append(Line(part.value, colour, shown))
            elif grade.baseline is not None and math.isfinite(grade.baseline):
                bound = grade.baseline + abs(grade.baseline) * part.value / 100.0
                lines.append(Line(bound, colour, f"{shown} of {units.quantity(grade.baseline, grade.unit)}"))
    return tuple(lines)


# ---- rendering (pure) ----------------------------------------------------------------------------------


def render(data: ReportData, verdict: slo.Verdict, document: dict) -> str:
    grades = {g.name: g for g in verdict.grades}
    result = verdict.result.value
    colour = RESULT_COLOR[result]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>perfctl {_e(result.upper())} — {_e(data.run_id)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<header class="verdict" style="background:{colour}">',
        f'<h1>{_e(result.upper())}</h1><p class="score">score {_e(percent_text(verdict.percent if verdict.max_score else None))}'
        f" ({_e(format_value(verdict.score))}/{_e(format_value(verdict.max_score))})</p>",
        f"<p>run <code>{_e(data.run_id)}</code> · scenario <code>{_e(str(document.get('scenario', '')))}</code>"
        f" · {_e(units.duration(data.end - data.start))}</p></header>",
    ]
    if verdict.reasons:
        parts.append("<ul class='reasons'>" + "".join(f"<li>{_e(r)}</li>" for r in verdict.reasons) + "</ul>")
    parts.append(_table(verdict))
    baseline = document.get("baseline")
    if baseline:
        parts.append(f"<p class='note'>baseline ({_e(str(baseline.get('spec')))}): runs "
                     + _e(", ".join(baseline.get("runs") or ["none"])) + "</p>")
    parts.append(_k6_section(document.get("k6"), data.dashboard))
    if data.settings:
        parts.append("<h2>Run</h2><table class='settings'>"
                     + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in data.settings) + "</table>")
    parts.append("<h2>Objectives over the run</h2>")
    for chart in data.objectives:
        grade = grades.get(chart.title)
        if grade is not None:
            chart = replace(chart, lines=criterion_lines(grade), result=grade.result.value)
        parts.append(_figure(chart, data, kind="objective"))
    parts.append("<h2>Load shape (k6)</h2>")
    for chart in data.load:
        parts.append(_figure(replace(chart, colour=LOAD_COLOR), data, kind="load"))
    parts.append("<p class='note'>Hover over a line for its values. Times are seconds since the load started;"
                 " a dotted line marks its end.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _table(verdict: slo.Verdict) -> str:
    rows = ["<table class='objectives'><tr><th>objective</th><th>value</th><th>criterion</th><th>result</th>"
            "<th>reason</th></tr>"]
    for g in verdict.grades:
        crit = units.criterion(g.criteria, g.unit) + (f" (warn {units.criterion(g.warning, g.unit)})" if g.warning else "")
        value = units.quantity(g.value, g.unit)
        if g.baseline is not None:
            value += f" (baseline {units.quantity(g.baseline, g.unit)})"
        rows.append(
            f"<tr><td>{_e(g.name)}{' <b>(key)</b>' if g.key else ''}</td><td class='num'>{_e(value)}</td>"
            f"<td>{_e(crit)}</td><td style='color:{RESULT_COLOR[g.result.value]}'><b>{_e(g.result.name)}</b></td>"
            f"<td>{_e(g.reason)}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _k6_section(numbers: dict | None, dashboard: str | None) -> str:
    """k6's headline and the per-request table, and k6's own dashboard report when there is one."""
    out = ["<h2>k6</h2>"]
    headline = (numbers or {}).get("headline")
    if headline:
        h = k6_breakdown.Headline(**headline)
        cells = [("requests", units.number(h.requests) if h.requests is not None else "—"),
                 ("rate", units.quantity(h.request_rate, "req/s")), ("failed", units.quantity(h.failed_ratio, "ratio")),
                 ("p50", units.quantity(h.p50, "s")), ("p95", units.quantity(h.p95, "s")), ("p99", units.quantity(h.p99, "s")),
                 ("iterations", units.quantity(h.iterations, "none")), ("VUs max", units.quantity(h.vus_max, "none")),
                 ("data in / out", f"{units.size(h.data_received or 0)} / {units.size(h.data_sent or 0)}")]
        out.append("<div class='headline'>" + "".join(
            f"<div><span class='k'>{_e(k)}</span><span class='v'>{_e(v)}</span></div>" for k, v in cells) + "</div>")
    else:
        out.append("<p class='note'>k6 wrote no summary.</p>")
    rows = [k6_breakdown.row_from_dict(r) for r in (numbers or {}).get("requests") or ()]
    if rows:
        out.append("<table class='requests'><tr>" + "".join(f"<th>{_e(h)}</th>" for h in k6_tables.HEADERS) + "</tr>")
        for row in rows:
            cells = k6_tables.request_cells(row)
            failed = any(t.failed for t in row.thresholds)
            out.append("<tr>" + "".join(
                (f"<td class='num'>{_e(c)}</td>" if 0 < i < 4 else f"<td>{_e(c)}</td>") for i, c in enumerate(cells[:-1]))
                + f"<td style='color:{RESULT_COLOR['fail'] if failed else 'inherit'}'>{_e(cells[-1])}</td></tr>")
        out.append("</table>")
    if dashboard:
        out.append(f"<p>k6's own dashboard report: <a href='{_e(dashboard)}'>{_e(dashboard)}</a></p>")
    return "\n".join(out)


def _figure(chart: Chart, data: ReportData, *, kind: str) -> str:
    head = f"<h3>{_e(chart.title)}"
    if chart.result:
        head += f" <span style='color:{RESULT_COLOR[chart.result]}'>{_e(chart.result.upper())}</span>"
    head += "</h3>"
    note = chart.note + (f" — {chart.problem}" if chart.problem else "")
    caption = f"<figcaption>{_e(note)}</figcaption>" if note else ""
    return f"<figure class='{kind}'>{head}{draw(chart, data.start, data.until, data.end)}{caption}</figure>"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:820px;padding:0 16px 40px;color:#1f2328}
.verdict{color:#fff;padding:14px 20px;border-radius:0 0 8px 8px}
.verdict h1{margin:0;font-size:40px;letter-spacing:2px}.verdict p{margin:4px 0}
.score{font-size:20px;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:13px;margin:12px 0}
th,td{border-bottom:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}td.num{text-align:right;white-space:nowrap}
table.settings th{width:28%;font-weight:600;color:#59636e}
.headline{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.headline div{border:1px solid #d0d7de;border-radius:6px;padding:6px 10px;min-width:86px}
.headline .k{display:block;font-size:11px;color:#59636e}.headline .v{font-size:16px;font-weight:600}
figure{margin:10px 0 18px}figure h3{margin:4px 0;font-size:15px}figcaption{font-size:12px;color:#59636e}
.tick{font-size:11px;fill:#59636e}.label{font-size:11px;font-weight:600}.empty{font-size:14px;fill:#8c959f}
circle.hover:hover{fill:#1f232833}
.note{font-size:12px;color:#59636e}code{font-size:12px}
""".strip()
