"""Baselines for relative criteria (`<= +10%`): the objective values of earlier runs.

`--baseline RUN` takes one run's verdict; `--baseline last-pass` the mean of each
objective's value over the last N passing runs of the same scenario (N =
`gate.baseline_runs`). Which runs formed the baseline is recorded with the verdict, and
the values themselves in run.json, so re-evaluating a run uses the same baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from orchestrator.errors import LedgerError, UsageError
from orchestrator.ledger import Ledger, RunDir

LAST_PASS = "last-pass"


@dataclass(frozen=True)
class Baseline:
    spec: str  # what the user asked for: a run id or "last-pass"
    runs: tuple[str, ...]  # the runs whose values were used, newest first
    values: dict[str, float] = field(default_factory=dict)  # objective name -> mean value

    def as_dict(self) -> dict:
        return {"spec": self.spec, "runs": list(self.runs), "values": dict(self.values)}

    @classmethod
    def from_dict(cls, data: dict | None) -> "Baseline | None":
        if not data:
            return None
        return cls(spec=data.get("spec", ""), runs=tuple(data.get("runs", ())), values=dict(data.get("values", {})))


def resolve(ledger: Ledger, spec: str, *, scenario: str, runs_wanted: int, exclude: str | None = None) -> Baseline:
    """The baseline `spec` names. A named run without a verdict is a usage error; no passing
    run yet gives an empty baseline (relative criteria are then inconclusive, and say why)."""
    if spec == LAST_PASS:
        chosen = last_passing(ledger, scenario=scenario, count=runs_wanted, exclude=exclude)
        return Baseline(spec, tuple(r.id for r, _ in chosen), mean_values([v for _, v in chosen]))
    run = ledger.get(spec)
    verdict = _verdict(run)
    if verdict is None:
        raise UsageError(f"--baseline {spec}: the run has no verdict.json", hint=f"perfctl evaluate {spec}")
    return Baseline(spec, (run.id,), mean_values([verdict]))


def check_spec(ledger: Ledger, spec: str) -> None:
    """Refuse a --baseline that names a run without a verdict, before anything starts."""
    if spec != LAST_PASS and _verdict(ledger.get(spec)) is None:
        raise UsageError(f"--baseline {spec}: the run has no verdict.json", hint=f"perfctl evaluate {spec}")


def last_passing(ledger: Ledger, *, scenario: str, count: int, exclude: str | None = None) -> list[tuple[RunDir, dict]]:
    """The newest `count` runs of `scenario` whose verdict is pass, newest first.

    Reads run.json (small) before verdict.json, and stops as soon as it has enough, so a
    ledger of thousands of runs costs only the runs it looks at.
    """
    found: list[tuple[RunDir, dict]] = []
    for run in reversed(ledger.runs()):
        if run.id == exclude:
            continue
        try:
            record = run.run_record()
            if record.get("scenario") != scenario or record.get("result") not in (None, "pass"):
                continue
            verdict = _verdict(run)
        except LedgerError:
            continue
        if verdict is not None and verdict.get("result") == "pass" and verdict.get("scenario") == scenario:
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
