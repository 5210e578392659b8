"""orchestrator/k6/native_histograms.py and k6/summary.py on a real run folder: native histograms forced on for a
multi-instance run (and when re-reading one), which files each k6 wrote, and the merged
summary.json with what is missing listed in it."""

from __future__ import annotations

import json

from orchestrator.config.load import load_config
from orchestrator.ledger.record import RunRecord
from orchestrator.ledger.store import Ledger
from orchestrator.k6.memory import as_recorded
from orchestrator.k6.native_histograms import with_native_histograms
from orchestrator.k6.summary import k6_files, merge_instance_summaries
from tests.conftest import write_config

CONFIG = """
version: 1
k6: {native_histograms: %s}
scenarios:
  main: {vus: 1, duration: 5s, requests: [{name: h, path: /health}]}
"""


def loaded(tmp_path, native: bool = False):
    return load_config(write_config(tmp_path / "perfctl.yaml", CONFIG % ("true" if native else "false")))


def summary(reqs: int, seconds: float) -> dict:
    return {"state": {"testRunDurationMs": seconds * 1000},
            "metrics": {"http_reqs": {"count": reqs, "rate": reqs / seconds},
                        "http_req_duration": {"min": 1, "max": 9, "med": 3, "p(95)": 8}}}


def test_native_histograms_are_forced_on_without_touching_the_original(tmp_path):
    original = loaded(tmp_path)
    changed = with_native_histograms(original)
    assert changed.config.k6.native_histograms is True
    assert original.config.k6.native_histograms is False  # a copy: the loaded config is unchanged
    assert changed.digest == original.digest and changed.path == original.path
    assert changed.config.scenarios == original.config.scenarios
    already = loaded(tmp_path, native=True)
    assert with_native_histograms(already) is already


def test_as_recorded_follows_what_the_run_wrote(tmp_path):
    config = loaded(tmp_path)
    assert as_recorded(config, RunRecord.from_json({"k6_native_histograms": True})).config.k6.native_histograms is True
    assert as_recorded(config, RunRecord.from_json({})) is config
    assert as_recorded(config, RunRecord.from_json({"k6_native_histograms": False})) is config


def test_k6_files_one_pair_or_one_per_instance(tmp_path):
    run = Ledger(tmp_path / "results").create("r1", {"scenario": "main", "status": "running"})
    assert k6_files(run, 1) == [(run.file("k6.log"), run.file("summary.json"))]
    assert k6_files(run, 0) == [(run.file("k6.log"), run.file("summary.json"))]
    assert k6_files(run, 3) == [(run.file(f"k6-{i}.log"), run.file(f"summary-{i}.json")) for i in range(3)]


def test_merge_of_every_instance(tmp_path):
    run = Ledger(tmp_path / "results").create("r1", {"scenario": "main", "status": "running"})
    for i, (reqs, seconds) in enumerate([(100, 10.0), (50, 5.0)]):
        run.file(f"summary-{i}.json").write_text(json.dumps(summary(reqs, seconds)))
    assert merge_instance_summaries(run, 2) == []
    merged = json.loads(run.file("summary.json").read_text())
    assert merged["metrics"]["http_reqs"]["count"] == 150
    assert merged["perfctl"]["merged_instances"] == 2 and merged["perfctl"]["missing"] == []


def test_a_missing_instance_is_listed_and_the_rest_still_merged(tmp_path):
    run = Ledger(tmp_path / "results").create("r1", {"scenario": "main", "status": "running"})
    run.file("summary-0.json").write_text(json.dumps(summary(100, 10.0)))
    run.file("summary-2.json").write_text("{torn")
    problems = merge_instance_summaries(run, 3)
    assert problems[0] == "summary-1.json: missing (the instance did not finish)"
    assert problems[1].startswith("summary-2.json: unreadable")
    merged = json.loads(run.file("summary.json").read_text())
    assert merged["perfctl"]["missing"] == problems and merged["perfctl"]["merged_instances"] == 1


def test_one_instance_is_copied_as_it_is(tmp_path):
    run = Ledger(tmp_path / "results").create("r1", {"scenario": "main", "status": "running"})
    run.file("summary-0.json").write_text(json.dumps(summary(7, 1.0)))
    assert merge_instance_summaries(run, 1) == []
    assert json.loads(run.file("summary.json").read_text()) == summary(7, 1.0)  # no merge section


def test_no_summary_at_all_writes_nothing(tmp_path):
    run = Ledger(tmp_path / "results").create("r1", {"scenario": "main", "status": "running"})
    assert merge_instance_summaries(run, 2) == [f"summary-{i}.json: missing (the instance did not finish)" for i in range(2)]
    assert not run.file("summary.json").exists()
