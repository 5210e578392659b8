"""Objectives, scores and verdicts: pure functions of numbers, no I/O (the criteria grammar
is verdict/criteria.py).

The model follows Keptn's quality gates: each objective is graded pass (1),
warning (0.5) or fail (0) against its criteria, times its weight; the total score
in percent decides the verdict, a failed *key* objective fails the gate whatever
the score, and an objective without data makes the verdict inconclusive, never pass.

A relative criterion (`<= +10%`) with no baseline yet is *not evaluated*: the objective
weighs nothing and never worsens the verdict, which comes from the other objectives, so
the first run of a scenario can pass and become the baseline. When every objective with
weight is not evaluated there is no score: the verdict rests on the weightless rule
grades (guards, k6's own), and is pass only when there are some and all of them passed
on data; otherwise nothing was judged, and that is inconclusive, never a pass.
`require_baseline=True` keeps the strict rule: no baseline is inconclusive.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from orchestrator.percent import percent_text, threshold_text
from orchestrator.units import format_value
from orchestrator.criteria import Criteria, criteria_hold


class Result(str, enum.Enum):
    PASS = "pass"
    WARNING = "warning"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NOT_EVALUATED = "not-evaluated"  # a grade only: a relative criterion with no baseline yet


# How a not-evaluated grade's reason starts (it is also one of the verdict's reasons).
NO_BASELINE_YET = "no baseline yet"


@dataclass(frozen=True)
class ObjectiveSpec:
    """What the gate needs to grade one objective (built from the config)."""

    name: str
    pass_criteria: Criteria
    warning_criteria: Criteria | None = None
    weight: float = 1.0
    key: bool = False
    unit: str = "none"  # how reports print the value (orchestrator/units.py); the math ignores it


@dataclass(frozen=True)
class Grade:
    """The outcome of one objective."""

    name: str
    result: Result
    value: float | None
    score: float  # weight * (1 | 0.5 | 0); 0 when inconclusive or not evaluated
    weight: float
    key: bool
    criteria: str  # pass criteria text
    warning: str | None  # warning criteria text
    baseline: float | None = None
    reason: str = ""  # why, in one line (always set when inconclusive or failed)
    unit: str = "none"  # the value's unit, for people (orchestrator/units.py)


@dataclass(frozen=True)
class Verdict:
    result: Result
    score: float  # achieved
    max_score: float  # sum of the weights of the evaluated objectives
    percent: float  # 100 * score / max_score (0 when max_score is 0)
    grades: tuple[Grade, ...]
    reasons: tuple[str, ...] = field(default_factory=tuple)  # why the verdict is what it is


# Percent comparisons in decide(): 89.99999999999 is 90 for the purpose of a threshold.
_PERCENT_EPSILON = 1e-9


# ---- grading ----------------------------------------------------------------------------------------

_FACTOR = {Result.PASS: 1.0, Result.WARNING: 0.5, Result.FAIL: 0.0, Result.INCONCLUSIVE: 0.0, Result.NOT_EVALUATED: 0.0}


def _missing_baseline_reason(criteria: Criteria, baseline: float | None, why: str, strict: bool) -> str:
    part = next((p for p in criteria.parts if p.relative), None)
    shown = part.text if part is not None else criteria.text
    if baseline is not None:
        why = f"the baseline is {format_value(baseline)}"
    if strict:
        return f"relative criterion '{shown}' needs a baseline; {why} (gate.require_baseline)"
    return f"{NO_BASELINE_YET} for '{shown}' ({why}): this run can become one"


def grade(
    spec: ObjectiveSpec, value: float | None, baseline: float | None = None, *, missing_reason: str = "no data",
    require_baseline: bool = False, no_baseline_why: str = "none given",
) -> Grade:
    """Grade one objective: PASS if the pass criteria hold, else WARNING if the warning
    criteria hold, else FAIL; INCONCLUSIVE when there is no value. When the grade hangs on
    a relative criterion without a usable baseline: NOT_EVALUATED (weighs nothing), or
    INCONCLUSIVE with `require_baseline`. `no_baseline_why` says why there is none."""
    missing_baseline = Result.INCONCLUSIVE if require_baseline else Result.NOT_EVALUATED

    def make(result: Result, reason: str = "") -> Grade:
        return Grade(
            name=spec.name,
            result=result,
            # NaN means "no data"; store None so the grade stays JSON-friendly and comparable.
            value=None if value is None or math.isnan(value) else value,
            score=spec.weight * _FACTOR[result],
            weight=spec.weight,
            key=spec.key,
            criteria=spec.pass_criteria.text,
            warning=spec.warning_criteria.text if spec.warning_criteria is not None else None,
            baseline=baseline,
            reason=reason,
            unit=spec.unit,
        )

    if value is None or math.isnan(value):
        return make(Result.INCONCLUSIVE, missing_reason)

    # Six digits in reasons: "value 0.01 does not meet < 0.01" would hide 0.01004.
    shown = format_value(value, digits=6)
    # Relative criteria get their baseline in the reason: "<= +10%" alone does not say of what.
    relative = any(p.relative for c in (spec.pass_criteria, spec.warning_criteria) if c for p in c.parts)
    of_base = f" (baseline {format_value(baseline, digits=6)})" if relative and baseline is not None else ""
    passed = criteria_hold(spec.pass_criteria, value, baseline)
    if passed is True:
        return make(Result.PASS)
    if passed is None:
        return make(missing_baseline, _missing_baseline_reason(spec.pass_criteria, baseline, no_baseline_why, require_baseline))

    pass_text = spec.pass_criteria.text
    if spec.warning_criteria is None:
        return make(Result.FAIL, f"value {shown} does not meet {pass_text}{of_base}")
    warned = criteria_hold(spec.warning_criteria, value, baseline)
    if warned is True:
        return make(Result.WARNING, f"value {shown} meets warning {spec.warning_criteria.text} but not {pass_text}{of_base}")
    if warned is None:
        return make(missing_baseline, _missing_baseline_reason(spec.warning_criteria, baseline, no_baseline_why, require_baseline))
    return make(
        Result.FAIL,
        f"value {shown} does not meet {pass_text} nor warning {spec.warning_criteria.text}{of_base}",
    )


# ---- the verdict ------------------------------------------------------------------------------------


def _points(g: Grade) -> float:
    # Recomputed from result and weight so a hand-built Grade cannot skew the total.
    return g.weight * _FACTOR[g.result]


def decide(grades: Sequence[Grade], *, pass_percent: float = 90.0, warning_percent: float = 75.0) -> Verdict:
    """Keptn-style verdict. In order: no objectives → inconclusive; a failed key objective →
    fail; any inconclusive objective → inconclusive; nothing with weight evaluated →
    inconclusive; otherwise the total score decides. Not-evaluated grades count in no score
    and only add a note to the reasons."""
    grades = tuple(grades)
    evaluated = [g for g in grades if g.result is not Result.NOT_EVALUATED]
    score = sum((_points(g) for g in evaluated), 0.0)
    max_score = sum((g.weight for g in evaluated), 0.0)
    valid_max = max_score > 0 and math.isfinite(max_score)
    percent = 100.0 * score / max_score if valid_max else 0.0

    not_evaluated = [g for g in grades if g.result is Result.NOT_EVALUATED]
    notes = [f"objective '{g.name}' not evaluated: {g.reason}" for g in not_evaluated]

    def verdict(result: Result, reasons: list[str]) -> Verdict:
        return Verdict(result, score, max_score, percent, grades, tuple(reasons + notes))

    if not grades:
        return verdict(Result.INCONCLUSIVE, ["no objectives configured"])

    key_failures = [g for g in grades if g.key and g.result is Result.FAIL]
    if key_failures:
        return verdict(Result.FAIL, [f"key objective '{g.name}' failed: {g.reason}" for g in key_failures])

    inconclusive = [g for g in grades if g.result is Result.INCONCLUSIVE]
    if inconclusive:
        return verdict(Result.INCONCLUSIVE, [f"objective '{g.name}' is inconclusive: {g.reason}" for g in inconclusive])

    if not valid_max and not_evaluated and max_score == 0:
        # The first run of a scenario whose every weighted objective is relative: no score
        # yet. Weightless rule grades that passed on data (guards, k6's thresholds) can carry
        # the run; without any, nothing was judged, and that is never a pass.
        rules = [g for g in evaluated if g.value is not None]
        bootstrap = "this run's values can become the baseline (`--baseline last-pass` next time, or `perfctl baseline pin RUN`)"
        if rules and all(g.result is Result.PASS for g in rules):
            names = ", ".join(g.name for g in rules)
            return verdict(Result.PASS, [
                f"no score yet: every objective with weight is relative and has no baseline; the verdict rests on {names}, "
                f"which passed; {bootstrap}"
            ])
        return verdict(Result.INCONCLUSIVE, [
            f"nothing was judged: every objective with weight is relative and has no baseline yet, and no guard or "
            f"k6 check passed in their place; {bootstrap}"
        ])
    if not valid_max:
        return verdict(Result.INCONCLUSIVE, [f"objective weights sum to {max_score}; cannot compute a score"])

    failed = [f"objective '{g.name}' failed: {g.reason}" for g in grades if g.result is Result.FAIL]
    warnings = [g for g in grades if g.result is Result.WARNING]
    if percent >= pass_percent - _PERCENT_EPSILON:
        reasons = [f"score {percent_text(percent, threshold=pass_percent)} meets the pass threshold {threshold_text(pass_percent)}"]
        if warnings:
            reasons.append(f"{len(warnings)} objective(s) in warning: {', '.join(g.name for g in warnings)}")
        return verdict(Result.PASS, reasons + failed)
    if percent >= warning_percent - _PERCENT_EPSILON:
        reasons = [f"score {percent_text(percent, threshold=pass_percent)} is below the pass threshold {threshold_text(pass_percent)}"]
        return verdict(Result.WARNING, reasons + failed)
    reasons = [
        f"score {percent_text(percent, threshold=warning_percent)} is below the warning threshold {threshold_text(warning_percent)}"
    ]
    return verdict(Result.FAIL, reasons + failed)


# ---- formatting ----------------------------------------------------------------------------------------
