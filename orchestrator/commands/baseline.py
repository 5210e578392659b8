"""`perfctl baseline pin RUN | unpin [SCENARIO] | show`: the baseline pinned per scenario."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator import console
from orchestrator.ledger import pins
from orchestrator.verdict.baseline import mean_values, why_not_a_baseline
from orchestrator.config.load import load_config
from orchestrator.errors import LedgerError, UsageError
from orchestrator.ledger.store import Ledger, results_root


def _ledger(config_path: Path | None, results: Path | None) -> Ledger:
    return Ledger(results if results is not None else results_root(load_config(config_path), None))


def pin(config_path: Path | None, run_id: str, *, results: Path | None, force: bool) -> int:
    ledger = _ledger(config_path, results)
    run = ledger.get(run_id)
    scenario = run.record().scenario or None
    verdict = run.read_json("verdict.json")
    if verdict is None:
        raise UsageError(f"baseline pin {run_id}: the run has no verdict.json", hint=f"perfctl evaluate {run_id}")
    why = why_not_a_baseline(verdict)
    if why is not None and not force:
        raise UsageError(f"baseline pin {run_id}: {why}; a baseline is a run that passed",
                         hint="--force pins it anyway (its values become the reference)")
    values = mean_values([verdict])
    if not values:
        raise UsageError(f"baseline pin {run_id}: its verdict has no objective values to compare against")
    new, old = pins.set_pin(ledger, scenario, run.id)
    replaced = f" (instead of {old.run})" if old is not None and old.run != new.run else ""
    print(f"pinned run {run.id} as the baseline of scenario '{scenario}'{replaced}: {len(values)} objective value(s)")
    console.info(f"runs of '{scenario}' now judge relative criteria against it unless --baseline says otherwise")
    return 0


def unpin(config_path: Path | None, scenario: str | None, *, results: Path | None) -> int:
    removed = pins.remove_pin(_ledger(config_path, results), scenario)
    print(f"unpinned run {removed.run} from scenario '{removed.scenario}' (the run itself stays)")
    return 0


def show(config_path: Path | None, *, results: Path | None, json_output: bool) -> int:
    ledger = _ledger(config_path, results)
    rows = []
    for entry in pins.as_dicts(pins.read_pins(ledger)):
        rows.append({**entry, "result": _result(ledger, entry["run"])})
    if json_output:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        console.info(f"no baseline is pinned in {ledger.root} (perfctl baseline pin RUN)")
        return 0
    table = [("scenario", "run", "result", "pinned at")] + [
        (r["scenario"], r["run"], r["result"] or "—", r["pinned_at"]) for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(4)]
    for row in table:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _result(ledger: Ledger, run_id: str) -> str | None:
    """The pinned run's verdict, or `missing` when its folder is gone (runs using the pin then say so)."""
    try:
        verdict = ledger.get(run_id).read_json("verdict.json")
    except (UsageError, LedgerError):
        return "missing"
    return verdict.get("result") if verdict else None
