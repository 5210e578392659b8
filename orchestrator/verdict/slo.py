"""Objectives, criteria, scores and verdicts: pure functions of numbers, no I/O.

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
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from orchestrator.percent import percent_text, threshold_text


class Result(str, enum.Enum):
    PASS = "pass"
    WARNING = "warning"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NOT_EVALUATED = "not-evaluated"  # a grade only: a relative criterion with no baseline yet


# How a not-evaluated grade's reason starts (it is also one of the verdict's reasons).
NO_BASELINE_YET = "no baseline yet"


@dataclass(frozen=True)
class Criterion:
    """One comparison, e.g. `< 0.01`, `between 90 and 110`, `<= +10%` (relative to a baseline)."""

    op: str  # one of < <= > >= == != between
    value: float  # the bound (for `between`, the low bound); for relative criteria, the percent
    high: float | None = None  # `between` only
    relative: bool = False  # True: value is a percent change against the baseline
    text: str = ""  # as written by the user, for reports


@dataclass(frozen=True)
class Criteria:
    """All of `parts` must hold (`< 500 and <= +10%`)."""

    parts: tuple[Criterion, ...]
    text: str


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


# ---- criteria grammar ---------------------------------------------------------------------------

OPERATORS = ("<", "<=", ">", ">=", "==", "!=")
_EXPECTED = f"expected an operator ({', '.join(OPERATORS)}) or 'between A and B'"

# A plain decimal or scientific number without sign; the sign is read separately because
# it decides between an absolute bound (`< -5`) and a relative one (`>= -5%`).
_UNSIGNED = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER_RE = re.compile(rf"([+-]?)({_UNSIGNED})\s*(%?)", re.ASCII)  # ASCII: no Arabic-Indic digits
# The operator must not be followed by another operator character, so `<< 3` or `=> 3`
# read as a bad operator rather than as a bad number.
_OP_RE = re.compile(r"(<=|>=|==|!=|<|>)(?![<>=!])\s*(.*)", re.DOTALL)
_BETWEEN_RE = re.compile(r"between\b\s*(.*)", re.IGNORECASE | re.DOTALL)
_BETWEEN_BOUNDS_RE = re.compile(r"(\S+)\s+and\s+(\S+)", re.IGNORECASE | re.DOTALL)
# `and` as a word: `<5and<6` is not split, `< 5 and < 6` is.
_AND_RE = re.compile(r"\band\b", re.IGNORECASE)

# Relative bounds are computed (baseline ± percent), so they carry floating-point noise:
# `<= +10%` of 0.7 is 0.7700000000000001. This relative tolerance keeps a value that
# is exactly on such a bound on the side the user meant. Absolute bounds are exact.
_REL_TOLERANCE = 1e-9
# Percent comparisons in decide(): 89.99999999999 is 90 for the purpose of a threshold.
_PERCENT_EPSILON = 1e-9


def _bad(text: str, why: str) -> ValueError:
    return ValueError(f"bad criterion '{text}': {why}")


def _parse_number(text: str, operand: str) -> tuple[float, bool]:
    """(value, relative) for `0.5`, `-3`, `1e-3`, `+10%`, `-5%`."""
    m = _NUMBER_RE.fullmatch(operand)
    if m is None:
        if not operand:
            raise _bad(text, "missing a number after the operator")
        raise _bad(text, f"'{operand}' is not a number")
    sign, digits, percent = m.groups()
    value = float(sign + digits)
    if not math.isfinite(value):
        raise _bad(text, f"'{operand}' is out of range")
    if percent and not sign:
        raise _bad(text, f"a relative criterion needs an explicit sign: '+{digits}%' or '-{digits}%'")
    if sign == "+" and not percent:
        # `+10` is almost always a relative criterion with the `%` forgotten; refuse to guess.
        raise _bad(text, f"'{operand}' has a sign but no '%': write '{operand}%' (relative) or '{digits}' (absolute)")
    return value, bool(percent)


def _parse_between(text: str, rest: str) -> Criterion:
    m = _BETWEEN_BOUNDS_RE.fullmatch(rest)
    if m is None:
        raise _bad(text, "expected 'between A and B'")
    bounds = []
    for operand in m.groups():
        value, relative = _parse_number(text, operand)
        if relative:
            raise _bad(text, "'between' takes plain numbers, not percentages")
        bounds.append(value)
    low, high = bounds
    if low > high:
        raise _bad(text, f"low bound {_bound_text(low)} is above high bound {_bound_text(high)}")
    return Criterion(op="between", value=low, high=high, relative=False, text=text)


def _bound_text(value: float) -> str:
    """A bound as the user would write it: `0.5`, `500` (not `500.0`), `1e-05`."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


