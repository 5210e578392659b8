"""The one way a score or ratio is printed as a percent, wherever it is printed.

Pure and import-free, so slo.py (low in the import graph) and every report can use it.

Rounding to nearest would print a score of 89.96% as "90%" next to "below the pass
threshold 90%". Here the shown number is cut toward zero at the shown precision, so it
never overstates a value; and when it is printed beside a threshold, as many decimals as it
takes (up to six) are shown for the number to land on the same side of the threshold as the
value itself: 89.96 against 90 -> "89.9%", 90.07 against 90.05 -> "90.07%".
"""

from __future__ import annotations

import math

MAX_DIGITS = 6


def _cut(value: float, digits: int) -> float:
    """`value` cut toward zero at `digits` decimals. Rounding the scaled value to 6 places
    first removes binary noise (90.05 * 100 is 9004.999999999998), so 90.05 stays 90.05."""
    scale = 10.0 ** digits
    scaled = round(value * scale, 6)
    return math.trunc(scaled) / scale


def _text(value: float, digits: int, signed: bool) -> str:
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if signed and text != "0" and not text.startswith("-"):
        text = "+" + text
    return text + "%"


def _side(a: float, b: float) -> int:
    return (a > b) - (a < b)


def percent_text(value: float | None, *, threshold: float | None = None, digits: int = 1, signed: bool = False) -> str:
    """`89.96` -> `89.9%`, `100.0` -> `100%`; `None` -> `—`; `signed` puts a `+` before positives.

    With `threshold`, more decimals when needed so that the shown number compares to the
    threshold as the value does (89.96 vs 90: `89.9%`; 90.07 vs 90.05: `90.07%`).
    """
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return ("+inf%" if signed else "inf%") if value > 0 else "-inf%"
    shown = _cut(value, digits)
    if threshold is not None and math.isfinite(threshold):
        want = _side(round(value, 9), round(threshold, 9))  # the tolerance slo.decide uses
        while _side(shown, threshold) != want and digits < MAX_DIGITS:
            digits += 1
            shown = _cut(value, digits)
    return _text(shown, digits, signed)


def threshold_text(threshold: float) -> str:
    """A threshold as configured: `90%`, `92.5%`, `99.95%` (not cut: it is the user's own number)."""
    if not math.isfinite(threshold):
        return percent_text(threshold)
    return _text(round(threshold, MAX_DIGITS), MAX_DIGITS, False)
