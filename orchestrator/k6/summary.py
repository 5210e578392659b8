"""Per-instance k6 summaries (summary-<i>.json of `--instances N`) -> one summary.json.

Only what adds up is merged: counters are summed and their rates recomputed over the
longest instance's duration; rates (checks, http_req_failed) are re-derived from the
summed passes and fails; trends keep min and max. Percentiles, medians and averages
cannot be merged from per-instance summaries (a mean of p95s is not a p95), so they are
null here and listed under `perfctl.unavailable`: the gate computes the merged p95/p99
from the summed native histograms in Prometheus (verdict.json).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.ledger.store import RunDir

# Gauges whose instances add up: each instance runs its own VUs.
ADDITIVE_GAUGES = ("vus", "vus_max")


def instance_file(path: Path, index: int) -> Path:
    """The file instance `index` writes instead of `path`: k6.log -> k6-1.log, summary.json ->
    summary-1.json (also its sample outputs and web-dashboard report)."""
    return path.with_name(f"{path.stem}-{index}{path.suffix}")


def k6_files(run: "RunDir", count: int) -> list[tuple[Path, Path]]:
    """(log, summary) that each k6 process of the run wrote itself, one pair per instance.

    With several instances k6.log and summary.json are perfctl's (an index, the merge), so
    they say nothing about when or how k6 ended."""
    log, summary = run.file("k6.log"), run.file("summary.json")
    if count <= 1:
        return [(log, summary)]
    return [(instance_file(log, i), instance_file(summary, i)) for i in range(count)]


def merge_instance_summaries(run: "RunDir", count: int) -> list[str]:
    """summary-<i>.json -> summary.json; returns one line per instance summary that is missing.

    The merge is written as soon as one instance summary exists (its numbers are worth
    keeping), so summary.json is no proof that the run completed: the returned lines (also
    under `perfctl.missing` in the file) are."""
    from orchestrator.ledger.store import write_json

    paths = [instance_file(run.file("summary.json"), i) for i in range(count)]
    summaries, problems = load_summaries(paths)
    if summaries and count == 1:
        write_json(run.file("summary.json"), summaries[0])  # one instance (one --hosts host): nothing to merge
    elif summaries:
        merged = merge_summaries(summaries)
        merged["perfctl"]["missing"] = problems
        write_json(run.file("summary.json"), merged)
    return problems


def load_summaries(paths: list[Path]) -> tuple[list[dict], list[str]]:
    """The summaries that could be read, and one line per file that could not."""
    summaries, problems = [], []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(f"{path.name}: missing (the instance did not finish)")
            continue
        except (OSError, json.JSONDecodeError) as exc:
            problems.append(f"{path.name}: unreadable ({exc})")
            continue
        if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
            problems.append(f"{path.name}: not a k6 summary")
            continue
        summaries.append(data)
    return summaries, problems


def merge_summaries(summaries: list[dict]) -> dict:
    """One summary in k6's --summary-export shape, plus a `perfctl` section saying how."""
    names = sorted({name for s in summaries for name in s["metrics"]})
    seconds = _run_seconds(summaries)
    metrics, unavailable = {}, []
    for name in names:
        entries = [s["metrics"][name] for s in summaries if isinstance(s["metrics"].get(name), dict)]
        merged, missing = _merge_metric(name, entries, seconds)
        metrics[name] = merged
        unavailable += [f"{name}.{key}" for key in missing]
    return {
        "metrics": metrics,
        "perfctl": {
            "merged_instances": len(summaries),
            "run_seconds": seconds,
            "unavailable": unavailable,
            "note": "percentiles, medians and averages are not merged from per-instance summaries; "
            "the merged p95/p99 come from the summed native histograms (verdict.json)",
        },
    }


def _run_seconds(summaries: list[dict]) -> float | None:
    """The longest instance's duration, from any counter's count / rate (k6 1.x writes no state)."""
    longest = None
    for summary in summaries:
        for entry in summary["metrics"].values():
            if isinstance(entry, dict) and _is_counter(entry) and entry["rate"] and entry["count"]:
                seconds = entry["count"] / entry["rate"]
                longest = seconds if longest is None else max(longest, seconds)
    return longest


def _is_counter(entry: dict) -> bool:
    return "count" in entry and "rate" in entry


def _is_rate(entry: dict) -> bool:
    return "passes" in entry and "fails" in entry


def _merge_metric(name: str, entries: list[dict], seconds: float | None) -> tuple[dict, list[str]]:
    first = entries[0]
    if _is_counter(first):
        count = sum(e.get("count", 0) for e in entries)
        rate = count / seconds if seconds else None
        return {"count": count, "rate": rate}, ([] if rate is not None else ["rate"])
    if _is_rate(first):
        passes = sum(e.get("passes", 0) for e in entries)
        fails = sum(e.get("fails", 0) for e in entries)
        total = passes + fails
        return {"passes": passes, "fails": fails, "value": passes / total if total else 0.0}, []
    if "min" in first and "max" in first and "value" in first and not any(k.startswith("p(") for k in first):
        if name in ADDITIVE_GAUGES:
            return {key: sum(e.get(key, 0) for e in entries) for key in ("value", "min", "max")}, []
        # Other gauges (a queue length, a temperature) do not add up across instances.
        return {"value": None, "min": min(e["min"] for e in entries), "max": max(e["max"] for e in entries)}, ["value"]
    # A trend: the extremes merge, the rest needs every sample.
    merged = {}
    for key, pick in (("min", min), ("max", max)):
        values = [e[key] for e in entries if isinstance(e.get(key), (int, float))]
        if values:
            merged[key] = pick(values)
    missing = sorted(k for k in first if k not in merged)
    merged.update({key: None for key in missing})
    return merged, missing
