"""`perfctl compare A B --html FILE`: the two runs side by side as one offline page, the
same rows as the terminal table, values in their units, every change marked as a
regression, an improvement or noise. Pure: rows in, markup out."""

from __future__ import annotations

import html

from orchestrator import units
from orchestrator.percent import percent_text
from orchestrator.report.html import RESULT_COLOR

MARK_COLOR = {"REGRESSION": RESULT_COLOR["fail"], "better": RESULT_COLOR["pass"], "~ noise": "#6e7781"}


def render(rows, run_a: str, run_b: str, verdict_a: dict, verdict_b: dict, *, tolerance: float, floors: str) -> str:
    """`rows`: commands.compare.Row values, objectives first, then k6's summary metrics."""
    objectives = [r for r in rows if r.kind == "objective"]
    k6 = [r for r in rows if r.kind != "objective"]
    regressions = [r.name for r in rows if r.regression]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>perfctl compare — {_e(run_a)} vs {_e(run_b)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>perfctl compare</h1>",
        "<div class='runs'>" + _run_card("A", run_a, verdict_a) + _run_card("B", run_b, verdict_b) + "</div>",
        f"<p class='summary'><b>{len(regressions)} regression(s)</b> beyond {_e(units.number(tolerance))}% and the noise "
        f"floors ({_e(floors)})" + (": " + _e(_first(regressions)) if regressions else "") + "</p>",
        "<h2>Objectives</h2>", _table(objectives, with_results=True, units_of=_objective_units(verdict_a, verdict_b)),
        _requests(verdict_a, verdict_b),
        "<h2>k6 summary metrics</h2>", _table(k6, with_results=False),
        "<p class='note'>A change is a regression only beyond both the tolerance and its unit's noise floor;"
        " smaller moves are marked ~ noise.</p>",
        "</body></html>\n",
    ]
    return "\n".join(parts)


def _run_card(label: str, run_id: str, verdict: dict) -> str:
    result = str(verdict.get("result") or "—")
    colour = RESULT_COLOR.get(result, "#6e7781")
    percent = verdict.get("percent")
    score = percent_text(percent) if isinstance(percent, (int, float)) else "—"
    return (f"<div class='run' style='border-color:{colour}'><span class='label'>{label}</span>"
            f"<code>{_e(run_id)}</code><b style='color:{colour}'>{_e(result.upper())}</b> score {_e(score)}"
            f"<span class='scenario'>{_e(str(verdict.get('scenario', '')))}</span></div>")


def _first(names: list[str], count: int = 8) -> str:
    """The first regressions by name; the table below marks every one."""
    return ", ".join(names[:count]) + (f" and {len(names) - count} more (marked below)" if len(names) > count else "")


def _objective_units(verdict_a: dict, verdict_b: dict) -> dict[str, str]:
    """Each objective's unit as its verdict.json says (B's, else A's): Hz and messages, not only s and ratios."""
    found: dict[str, str] = {}
    for verdict in (verdict_a, verdict_b):
        for objective in verdict.get("objectives") or ():
            if objective.get("unit") and objective.get("unit") != "none":
                found[objective.get("name")] = objective["unit"]
    return found


def _table(rows, *, with_results: bool, units_of: dict[str, str] | None = None) -> str:
    head = "<tr><th>name</th><th>A</th><th>B</th><th>change</th><th>change %</th><th></th></tr>"
    out = ["<table>", head]
    for r in rows:
        unit = (units_of or {}).get(r.name) or r.unit or "none"
        mark = "REGRESSION" if r.regression else ("better" if r.improvement else ("~ noise" if r.noise else ""))
        results = ""
        if with_results and r.result_a != r.result_b:
            results = f" ({_e(r.result_a or '—')} → {_e(r.result_b or '—')})"
        delta = "—" if r.delta is None else ("+" if r.delta > 0 else "") + units.quantity(r.delta, unit)
        colour = MARK_COLOR.get(mark, "inherit")
        out.append(
            f"<tr><td>{_e(r.name)}</td><td class='num'>{_e(units.quantity(r.a, unit))}</td>"
            f"<td class='num'>{_e(units.quantity(r.b, unit))}</td><td class='num'>{_e(delta)}</td>"
            f"<td class='num'>{_e(percent_text(r.delta_percent, signed=True))}</td>"
            f"<td style='color:{colour}'><b>{_e(mark)}</b>{results}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _requests(verdict_a: dict, verdict_b: dict) -> str:
    """k6's per-request rows of both runs, side by side (from each verdict.json)."""
    def rows_of(verdict: dict) -> dict:
        return {r.get("name"): r for r in ((verdict.get("k6") or {}).get("requests") or ())}

    a, b = rows_of(verdict_a), rows_of(verdict_b)
    names = list(b) + [n for n in a if n not in b]
    if not names:
        return ""
    out = ["<h2>Requests</h2><table><tr><th>request</th><th>count A</th><th>count B</th><th>failed A</th>"
           "<th>failed B</th><th>p95 A</th><th>p95 B</th></tr>"]
    for name in names:
        ra, rb = a.get(name, {}), b.get(name, {})
        cells = [units.quantity(ra.get("count"), "count"), units.quantity(rb.get("count"), "count"),
                 units.quantity(ra.get("failed_ratio"), "ratio"), units.quantity(rb.get("failed_ratio"), "ratio"),
                 units.quantity(ra.get("p95"), "s"), units.quantity(rb.get("p95"), "s")]
        out.append(f"<tr><td>{_e(str(name))}</td>" + "".join(f"<td class='num'>{_e(c)}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:980px;padding:0 16px 40px;color:#1f2328}
.runs{display:flex;gap:12px}.run{flex:1;border:2px solid;border-radius:8px;padding:8px 12px;display:flex;flex-direction:column;gap:2px}
.run .label{font-size:22px;font-weight:700}.run .scenario{font-size:12px;color:#59636e}
table{border-collapse:collapse;width:100%;font-size:13px;margin:12px 0}
th,td{border-bottom:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}td.num{text-align:right;white-space:nowrap}
.summary{font-size:15px}.note{font-size:12px;color:#59636e}code{font-size:12px}
""".strip()
