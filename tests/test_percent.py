"""The one percent formatter (orchestrator/percent.py): never rounds across a threshold."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.percent import percent_text, threshold_text


@pytest.mark.parametrize(
    "value, text",
    [(100.0, "100%"), (0.0, "0%"), (-0.0, "0%"), (90.0, "90%"), (89.96, "89.9%"), (33.3333, "33.3%"), (99.99, "99.9%"),
     (12.05, "12%"), (None, "—"), (math.nan, "NaN"), (math.inf, "inf%")],
)
def test_cut_at_one_decimal_never_overstates(value, text):
    assert percent_text(value) == text


@pytest.mark.parametrize(
    "value, threshold, text",
    [
        (89.96, 90, "89.9%"),  # below, and reads below
        (89.99999, 90, "89.9%"),
        (89.9999999999, 90, "90%"),  # within the gate's 1e-9 tolerance: it meets 90
        (90.05, 90.05, "90.05%"),  # meets, and reads as meeting (not 90%)
        (90.07, 90.05, "90.07%"),
        (90.01, 90.05, "90%"),  # below 90.05 and reads below it
        (75.0, 75, "75%"),
    ],
)
def test_beside_a_threshold_the_number_stays_on_its_side(value, threshold, text):
    assert percent_text(value, threshold=threshold) == text


def test_signed_for_deltas():
    assert percent_text(5.04, signed=True, threshold=5) == "+5.04%"
    assert percent_text(-5.04, signed=True, threshold=-5) == "-5.04%"
    assert percent_text(-4.99, signed=True, threshold=-5) == "-4.9%"
    assert percent_text(0.0, signed=True) == "0%"
    assert percent_text(12.0, signed=True) == "+12%"


def test_thresholds_are_shown_as_configured():
    assert [threshold_text(t) for t in (90, 92.5, 99.95, 0)] == ["90%", "92.5%", "99.95%", "0%"]


def _shown(text: str) -> float:
    return float(text.rstrip("%"))


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100))
def test_shown_value_is_on_the_same_side_of_the_threshold(value, threshold):
    shown = _shown(percent_text(value, threshold=threshold))
    assert shown <= value + 1e-6  # never overstates
    if value < threshold - 1e-6:
        assert shown < threshold
    if value >= threshold + 1e-6:
        assert shown >= threshold
