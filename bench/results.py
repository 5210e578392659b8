"""Figures -> bench/results.md and bench/results.json. Pure rendering, no measuring."""

from __future__ import annotations

import json

from bench.stats import FigureResult, Summary


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    magnitude = abs(value)
    if unit == "VUs":
        text = f"{value:,.0f}"
    elif unit in ("×", ""):
        text = f"{value:.3f}"
    elif magnitude >= 1000:
        text = f"{value:,.0f}"
    elif magnitude >= 100:
        text = f"{value:.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return text + (f" {unit}" if unit not in ("", "×") else "")


def fmt_summary(summary: Summary, unit: str) -> tuple[str, str, str]:
    return fmt(summary.median, unit), f"{fmt(summary.low, unit)} – {fmt(summary.high, unit)}", str(summary.n)


def status(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "not measured"}[met]


def render_markdown(figures: list[FigureResult], machine: dict, invocation: str) -> str:
    lines = [
        "# perfctl benchmark results",
        "",
        f"Measured {machine.get('date')} with `{invocation}`. Every figure is a ratio against a baseline",
        "measured in the same run, the two alternating; the tables give the median and the range (min – max)",
        "of the repetitions (n). Load went only to loopback servers the benchmark started itself.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
    ]
    for key in ("nproc", "cpu", "memory_gib", "kernel", "os", "python", "k6", "prometheus", "nginx", "open_files_limit"):
        if key in machine:
            lines.append(f"| {key} | {machine[key]} |")
    lines += ["", "## Summary", "", "| # | figure | measured (median) | target | status |", "| --- | --- | --- | --- | --- |"]
    for number, fig in enumerate(figures, 1):
        if fig.error or not fig.headlines:
            lines.append(f"| {number} | {fig.title} | — | — | {status(None)} |")
            continue
        for h in fig.headlines:
            lines.append(f"| {number} | {h.label} | {fmt(h.summary.median, h.unit)} | {h.target.text} | {status(h.met)} |")
    for number, fig in enumerate(figures, 1):
        lines += ["", f"## {number}. {fig.title}", ""]
        if fig.error:
            lines += [f"Not measured: {fig.error}", ""]
        if fig.headlines or fig.rows:
            lines += ["| quantity | median | range | n |", "| --- | --- | --- | --- |"]
            for h in fig.headlines:
                med, rng, n = fmt_summary(h.summary, h.unit)
                lines.append(f"| **{h.label}** (target {h.target.text}: {status(h.met)}) | **{med}** | {rng} | {n} |")
            for row in fig.rows:
                med, rng, n = fmt_summary(row.summary, row.unit)
                lines.append(f"| {row.label} | {med} | {rng} | {n} |")
        for name, table in fig.extra.items():
            lines += _extra_table(name, table)
        if fig.notes:
            lines += [""] + [f"- {note}" for note in fig.notes]
        if fig.commands:
            lines += ["", "Commands:", "", "```"] + fig.commands + ["```"]
    return "\n".join(lines) + "\n"


def _extra_table(name: str, table) -> list[str]:
    title = name.replace("_", " ")
    if isinstance(table, list) and table and isinstance(table[0], dict):
        keys = list(table[0])
        out = ["", f"{title}:", "", "| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
        for item in table:
            out.append("| " + " | ".join(_cell(item.get(k)) for k in keys) + " |")
        return out
    return ["", f"{title}: {_cell(table)}"]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return "—" if value is None else str(value)


def render_json(figures: list[FigureResult], machine: dict, invocation: str) -> str:
    return json.dumps(
        {"schema": "perfctl.bench/v1", "machine": machine, "invocation": invocation,
         "figures": [f.as_dict() for f in figures]},
        indent=2,
    ) + "\n"
