"""k6 trends as native histograms: on for `--instances N` and k8s runners, and read back the
same way when a run is judged again."""

from __future__ import annotations

from orchestrator.config.model import LoadedConfig
from orchestrator.ledger.record import RunRecord


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
