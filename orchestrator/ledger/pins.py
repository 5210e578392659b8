"""Pinned baselines: one run per scenario that relative criteria are judged against.

Kept in the ledger as `<results>/baselines.json`, read-modify-written under the ledger's
lock and replaced atomically, so two perfctl processes pinning at once never tear it.
Grafana Cloud k6 calls this the baseline test. Unpinning forgets the choice, never a run.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from orchestrator.errors import LedgerError, UsageError
from orchestrator.ledger.store import Ledger, iso, write_json

SCHEMA = "perfctl.baselines/v1"
FILE = "baselines.json"


@dataclass(frozen=True)
class Pin:
    scenario: str
    run: str
    pinned_at: str  # UTC ISO time


def read_pins(ledger: Ledger) -> dict[str, Pin]:
    """Scenario -> its pin; {} when nothing was ever pinned."""
    path = ledger.root / FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LedgerError(f"{path}: cannot read it ({exc})", hint="move it aside; `perfctl baseline pin RUN` writes a new one") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("pinned"), dict):
        raise LedgerError(f"{path}: not a {SCHEMA} file")
    return {
        scenario: Pin(scenario, str(entry.get("run", "")), str(entry.get("pinned_at", "")))
        for scenario, entry in data["pinned"].items()
        if isinstance(entry, dict)
    }


def pinned_for(ledger: Ledger, scenario: str) -> Pin | None:
    return read_pins(ledger).get(scenario)


def _write(ledger: Ledger, pins: dict[str, Pin]) -> None:
    document = {
        "schema": SCHEMA,
        "pinned": {s: {"run": p.run, "pinned_at": p.pinned_at} for s, p in sorted(pins.items())},
    }
    write_json(ledger.root / FILE, document)


def set_pin(ledger: Ledger, scenario: str, run_id: str) -> tuple[Pin, Pin | None]:
    """Pin `run_id` for `scenario`; returns (the new pin, the one it replaced)."""
    with ledger.locked():
        pins = read_pins(ledger)
        old = pins.get(scenario)
        pins[scenario] = Pin(scenario, run_id, iso(time.time()) or "")
        _write(ledger, pins)
    return pins[scenario], old


def remove_pin(ledger: Ledger, scenario: str | None) -> Pin:
    """Unpin `scenario`, or the only pin when `scenario` is None."""
    with ledger.locked():
        pins = read_pins(ledger)
        if scenario is None:
            if len(pins) != 1:
                named = ", ".join(sorted(pins)) or "none"
                raise UsageError(f"baseline unpin: name the scenario (pinned: {named})")
            scenario = next(iter(pins))
        if scenario not in pins:
            raise UsageError(f"baseline unpin: no baseline is pinned for scenario '{scenario}'",
                             hint="`perfctl baseline show` lists the pins")
        removed = pins.pop(scenario)
        _write(ledger, pins)
    return removed


def as_dicts(pins: dict[str, Pin]) -> list[dict]:
    return [asdict(p) for _, p in sorted(pins.items())]
