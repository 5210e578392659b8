"""Pinned baselines in the ledger (orchestrator/ledger/pins.py, baseline.py) and `perfctl baseline`.

The runs here are ledger folders with a verdict.json, as `perfctl run` leaves them; the
whole flow with real k6 and Prometheus is in tests/e2e/test_baseline_e2e.py."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from orchestrator.verdict import baseline
from orchestrator.ledger import pins
from orchestrator.errors import LedgerError, UsageError
from orchestrator.ledger.store import Ledger
from tests.conftest import run_cli


def add_run(ledger: Ledger, run_id: str, scenario: str, result: str, objectives: list[tuple[str, str, float]]):
    run = ledger.create(run_id, {"scenario": scenario, "status": "finished", "result": result, "created": "2026-12-01T08:00:00Z"})
    (run.path / "verdict.json").write_text(json.dumps({
        "schema": "perfctl.verdict/v1", "run_id": run_id, "scenario": scenario, "result": result,
        "objectives": [{"name": n, "result": r, "value": v} for n, r, v in objectives],
    }))
    return run


@pytest.fixture
def ledger(tmp_path):
    return Ledger(tmp_path / "results")


def test_pin_unpin_and_read_back(ledger):
    add_run(ledger, "r1", "chat", "pass", [("p95", "pass", 0.1)])
    assert pins.read_pins(ledger) == {}
    pin, old = pins.set_pin(ledger, "chat", "r1")
    assert old is None and pin.run == "r1" and pin.pinned_at.endswith("Z")
    doc = json.loads((ledger.root / "baselines.json").read_text())
    assert doc["schema"] == pins.SCHEMA and doc["pinned"]["chat"]["run"] == "r1"
    assert baseline.default_spec(ledger, "chat") == baseline.PINNED and baseline.default_spec(ledger, "other") is None
    resolved = baseline.resolve(ledger, baseline.PINNED, scenario="chat", runs_wanted=3)
    assert (resolved.spec, resolved.runs, resolved.values) == ("pinned", ("r1",), {"p95": 0.1})
    assert not list(ledger.root.glob(".baselines.json.*.tmp"))
    assert pins.remove_pin(ledger, None).run == "r1"
    assert pins.read_pins(ledger) == {}
    with pytest.raises(UsageError, match="no baseline is pinned for scenario 'chat'"):
        pins.remove_pin(ledger, "chat")
    with pytest.raises(UsageError, match="--baseline pinned: no baseline is pinned"):
        baseline.check_spec(ledger, baseline.PINNED, scenario="chat")


def test_unpin_without_a_scenario_needs_exactly_one_pin(ledger):
    pins.set_pin(ledger, "a", "r1")
    pins.set_pin(ledger, "b", "r2")
    with pytest.raises(UsageError, match=r"name the scenario \(pinned: a, b\)"):
        pins.remove_pin(ledger, None)


def test_a_pinned_run_that_is_gone_is_a_clear_usage_error(ledger):
    pins.set_pin(ledger, "chat", "gone")
    with pytest.raises(UsageError, match="run gone, is no longer in"):
        baseline.check_spec(ledger, baseline.PINNED, scenario="chat")


def test_a_torn_pins_file_is_refused_not_guessed(ledger):
    ledger.root.mkdir(parents=True)
    (ledger.root / "baselines.json").write_text("{not json")
    with pytest.raises(LedgerError, match="baselines.json: cannot read it"):
        pins.read_pins(ledger)


def _pin_many(root, scenario, n):
    ledger = Ledger(root)
    for i in range(n):
        pins.set_pin(ledger, scenario, f"{scenario}-{i}")


def test_concurrent_pins_of_other_scenarios_are_all_kept(ledger):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_pin_many, args=(ledger.root, s, 25)) for s in ("a", "b", "c")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert {s: p.run for s, p in pins.read_pins(ledger).items()} == {"a": "a-24", "b": "b-24", "c": "c-24"}


@pytest.mark.parametrize(
    "result, grades, usable",
    [
        ("pass", ["pass", "not-evaluated"], True),
        ("pass", ["pass"], True),
        # Inconclusive only because nothing but relative objectives had weight: it can start the chain.
        ("inconclusive", ["not-evaluated", "pass"], True),
        ("inconclusive", ["not-evaluated", "inconclusive"], False),
        ("inconclusive", ["pass"], False),
        ("warning", ["warning", "pass"], False),
        ("fail", ["fail"], False),
    ],
)
def test_which_verdicts_can_be_a_baseline(result, grades, usable):
    verdict = {"result": result, "objectives": [{"name": f"o{i}", "result": r} for i, r in enumerate(grades)]}
    assert (baseline.why_not_a_baseline(verdict) is None) is usable


def test_last_pass_takes_runs_whose_relative_criteria_were_not_evaluated(ledger):
    add_run(ledger, "20261201-080000-chat-0001", "chat", "inconclusive", [("p95", "not-evaluated", 0.2)])
    add_run(ledger, "20261201-080100-chat-0002", "chat", "fail", [("p95", "fail", 9.0)])
    add_run(ledger, "20261201-080200-chat-0003", "chat", "pass", [("p95", "not-evaluated", 0.1), ("err", "pass", 0.0)])
    found = baseline.resolve(ledger, baseline.LAST_PASS, scenario="chat", runs_wanted=3)
    assert found.runs == ("20261201-080200-chat-0003", "20261201-080000-chat-0001")
    assert found.values["p95"] == pytest.approx(0.15)


def test_cli_pin_show_unpin(tmp_path, ledger):
    add_run(ledger, "good", "chat", "pass", [("p95", "pass", 0.1)])
    add_run(ledger, "bad", "chat", "fail", [("p95", "fail", 3.0)])
    results = ["--results", str(ledger.root)]
    refused = run_cli("baseline", "pin", "bad", *results, cwd=tmp_path)
    assert refused.code == 2 and "its verdict is fail" in refused.stderr and "--force" in refused.stderr
    assert not (ledger.root / "baselines.json").exists()
    pinned = run_cli("baseline", "pin", "good", *results, cwd=tmp_path)
    assert pinned.code == 0 and "pinned run good as the baseline of scenario 'chat'" in pinned.stdout
    forced = run_cli("baseline", "pin", "bad", "--force", *results, cwd=tmp_path)
    assert forced.code == 0 and "(instead of good)" in forced.stdout
    shown = run_cli("baseline", "show", "--json", *results, cwd=tmp_path)
    assert shown.code == 0
    assert [(r["scenario"], r["run"], r["result"]) for r in json.loads(shown.stdout)] == [("chat", "bad", "fail")]
    assert "chat" in run_cli("baseline", "show", *results, cwd=tmp_path).stdout
    gone = run_cli("baseline", "unpin", *results, cwd=tmp_path)
    assert gone.code == 0 and "unpinned run bad from scenario 'chat'" in gone.stdout
    assert (ledger.root / "bad" / "verdict.json").exists()  # the run itself stays
    again = run_cli("baseline", "unpin", "chat", *results, cwd=tmp_path)
    assert again.code == 2 and "no baseline is pinned for scenario 'chat'" in again.stderr
    missing = run_cli("baseline", "pin", "nope", *results, cwd=tmp_path)
    assert missing.code == 2 and "no run 'nope'" in missing.stderr
