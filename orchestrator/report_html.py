"""report.html: one self-contained page a person opens from the results folder.

The verdict and score, then a chart per objective (its time series over the run, with
the criterion drawn as a line), then k6's load shape (VUs, request rate, error ratio) on
the same time axis. Charts are inline SVG drawn here: no scripts, fonts or styles are
fetched, so the page works offline and from a CI artifact.

`collect` reads the series from Prometheus (query_range); `render` is pure.
"""

from __future__ import annotations

import html
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from orchestrator import gate, slo
from orchestrator.config import Config, Objective
from orchestrator.errors import PerfctlError
from orchestrator.percent import percent_text
from orchestrator.prometheus import Prometheus

Points = list[tuple[float, float]]

# Colours are fixed so people (and the screenshot test) can tell the lines apart.
SERIES_COLOR = "#1f6feb"  # the measured series
PASS_LINE_COLOR = "#d62728"  # the pass criterion
WARNING_LINE_COLOR = "#ff9f1c"  # the warning criterion
LOAD_COLOR = "#6f42c1"
RESULT_COLOR = {"pass": "#2da44e", "warning": "#d4a72c", "fail": "#cf222e", "inconclusive": "#8250df",
                "not-evaluated": "#6e7781"}
MAX_POINTS = 240  # steps per chart: fine enough for minutes-long runs, small enough to stay light


@dataclass(frozen=True)
class Chart:
    title: str
    points: Points
    note: str = ""
    lines: tuple[tuple[float, str, str], ...] = ()  # (y, colour, label) criterion lines
    result: str = ""
    problem: str = ""  # why there is no series
    colour: str = SERIES_COLOR


@dataclass(frozen=True)
class ReportData:
    run_id: str
    start: float
    end: float  # the run's end
    until: float  # the charts' right edge (the run's end, or later for drain objectives)
    objectives: list[Chart] = field(default_factory=list)
    load: list[Chart] = field(default_factory=list)


def collect(config: Config, prom: Prometheus, objectives: list[Objective], *, run_id: str, window: gate.Window) -> ReportData:
    until = max([window.end] + [gate.measure_time(o, window) for o in objectives])
    ctx = gate.QueryContext(run_id, window, config.prometheus.scrape_interval, config.k6.push_interval)
    step = max(0.5, (until - window.start) / MAX_POINTS)
    plans = [(obj.name, *gate.series_query(obj, ctx, native_histograms=config.k6.native_histograms), until) for obj in objectives]
    plans += [(title, ctx.fill(template), "", window.end) for title, template in gate.LOAD_QUERIES.items()]
    # Independent queries, side by side as the gate's: a run's exit waits for this report.
    with ThreadPoolExecutor(max_workers=8) as pool:
        series = list(pool.map(lambda plan: _series(prom, plan[1], window.start, plan[3], step), plans))
    drawn = [Chart(title=title, points=points, note=note, problem=problem)
             for (title, _, note, _), (points, problem) in zip(plans, series)]
    charts, load = drawn[: len(objectives)], drawn[len(objectives):]
    return ReportData(run_id=run_id, start=window.start, end=window.end, until=until, objectives=charts, load=load)


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


def criterion_lines(grade: slo.Grade) -> tuple[tuple[float, str, str], ...]:
    """Horizontal lines for the grade's bounds; relative bounds need the baseline."""
    lines = []
    for text, colour, label in ((grade.criteria, PASS_LINE_COLOR, "pass"), (grade.warning, WARNING_LINE_COLOR, "warning")):
        if not text:
            continue
        try:
            parts = slo.parse_criteria(text).parts
        except ValueError:
            continue
        for part in parts:
            if part.op == "between":
                lines += [(part.value, colour, f"{label} {part.text}"), (part.high or part.value, colour, f"{label} {part.text}")]
            elif not part.relative:
                lines.append((part.value, colour, f"{label} {part.text}"))
            elif grade.baseline is not None and math.isfinite(grade.baseline):
                bound = grade.baseline + abs(grade.baseline) * part.value / 100.0
                lines.append((bound, colour, f"{label} {part.text} of {slo.format_value(grade.baseline)}"))
    return tuple(lines)


# ---- rendering (pure) ----------------------------------------------------------------------------------

WIDTH, HEIGHT = 760, 190
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 14, 28


