"""Numbers with units: one formatter for every report; every built-in SLI has a unit."""

from __future__ import annotations

import typing

import pytest

from orchestrator import units
from orchestrator.config.objectives import Sli, Unit
from tests.conftest import REPO


def test_every_builtin_sli_has_a_unit_and_the_docs_list_it():
    slis = set(typing.get_args(Sli))
    assert set(units.SLI_UNITS) == slis
    assert set(units.SLI_UNITS.values()) <= set(units.UNITS)
    assert set(typing.get_args(Unit)) == set(units.UNITS)  # the config accepts exactly these
    from orchestrator.monitoring.dashboards import GRAFANA_UNITS

    assert set(GRAFANA_UNITS) == set(units.UNITS)  # Grafana's panels know every one
    docs = (REPO / "docs" / "slis.md").read_text()
    section = docs[docs.index("## Units"):docs.index("## Missing data")]
    assert all(f"`{name}`" in section for name in slis)


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0.00191, "ratio", "0.191%"), (1.0, "ratio", "100%"), (0.0123, "s", "12.3 ms"), (0.45, "s", "450 ms"),
        (2.5, "s", "2.5 s"), (0.0000123, "s", "12.3 µs"), (300.0, "s", "5m 00s"), (87.0, "Hz", "87 Hz"),
        (1234.0, "messages", "1,234 messages"), (45.21, "req/s", "45.2 req/s"), (12_345_678.0, "bytes", "12.3 MB"),
        (250.0, "ms", "250 ms"), (0.5, "none", "0.5"), (None, "s", "—"), (0.0, "s", "0 ms"),
    ],
)
def test_values_print_in_their_unit(value, unit, shown):
    assert units.quantity(value, unit) == shown


def test_criteria_print_in_the_unit_but_relative_bounds_stay():
    assert units.criterion("< 0.01", "ratio") == "< 1%"
    assert units.criterion("< 0.5", "s") == "< 500 ms"
    assert units.criterion("between 90 and 110", "Hz") == "between 90 Hz and 110 Hz"
    assert units.criterion("<= +10%", "s") == "<= +10%"
    assert units.criterion("< 0.5 and <= +10%", "s") == "< 500 ms and <= +10%"
    assert units.criterion("< 100", "none") == "< 100"


def test_no_exponent_in_small_numbers():
    assert "e" not in units.number(0.0000123)
    assert units.number(0.0000123) == "0.0000123"
