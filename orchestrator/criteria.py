"""The criteria grammar and its truth: `< 0.01`, `between 90 and 110`, `<= +10%` (relative to
a baseline), `< 500 and <= +10%`, parsed into Criteria and held against a value. Pure, no I/O;
grading objectives with them is slo.py's job."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


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
