"""The numbers of a figure: medians, spreads, ratios and targets. Pure, no I/O."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Callable, Sequence

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
}


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@dataclass(frozen=True)
class Summary:
    """Median and range (min..max) of repeated measurements of one quantity."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> "Summary":
        return cls(median(values), min(values), max(values), len(values))

    @property
    def spread_percent(self) -> float:
        """Half the range as a share of the median: a ± figure for the table."""
        if self.median == 0:
            return 0.0
        return 100.0 * (self.high - self.low) / 2 / abs(self.median)

    def as_dict(self) -> dict:
        return {"median": self.median, "min": self.low, "max": self.high, "n": self.n,
                "spread_percent": round(self.spread_percent, 2)}


def median_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free interval for the median: the k-th smallest and k-th largest value,
    k the largest with P(Binomial(n, 1/2) < k) <= (1 - confidence) / 2. Unlike the range, it
    narrows as repetitions are added: it is how sure the figure is, not how far one run swings.
    With too few values for that confidence it is the whole range."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("interval of no values")
    tail, k = 0.0, 0
    while k < n // 2:
        tail += math.comb(n, k) / 2 ** n  # P(X = k): P(X <= k) after the loop's k-th step
        if tail > (1 - confidence) / 2:
            break
        k += 1
    k = max(k, 1)
    return ordered[k - 1], ordered[n - k]


def interval_percent(values: Sequence[float], confidence: float = 0.95) -> float:
    """Half the median's interval as a share of the median: the figure's ± at that confidence."""
    low, high = median_interval(values, confidence)
    middle = median(values)
    return 0.0 if middle == 0 else 100.0 * (high - low) / 2 / abs(middle)


def pairwise_ratios(candidate: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """Candidate_i / baseline_i of alternated pairs: each ratio shares its moment's noise."""
    if len(candidate) != len(baseline):
        raise ValueError(f"{len(candidate)} candidate samples but {len(baseline)} baseline samples")
    return [c / b for c, b in zip(candidate, baseline) if b]


@dataclass(frozen=True)
class Target:
    op: str  # one of OPERATORS
    value: float
    unit: str = ""  # "" for a ratio

    def met_by(self, measured: float) -> bool:
        return OPERATORS[self.op](measured, self.value)

    @property
    def text(self) -> str:
        return f"{self.op} {self.value:g}{(' ' + self.unit) if self.unit else ''}"


@dataclass
class Row:
    """One line of a figure's table: a measured quantity."""

    label: str
    summary: Summary
    unit: str

    def as_dict(self) -> dict:
        return {"label": self.label, "unit": self.unit, **self.summary.as_dict()}


@dataclass
class Headline:
    """A figure's verdict: the quantity its target is about."""

    label: str
    summary: Summary
    target: Target
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.target.met_by(self.summary.median)

    def as_dict(self) -> dict:
        return {"label": self.label, "unit": self.unit, "target": self.target.text, "met": self.met,
                **self.summary.as_dict()}


@dataclass
class FigureResult:
    key: str
    title: str
    headlines: list[Headline] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # figure-specific tables (import profile, steps, ...)
    error: str | None = None  # the figure could not be measured: why

    @property
    def met(self) -> bool | None:
        if self.error or not self.headlines:
            return None
        return all(h.met for h in self.headlines)

    def as_dict(self) -> dict:
        return {
            "key": self.key, "title": self.title, "met": self.met, "error": self.error,
            "headlines": [h.as_dict() for h in self.headlines], "rows": [r.as_dict() for r in self.rows],
            "notes": list(self.notes), "commands": list(self.commands), "extra": self.extra,
        }


def bracketed_ratios(sequence: Sequence[tuple[str, float]], baseline: str) -> dict[str, list[float]]:
    """Runs in the order they ran, baseline between every two candidates (B V1 B V2 B ...): each
    candidate over the mean of the baselines right before and after it, so a slow drift of the
    machine's load (other work on shared cores) cancels out of its ratio."""
    out: dict[str, list[float]] = {}
    for at, (name, value) in enumerate(sequence):
        if name == baseline:
            continue
        around = [v for n, v in (sequence[at - 1] if at > 0 else ("", 0.0),
                                 sequence[at + 1] if at + 1 < len(sequence) else ("", 0.0)) if n == baseline]
        if not around:
            raise ValueError(f"run {at} ({name}) has no baseline run beside it")
        reference = sum(around) / len(around)
        if reference:
            out.setdefault(name, []).append(value / reference)
    return out