def render(data: ReportData, verdict: slo.Verdict, document: dict) -> str:
    grades = {g.name: g for g in verdict.grades}
    result = verdict.result.value
    colour = RESULT_COLOR[result]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>perfctl {_e(result.upper())} — {_e(data.run_id)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<header class="verdict" style="background:{colour}">',
        f'<h1>{_e(result.upper())}</h1><p class="score">score {_e(percent_text(verdict.percent if verdict.max_score else None))}'
        f" ({_e(slo.format_value(verdict.score))}/{_e(slo.format_value(verdict.max_score))})</p>",
        f"<p>run <code>{_e(data.run_id)}</code> · scenario <code>{_e(str(document.get('scenario', '')))}</code>"
        f" · {_e(slo.format_value(data.end - data.start))} s</p></header>",
    ]
    if verdict.reasons:
        parts.append("<ul class='reasons'>" + "".join(f"<li>{_e(r)}</li>" for r in verdict.reasons) + "</ul>")
    parts.append(_table(verdict))
    baseline = document.get("baseline")
    if baseline:
        parts.append(f"<p class='note'>baseline ({_e(str(baseline.get('spec')))}): runs "
                     + _e(", ".join(baseline.get("runs") or ["none"])) + "</p>")
    parts.append("<h2>Objectives over the run</h2>")
    for chart in data.objectives:
        grade = grades.get(chart.title)
        if grade is not None:
            chart = Chart(chart.title, chart.points, chart.note, criterion_lines(grade), grade.result.value, chart.problem)
        parts.append(_figure(chart, data, kind="objective"))
    parts.append("<h2>Load shape (k6)</h2>")
    for chart in data.load:
        parts.append(_figure(Chart(chart.title, chart.points, chart.note, (), "", chart.problem, LOAD_COLOR), data, kind="load"))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _table(verdict: slo.Verdict) -> str:
    rows = ["<table><tr><th>objective</th><th>value</th><th>criterion</th><th>result</th><th>reason</th></tr>"]
    for g in verdict.grades:
        crit = g.criteria + (f" (warn {g.warning})" if g.warning else "")
        value = slo.format_value(g.value) + (f" (baseline {slo.format_value(g.baseline)})" if g.baseline is not None else "")
        rows.append(
            f"<tr><td>{_e(g.name)}{' <b>(key)</b>' if g.key else ''}</td><td class='num'>{_e(value)}</td>"
            f"<td>{_e(crit)}</td><td style='color:{RESULT_COLOR[g.result.value]}'><b>{_e(g.result.name)}</b></td>"
            f"<td>{_e(g.reason)}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _figure(chart: Chart, data: ReportData, *, kind: str) -> str:
    head = f"<h3>{_e(chart.title)}"
    if chart.result:
        head += f" <span style='color:{RESULT_COLOR[chart.result]}'>{_e(chart.result.upper())}</span>"
    head += "</h3>"
    note = chart.note + (f" — {chart.problem}" if chart.problem else "")
    caption = f"<figcaption>{_e(note)}</figcaption>" if note else ""
    return f"<figure class='{kind}'>{head}{svg_chart(chart, data.start, data.until, data.end)}{caption}</figure>"


def svg_chart(chart: Chart, x0: float, x1: float, run_end: float | None = None) -> str:
    """A line chart of `chart.points` over [x0, x1] with its criterion lines, as inline SVG."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    ys = [v for _, v in chart.points] + [y for y, _, _ in chart.lines]
    lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
    if hi - lo < 1e-12:
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    else:
        pad = (hi - lo) * 0.08
        lo, hi = lo - pad, hi + pad
    span_x = max(x1 - x0, 1e-9)

    def sx(t: float) -> float:
        return LEFT + (t - x0) / span_x * plot_w

    def sy(v: float) -> float:
        return TOP + (hi - v) / (hi - lo) * plot_h

    out = [
        f'<svg width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-label="{_e(chart.title)}" data-chart="{_e(chart.title)}">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#ffffff" stroke="#d0d7de"/>',
    ]
    for frac in (0.0, 0.5, 1.0):  # y ticks
        v = lo + (hi - lo) * frac
        out.append(f'<text x="{LEFT - 6}" y="{sy(v) + 4:.1f}" text-anchor="end" class="tick">{_e(slo.format_value(v))}</text>')
    for i in range(5):  # x ticks, seconds since the start
        t = x0 + span_x * i / 4
        out.append(f'<text x="{sx(t):.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="tick">{_e(slo.format_value(t - x0))}s</text>')
    if run_end is not None and x0 < run_end < x1 - 1e-6:
        out.append(f'<line x1="{sx(run_end):.1f}" y1="{TOP}" x2="{sx(run_end):.1f}" y2="{TOP + plot_h}" stroke="#8c959f" stroke-dasharray="2,3"/>')
    for y, colour, label in chart.lines:
        out.append(
            f'<line x1="{LEFT}" y1="{sy(y):.1f}" x2="{LEFT + plot_w}" y2="{sy(y):.1f}" stroke="{colour}" stroke-width="3"'
            f' stroke-dasharray="10,5" shape-rendering="crispEdges" class="criterion"><title>{_e(label)}</title></line>'
        )
        out.append(f'<text x="{LEFT + plot_w - 4}" y="{sy(y) - 5:.1f}" text-anchor="end" class="label" fill="{colour}">{_e(label)}</text>')
    colour = chart.colour
    if chart.points:
        path = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in chart.points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="3" class="series"/>')
    else:
        out.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" class="empty">no data</text>')
    out.append("</svg>")
    return "".join(out)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:820px;padding:0 16px 40px;color:#1f2328}
.verdict{color:#fff;padding:14px 20px;border-radius:0 0 8px 8px}
.verdict h1{margin:0;font-size:40px;letter-spacing:2px}.verdict p{margin:4px 0}
.score{font-size:20px;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:13px;margin:12px 0}
th,td{border-bottom:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}td.num{text-align:right}
figure{margin:10px 0 18px}figure h3{margin:4px 0;font-size:15px}figcaption{font-size:12px;color:#59636e}
.tick{font-size:11px;fill:#59636e}.label{font-size:11px}.empty{font-size:14px;fill:#8c959f}
.note{font-size:12px;color:#59636e}code{font-size:12px}
""".strip()
