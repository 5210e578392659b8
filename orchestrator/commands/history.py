"""`perfctl history`: runs with their result, score and key numbers."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator import console
from orchestrator.config.load import load_config
from orchestrator.errors import LedgerError, UsageError
from orchestrator.ledger.store import Ledger, RunDir, check_results_root, results_root
from orchestrator.percent import percent_text
from orchestrator.units import format_value


def run_rows(ledger: Ledger, *, scenario: str | None, limit: int) -> list[dict]:
    """The newest `limit` runs (of `scenario`), oldest first. Newest first, stopping at
    `limit`, and verdict.json is read only for runs that are shown: thousands of runs in
    the ledger cost a directory listing and the run.json files looked at."""
    rows = []
    for run in reversed(ledger.runs()):
        row = _row(run, scenario)
        if row is None:
            continue
        rows.append(row)
        if len(rows) >= limit:
            break
    return list(reversed(rows))


def _row(run: RunDir, scenario: str | None = None) -> dict | None:
    try:
        record = run.record()
        if scenario and record.scenario != scenario:
            return None
        verdict = run.read_json("verdict.json") or {}
    except LedgerError as exc:
        return None if scenario else {"id": run.id, "status": "unreadable", "problem": exc.message}
    summary = verdict.get("summary") or {}
    start, end = record.start, record.end
    return {
        "id": record.id,
        "scenario": record.scenario or None,
        "status": record.status or None,
        "result": verdict.get("result", record.outcome.result),
        "score": verdict.get("percent"),
        "seconds": round(end - start, 1) if start and end else None,
        "requests": summary.get("requests"),
        "p95_ms": summary.get("p95_ms"),
        "failed_ratio": summary.get("failed_ratio"),
    }


def history(config_path: Path | None, *, results: Path | None, scenario: str | None, limit: int, json_output: bool) -> int:
    if limit < 1:
        raise UsageError("--limit: must be >= 1")
    root = results if results is not None else results_root(load_config(config_path), None)
    check_results_root(root, source="--results" if results is not None else "results_dir", create=False)
    rows = run_rows(Ledger(root), scenario=scenario, limit=limit)
    if json_output:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        console.info(f"no runs in {root}")
        return 0
    header = ("run", "scenario", "status", "result", "score", "secs", "requests", "p95 ms", "failed")
    table = [header] + [
        (
            r["id"], r.get("scenario") or "", r.get("status") or "", r.get("result") or "—",
            percent_text(r.get("score")),
            format_value(r.get("seconds")), format_value(r.get("requests")),
            format_value(r.get("p95_ms")), format_value(r.get("failed_ratio")),
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0
