"""Baselines for relative criteria (`<= +10%`): the objective values of earlier runs.

`--baseline RUN` takes one run's verdict; `--baseline last-pass` the mean of each
objective's value over the last N passing runs of the same scenario (N =
`gate.baseline_runs`); `--baseline pinned` the run `perfctl baseline pin` chose for the
scenario, which is also the default while one is pinned. Which runs formed the baseline is
recorded with the verdict, and the values themselves in run.json, so re-evaluating a run
uses the same baseline, whatever was pinned since.

A run whose relative criteria were not evaluated (no baseline yet) still measured their
values: when it passed, it can be the baseline, and so can a run that was inconclusive only
because nothing but such criteria had weight. That is how the first run starts the chain.
"""

from __future__ import annotations

import math
from orchestrator.ledger import pins
from orchestrator.errors import LedgerError, UsageError
from orchestrator.ledger.record import Baseline
from orchestrator.ledger.store import Ledger, RunDir

LAST_PASS = "last-pass"
PINNED = "pinned"


def resolve(ledger: Ledger, spec: str, *, scenario: str, runs_wanted: int, exclude: str | None = None) -> Baseline:
    """The baseline `spec` names. A named run without a verdict is a usage error; no passing
    run yet gives an empty baseline (relative criteria are then inconclusive, and say why)."""
    if spec == LAST_PASS:
        chosen = last_passing(ledger, scenario=scenario, count=runs_wanted, exclude=exclude)
        return Baseline(spec, tuple(r.id for r, _ in chosen), mean_values([v for _, v in chosen]))
    if spec == PINNED:
        run = _pinned_run(ledger, scenario)
        return Baseline(spec, (run.id,), mean_values([_verdict(run) or {}]))
    run = ledger.get(spec)
    verdict = _verdict(run)
    if verdict is None:
        raise UsageError(f"--baseline {spec}: the run has no verdict.json", hint=f"perfctl evaluate {spec}")
    return Baseline(spec, (run.id,), mean_values([verdict]))


def check_spec(ledger: Ledger, spec: str, *, scenario: str | None = None) -> None:
    """Refuse a --baseline that names a run without a verdict, or `pinned` without a pin, before anything starts."""
    if spec == PINNED:
        _pinned_run(ledger, scenario or "")
    elif spec != LAST_PASS and _verdict(ledger.get(spec)) is None:
        raise UsageError(f"--baseline {spec}: the run has no verdict.json", hint=f"perfctl evaluate {spec}")


def default_spec(ledger: Ledger, scenario: str) -> str | None:
    """Without --baseline: `pinned` while a run is pinned for the scenario, else none."""
    return PINNED if pins.pinned_for(ledger, scenario) is not None else None


def _pinned_run(ledger: Ledger, scenario: str) -> RunDir:
    pin = pins.pinned_for(ledger, scenario)
    if pin is None:
        raise UsageError(f"--baseline pinned: no baseline is pinned for scenario '{scenario}'",
                         hint="perfctl baseline pin RUN")
    try:
        run = ledger.get(pin.run)
    except UsageError:
        raise UsageError(f"the baseline pinned for scenario '{scenario}', run {pin.run}, is no longer in {ledger.root}",
                         hint=f"perfctl baseline unpin {scenario}, or pin another run") from None
    if _verdict(run) is None:
        raise UsageError(f"the baseline pinned for scenario '{scenario}', run {pin.run}, has no verdict.json",
                         hint=f"perfctl evaluate {pin.run}")
    return run


def why_not_a_baseline(verdict: dict) -> str | None:
    """None when a run's verdict can serve as a baseline (see the module's doc); else why not."""
    result = verdict.get("result")
    if result == "pass":
        return None
    grades = [o.get("result") for o in verdict.get("objectives", [])]
    if result == "inconclusive" and "not-evaluated" in grades and set(grades) <= {"pass", "not-evaluated"}:
        return None  # inconclusive only because nothing but not-evaluated objectives had weight
    return f"its verdict is {result}"


def last_passing(ledger: Ledger, *, scenario: str, count: int, exclude: str | None = None) -> list[tuple[RunDir, dict]]:
    """The newest `count` runs of `scenario` that can be a baseline (why_not_a_baseline), newest first.

    Reads run.json (small) before verdict.json, and stops as soon as it has enough, so a
    ledger of thousands of runs costs only the runs it looks at.
    """
    found: list[tuple[RunDir, dict]] = []
    for run in reversed(ledger.runs()):
        if run.id == exclude:
            continue
        try:
            record = run.record()
            if record.scenario != scenario or record.outcome.result not in (None, "pass", "inconclusive"):
                continue
            verdict = _verdict(run)
        except LedgerError:
            continue
        if verdict is not None and why_not_a_baseline(verdict) is None and verdict.get("scenario") == scenario:
            found.append((run, verdict))
            if len(found) >= count:
                break
    return found


def _verdict(run: RunDir) -> dict | None:
    return run.read_json("verdict.json")


def mean_values(verdicts: list[dict]) -> dict[str, float]:
    """Objective name -> mean of its finite values over `verdicts` (objectives without any are left out)."""
    sums: dict[str, list[float]] = {}
    for verdict in verdicts:
        for obj in verdict.get("objectives", []):
            value = obj.get("value")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                sums.setdefault(obj["name"], []).append(float(value))
    return {name: sum(values) / len(values) for name, values in sums.items()}