def _parse_part(text: str) -> Criterion:
    between = _BETWEEN_RE.fullmatch(text)
    if between is not None:
        return _parse_between(text, between.group(1))
    m = _OP_RE.fullmatch(text)
    if m is None:
        raise _bad(text, _EXPECTED)
    op, operand = m.groups()
    value, relative = _parse_number(text, operand.strip())
    return Criterion(op=op, value=value, relative=relative, text=text)


def _split_parts(text: str) -> list[str]:
    """Split on ` and `, gluing `between A` back to its `B`."""
    pieces, start = [], 0
    for m in _AND_RE.finditer(text):
        pieces.append((start, m.start()))
        start = m.end()
    pieces.append((start, len(text)))
    parts, i = [], 0
    while i < len(pieces):
        lo, hi = pieces[i]
        piece = text[lo:hi].strip()
        if _BETWEEN_RE.fullmatch(piece) and i + 1 < len(pieces):
            # `between 90 and 110`: the `and` belongs to the range, not to the conjunction.
            hi = pieces[i + 1][1]
            i += 1
        part = text[lo:hi].strip()
        if not part:
            raise ValueError(f"bad criteria '{text}': 'and' must join two criteria")
        parts.append(part)
        i += 1
    return parts


def parse_criteria(text: str) -> Criteria:
    """Parse `< 0.01`, `between 90 and 110`, `<= +10%`, `< 500 and <= +10%`, ..."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty criteria: expected e.g. '< 0.01', 'between 90 and 110' or '<= +10%'")
    parts = tuple(_parse_part(part) for part in _split_parts(stripped))
    return Criteria(parts=parts, text=stripped)


# ---- evaluation -----------------------------------------------------------------------------------


def _usable_baseline(baseline: float | None) -> bool:
    # A percent change from nothing, NaN or infinity is undefined; from 0 it is defined below.
    return baseline is not None and math.isfinite(baseline)


def relative_change(value: float, baseline: float) -> float:
    """Percent change of `value` against `baseline`, of |baseline| so `+` means higher also for
    negative baselines. Against 0: 0 for 0, +inf for a positive value, -inf for a negative one
    (any growth from nothing is beyond every percent), so `<= +10%` against 0 holds only for 0."""
    if baseline == 0:
        return 0.0 if value == 0 else math.copysign(math.inf, value)
    return 100.0 * (value - baseline) / abs(baseline)


def _compare(op: str, value: float, bound: float, tolerance: float) -> bool:
    if op == "<":
        return value < bound - tolerance
    if op == "<=":
        return value <= bound + tolerance
    if op == ">":
        return value > bound + tolerance
    if op == ">=":
        return value >= bound - tolerance
    if op == "==":
        return abs(value - bound) <= tolerance
    if op == "!=":
        return abs(value - bound) > tolerance
    raise ValueError(f"unknown operator {op!r}")


def criterion_holds(criterion: Criterion, value: float, baseline: float | None) -> bool | None:
    """One comparison; None when it is relative and there is no usable baseline."""
    if math.isnan(value):
        return None
    if criterion.op == "between":
        assert criterion.high is not None
        return criterion.value <= value <= criterion.high
    if not criterion.relative:
        return _compare(criterion.op, value, criterion.value, 0.0)
    if not _usable_baseline(baseline):
        return None
    assert baseline is not None
    if baseline == 0:
        return _compare(criterion.op, relative_change(value, 0.0), criterion.value, 0.0)
    # The percent applies to |baseline| so `<= +10%` means "at most 10% higher" also for
    # negative baselines (e.g. a temperature delta or a signed offset).
    bound = baseline + abs(baseline) * criterion.value / 100.0
    return _compare(criterion.op, value, bound, _REL_TOLERANCE * abs(bound))


def criteria_hold(criteria: Criteria, value: float, baseline: float | None) -> bool | None:
    """All parts hold → True; any part fails → False; otherwise (a relative part without a
    usable baseline, or a NaN value) → None.

    Three-valued `and`: `< 500 and <= +10%` with value 600 is False even without a
    baseline, because no baseline could make it hold.
    """
    if math.isnan(value):
        return None
    outcomes = [criterion_holds(part, value, baseline) for part in criteria.parts]
    if False in outcomes:
        return False
    if None in outcomes:
        return None
    return True


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


def format_value(value: float | None, *, digits: int = 3) -> str:
    """Compact, for people: `0.0123`, `95.2`, `12,345`, `1.2e-05`, `—` for no value.

    `digits` significant digits below 1000; from 1000 on, thousands separators and at
    most one decimal (a request count or a latency in ms reads better as 12,345).
    """
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"  # also -0.0
    magnitude = abs(value)
    if magnitude >= 1e15:
        return f"{value:.{digits}g}"
    # From here on `g` would switch to an exponent (999.7 → 1e+03), so use separators.
    if magnitude >= 10 ** digits - 0.5:
        if magnitude >= 10_000:
            return f"{value:,.0f}"
        text = f"{value:,.1f}"
        return text[:-2] if text.endswith(".0") else text
    return f"{value:.{digits}g}"
