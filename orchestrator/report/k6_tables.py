"""k6's headline and the per-request table as text: for the terminal after the verdict and
for report.md. Values in their units (orchestrator/units.py)."""

from __future__ import annotations

from orchestrator import units
from orchestrator.k6.breakdown import Headline, RequestRow


def headline_line(h: Headline) -> str:
    """`k6: 1,234 requests (45.2/s), 0.19% failed, p50 12 ms · p95 48 ms · p99 90 ms, 300 iterations, ...`"""
    parts = []
    if h.requests is not None:
        rate = f" ({units.number(h.request_rate)}/s)" if h.request_rate is not None else ""
        parts.append(f"{units.number(h.requests)} requests{rate}")
    if h.failed_ratio is not None:
        parts.append(f"{units.quantity(h.failed_ratio, 'ratio')} failed")
    latencies = [f"{label} {units.quantity(v, 's')}" for label, v in (("p50", h.p50), ("p95", h.p95), ("p99", h.p99))
                 if v is not None]
    if latencies:
        parts.append(" · ".join(latencies))
    if h.iterations is not None:
        parts.append(f"{units.number(h.iterations)} iterations")
    if h.vus_max is not None:
        parts.append(f"{units.number(h.vus_max)} VUs max")
    if h.data_received is not None or h.data_sent is not None:
        parts.append(f"data {units.size(h.data_received or 0)} in / {units.size(h.data_sent or 0)} out")
    return "k6: " + ", ".join(parts) if parts else "k6: no summary"


def threshold_cell(row: RequestRow) -> str:
    if not row.thresholds:
        return "—"
    marks = {True: "FAILED", False: "ok", None: "?"}
    return "; ".join(f"{t.metric} {t.text} {marks[t.failed]}" for t in row.thresholds)


def request_cells(row: RequestRow) -> list[str]:
    return [row.name, units.number(row.count), units.quantity(row.failed_ratio, "ratio"),
            units.quantity(row.p95, "s"), threshold_cell(row)]


HEADERS = ["request", "count", "failed", "p95", "k6 thresholds"]


def terminal(rows: list[RequestRow]) -> str:
    """A fixed-width table, numbers right-aligned; empty when k6 sent no named request."""
    if not rows:
        return ""
    table = [HEADERS] + [request_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if 0 < i < 4 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(padded).rstrip()

    return "\n".join([line(HEADERS), "  ".join("-" * w for w in widths)] + [line(c) for c in table[1:]]) + "\n"


def markdown(headline: Headline | None, rows: list[RequestRow], cell) -> str:
    """The k6 section of report.md; `cell` escapes a table cell the way report.md does."""
    lines = ["", "### k6", ""]
    lines.append(headline_line(headline) if headline is not None else "k6 wrote no summary.")
    if rows:
        lines += ["", "| " + " | ".join(HEADERS) + " |", "| --- | ---: | ---: | ---: | --- |"]
        lines += ["| " + " | ".join(cell(c) for c in request_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"
