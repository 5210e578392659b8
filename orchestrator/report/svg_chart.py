"""Line charts as inline SVG for report.html: no script, font or style is fetched, so a
report opens offline and from a CI artifact. Pure: points in, markup out.

What makes them readable: "nice" ticks (1, 2, 5 x 10^k), time labels a person reads
(`30s`, `1m30s`), axes that start at zero for quantities that cannot be negative, values
in their unit, the pass line in the pass colour and the warning line in the warning
colour, and each point's value on hover (an SVG <title>, shown by every browser).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from orchestrator import units

Points = list[tuple[float, float]]

WIDTH, HEIGHT = 760, 190
LEFT, RIGHT, TOP, BOTTOM = 76, 16, 14, 28
SERIES_COLOR = "#1f6feb"  # the measured series
PASS_LINE_COLOR = "#1a7f37"  # the pass criterion: the pass colour
WARNING_LINE_COLOR = "#bf8700"  # the warning criterion: the warning colour
LOAD_COLOR = "#6f42c1"
MAX_HOVER_POINTS = 240  # one hover target per point, up to this many per chart
# Time steps a person counts in: seconds, minutes, hours.
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True)
class Line:
    y: float
    colour: str
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    points: Points
    note: str = ""
    lines: tuple[Line, ...] = ()  # criterion lines
    result: str = ""
    problem: str = ""  # why there is no series
    colour: str = SERIES_COLOR
    unit: str = "none"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw - 1e-12)
    first = math.floor(lo / step + 1e-9) * step
    ticks = []
    value = first
    while value < hi + step * 0.999:
        ticks.append(round(value, 12) + 0.0)  # + 0.0: no "-0"
        value += step
    return ticks


def time_ticks(span: float, count: int = 6) -> list[float]:
    """Offsets from the start, at a step from 1 s to a day that gives about `count` labels."""
    step = next((s for s in _TIME_STEPS if span / s <= count), _TIME_STEPS[-1])
    return [i * step for i in range(int(span / step + 1e-9) + 1)]


def elapsed(seconds: float) -> str:
    """`0s`, `45s`, `1m`, `1m30s`, `2h`, `1h05m`: time since the run's start."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m" + (f"{rest:02d}s" if rest else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h" + (f"{minutes:02d}m" if minutes else "")


def y_range(chart: Chart) -> list[float]:
    """The y ticks: every value and criterion line inside, and zero at the bottom for data
    that is never negative (a ratio or a lag axis below zero shows something impossible)."""
    ys = [v for _, v in chart.points] + [line.y for line in chart.lines]
    if not ys:
        return [0.0, 1.0]
    lo, hi = min(ys), max(ys)
    if lo >= 0:
        lo = 0.0
    if hi - lo < 1e-12:
        hi = lo + (abs(hi) * 0.2 or (0.01 if chart.unit == "ratio" else 1.0))
    if chart.unit == "ratio" and lo >= 0 and hi <= 1:
        hi = min(1.0, hi * 1.08) if hi < 1 else 1.0
    else:
        hi = hi + (hi - lo) * 0.08
    return nice_ticks(lo, hi)


def draw(chart: Chart, x0: float, x1: float, run_end: float | None = None) -> str:
    """The chart over [x0, x1] (unix seconds) with its criterion lines."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    ticks = y_range(chart)
    lo, hi = ticks[0], ticks[-1]
    span_x = max(x1 - x0, 1e-9)

    def sx(t: float) -> float:
        return LEFT + (t - x0) / span_x * plot_w

    def sy(v: float) -> float:
        return TOP + (hi - v) / (hi - lo) * plot_h

    out = [
        f'<svg width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-label="{_e(chart.title)}" data-chart="{_e(chart.title)}" data-unit="{_e(chart.unit)}">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#ffffff" stroke="#d0d7de"/>',
    ]
    for value in ticks:
        y = sy(value)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#eaeef2"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick ytick">'
                   f"{_e(units.quantity(value, chart.unit))}</text>")
    for offset in time_ticks(span_x):
        x = sx(x0 + offset)
        out.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="tick xtick">{_e(elapsed(offset))}</text>')
    if run_end is not None and x0 < run_end < x1 - 1e-6:
        out.append(f'<line x1="{sx(run_end):.1f}" y1="{TOP}" x2="{sx(run_end):.1f}" y2="{TOP + plot_h}"'
                   ' stroke="#8c959f" stroke-dasharray="2,3"><title>end of the load</title></line>')
    for line in chart.lines:
        y = sy(line.y)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="{line.colour}" stroke-width="3"'
            f' stroke-dasharray="10,5" shape-rendering="crispEdges" class="criterion"><title>{_e(line.label)}</title></line>'
        )
        out.append(f'<text x="{LEFT + plot_w - 4}" y="{y - 5:.1f}" text-anchor="end" class="label"'
                   f' fill="{line.colour}">{_e(line.label)}</text>')
    if chart.points:
        path = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in chart.points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{chart.colour}" stroke-width="3" class="series"/>')
        out.append(_hover_targets(chart, x0, sx, sy))
    else:
        out.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" class="empty">no data</text>')
    out.append("</svg>")
    return "".join(out)


def _hover_targets(chart: Chart, x0: float, sx, sy) -> str:
    """An invisible dot per point whose <title> the browser shows on hover: `1m05s: 12.3 ms`."""
    every = max(1, math.ceil(len(chart.points) / MAX_HOVER_POINTS))
    dots = [
        f'<circle cx="{sx(t):.1f}" cy="{sy(v):.1f}" r="5" class="hover">'
        f"<title>{_e(elapsed(t - x0))}: {_e(units.quantity(v, chart.unit))}</title></circle>"
        for t, v in chart.points[::every]
    ]
    return '<g fill="transparent" pointer-events="all">' + "".join(dots) + "</g>"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
