"""k6 trends as native histograms: on for `--instances N`, k8s runners and flat-memory runs
(k6/memory.py, whose `as_recorded` reads a run back the way it ran)."""

from __future__ import annotations

from orchestrator.config.model import LoadedConfig


def with_native_histograms(loaded: LoadedConfig) -> LoadedConfig:
    """The config with k6 trends sent as native histograms.

    Per-instance trend stats (p95 gauges) cannot be merged: a max or mean of per-instance p95s
    is not the p95 of the test. Summed native histograms are, within bucket precision.
    """
    if loaded.config.k6.native_histograms:
        return loaded
    k6 = loaded.config.k6.model_copy(update={"native_histograms": True})
    return loaded.model_copy(update={"config": loaded.config.model_copy(update={"k6": k6})})
