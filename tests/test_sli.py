"""The SLI registry (orchestrator/sli.py) against what reads it and what documents it: pure."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from orchestrator import units
from orchestrator.verdict import gate
from orchestrator.config.objectives import Sli as SliName
from orchestrator.sli import NAMES, SLIS, Sli

DOCS = Path(__file__).resolve().parent.parent / "docs" / "slis.md"
PLACEHOLDER = re.compile(r"\$[a-z_]+")


def _table(heading: str) -> list[list[str]]:
    """The cells of docs/slis.md's table whose header row is `heading`."""
    lines = DOCS.read_text().splitlines()
    start = lines.index(heading) + 2  # skip the header and the --- row
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _templates(record: Sli) -> list[str]:
    return [t for t in (record.query, record.series, record.native_query, record.native_series) if t]


def test_docs_table_has_one_row_per_sli_with_its_promql():
    rows = [row for row in _table("| SLI | PromQL | what it measures |") if re.fullmatch(r"`\w+`", row[0])]
    documented = [row[0].strip("`") for row in rows]
    assert documented == list(NAMES), "docs/slis.md: one row per built-in SLI, in the registry's order"
    for name, promql, _ in rows:
        assert f"`{SLIS[name.strip('`')].query}`" in promql, name


def test_docs_units_table_names_every_sli_once():
    named = [n.strip("`") for row in _table("| SLI | unit |") for n in row[0].split(", ")]
    assert sorted(named) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_placeholders_are_the_gates(name):
    for template in _templates(SLIS[name]):
        assert set(PLACEHOLDER.findall(template)) <= set(gate.PLACEHOLDERS), template


@pytest.mark.parametrize("name", NAMES)
def test_kind_matches_whose_series_the_queries_select(name):
    # A k6 SLI selects this run's series by run id; a backend SLI its scrape job, never k6's.
    record = SLIS[name]
    for template in _templates(record):
        if record.kind == "k6":
            assert "$testid" in template and "$job" not in template, template
        else:
            assert "$job" in template and "$testid" not in template, template


def test_readers_take_the_registry():
    assert typing.get_args(SliName) == NAMES  # also the JSON schema's enum, in this order
    assert units.SLI_UNITS == {name: record.unit for name, record in SLIS.items()}
    assert set(units.SLI_UNITS.values()) <= set(units.UNITS)


def test_a_record_whose_kind_and_completeness_disagree_is_refused():
    with pytest.raises(ValueError, match="kind backend does not go with completeness k6_stream"):
        Sli(name="x", query='up{job="$job"}', series='up{job="$job"}', series_note="", unit="ratio",
            kind="backend", completeness="k6_stream", doc="")
