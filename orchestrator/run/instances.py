"""What `--instances N` changes around a run: native histograms on (so the gate can merge
percentiles exactly), how the run is recorded, and the merged summary afterwards."""

from __future__ import annotations

from pathlib import Path

from orchestrator.config.model import LoadedConfig
from orchestrator.ledger.record import RunRecord
from orchestrator.ledger.store import RunDir, write_json
from orchestrator.runtimes.segments import instance_log, instance_summary
from orchestrator.k6.summary import load_summaries, merge_summaries


def with_native_histograms(loaded: LoadedConfig) -> LoadedConfig:
    """The config with k6 trends sent as native histograms.

    Per-instance trend stats (p95 gauges) cannot be merged: a max or mean of per-instance p95s
    is not the p95 of the test. Summed native histograms are, within bucket precision.
    """
    if loaded.config.k6.native_histograms:
        return loaded
    k6 = loaded.config.k6.model_copy(update={"native_histograms": True})
    return loaded.model_copy(update={"config": loaded.config.model_copy(update={"k6": k6})})


def as_recorded(loaded: LoadedConfig, record: RunRecord) -> LoadedConfig:
    """The config as the run used it: a multi-instance run sent native histograms whatever
    perfctl.yaml says, so re-evaluating it must read them too."""
    return with_native_histograms(loaded) if record.identity.k6_native_histograms else loaded


def k6_files(run: RunDir, count: int) -> list[tuple[Path, Path]]:
    """(log, summary) that each k6 process of the run wrote itself, one pair per instance.

    With several instances k6.log and summary.json are perfctl's (an index, the merge), so
    they say nothing about when or how k6 ended."""
    log, summary = run.file("k6.log"), run.file("summary.json")
    if count <= 1:
        return [(log, summary)]
    return [(instance_log(log, i), instance_summary(summary, i)) for i in range(count)]


def merge_instance_summaries(run: RunDir, count: int) -> list[str]:
    """summary-<i>.json -> summary.json; returns one line per instance summary that is missing.

    The merge is written as soon as one instance summary exists (its numbers are worth
    keeping), so summary.json is no proof that the run completed: the returned lines (also
    under `perfctl.missing` in the file) are."""
    paths = [instance_summary(run.file("summary.json"), i) for i in range(count)]
    summaries, problems = load_summaries(paths)
    if summaries and count == 1:
        write_json(run.file("summary.json"), summaries[0])  # one instance (one --hosts host): nothing to merge
    elif summaries:
        merged = merge_summaries(summaries)
        merged["perfctl"]["missing"] = problems
        write_json(run.file("summary.json"), merged)
    return problems
