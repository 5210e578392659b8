"""How k6 holds its numbers during a run: exactly (its own sinks) or flat (nothing that grows).

k6 keeps every sample of every trend for its end-of-test summary and its thresholds, and the
remote-write output's trend stats keep their own copy: memory grows with the request count,
~0.2 KB a request, until a long soak runs out of it (grafana/k6#1068, #3822). A flat run
keeps no per-sample store anywhere:

- trends go to Prometheus as native histograms (a fixed set of buckets per series);
- k6 runs with `--no-thresholds` and without its summary;
- each k6 threshold becomes a key objective of the gate, computed from Prometheus over the
  run (k6/thresholds.py); an abortOnFail one is live, so the live gate stops the run when k6
  would have;
- summary.json is written by perfctl from Prometheus, in k6's --summary-export shape
  (k6/prom_summary.py).

`k6.memory: auto` (the default) runs flat when the scenario is a soak or planned longer than
`k6.flat_after`; `flat` and `exact` choose. What was chosen, and why, is recorded in run.json
(`k6_memory`) and said in the verdict and the reports; `evaluate` and `recover` judge the
run the way it ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.config.durations import k6_duration
from orchestrator.config.model import LoadedConfig
from orchestrator.config.settings import K6Settings

FLAT, EXACT = "flat", "exact"
NO_THRESHOLDS = "--no-thresholds"


@dataclass(frozen=True)
class MemoryMode:
    mode: str  # FLAT or EXACT
    why: str  # in words: "k6.memory: flat", "a soak profile", "planned 1h > k6.flat_after 10m"
    thresholds: dict = field(default_factory=dict)  # the script's k6 thresholds, judged by the gate when flat
    kinds: dict = field(default_factory=dict)  # what each of their metrics is (k6/thresholds.metric_kinds)

    @property
    def flat(self) -> bool:
        return self.mode == FLAT

    def describe(self) -> str:
        """One line for the console and the reports."""
        if not self.flat:
            return f"k6 memory: exact ({self.why}): k6's own summary and thresholds"
        count = sum(len(items) if isinstance(items, list) else 1 for items in self.thresholds.values())
        judged = f"; its {count} threshold(s) judged by the gate" if count else ""
        return (f"k6 memory: flat ({self.why}): trends as native histograms, no per-sample store in k6; "
                f"k6's summary computed from Prometheus{judged}")

    def as_dict(self) -> dict:
        return {"mode": self.mode, "why": self.why, "thresholds": self.thresholds, "kinds": self.kinds}

    @classmethod
    def from_dict(cls, data: object) -> "MemoryMode | None":
        if not isinstance(data, dict) or data.get("mode") not in (FLAT, EXACT):
            return None
        thresholds, kinds = data.get("thresholds"), data.get("kinds")
        return cls(data["mode"], str(data.get("why") or ""), thresholds if isinstance(thresholds, dict) else {},
                   kinds if isinstance(kinds, dict) else {})


def decide(settings: K6Settings, script, *, runtime: str = "local", runtime_can: bool = True) -> MemoryMode:
    """The mode of a run of `script` (render/script.RenderedScript) under `settings`;
    `runtime_can`: the runtime's `flat_memory` (runtimes/base.py)."""
    from orchestrator.errors import UsageError
    from orchestrator.k6.thresholds import metric_kinds, metric_of

    thresholds = dict(script.thresholds)
    known = metric_kinds(script.plan)
    kinds = {m: known[m] for m in sorted({metric_of(key) for key in thresholds}) if m in known}
    if settings.memory == EXACT:
        return MemoryMode(EXACT, "k6.memory: exact")
    if not runtime_can:
        if settings.memory == FLAT:
            raise UsageError(f"k6.memory: flat is not available with --runtime {runtime} yet",
                             hint="use another runtime, or k6.memory: auto")
        return MemoryMode(EXACT, f"--runtime {runtime}: k6's own summary and thresholds")
    if settings.memory == FLAT:
        return MemoryMode(FLAT, "k6.memory: flat", thresholds, kinds)
    if script.source is not None and "handleSummary" in script.text:
        # A flat k6 calls no handleSummary: the script's own end-of-test files would be lost.
        return MemoryMode(EXACT, "the script exports handleSummary, which a flat k6 would not call")
    soaks = [p.name for p in script.parts if p.scenario.profile is not None and p.scenario.profile.name == "soak"]
    if soaks:
        return MemoryMode(FLAT, f"a soak profile ({', '.join(soaks)})", thresholds, kinds)
    planned = script.expected_seconds or 0.0
    if planned > settings.flat_after:
        return MemoryMode(FLAT, f"planned {k6_duration(planned)} > k6.flat_after {k6_duration(settings.flat_after)}",
                          thresholds, kinds)
    return MemoryMode(EXACT, f"planned {k6_duration(planned)}, within k6.flat_after {k6_duration(settings.flat_after)}")


def flat_config(loaded: LoadedConfig, scenario: str, mode: MemoryMode) -> LoadedConfig:
    """The config a flat run is judged with: native histograms, and k6's thresholds as objectives."""
    from orchestrator.k6.native_histograms import with_native_histograms
    from orchestrator.k6.thresholds import objectives_of

    if not mode.flat:
        return loaded
    loaded = with_native_histograms(loaded)
    present = {o.name for o in loaded.config.objectives}  # already flat (prepare's config, judged again)
    added = [o.model_copy(update={"scenarios": [scenario]}) for o in objectives_of(mode.thresholds, mode.kinds)
             if o.name not in present]
    config = loaded.config.model_copy(update={"objectives": [*loaded.config.objectives, *added]})
    return loaded.model_copy(update={"config": config})


def k6_flags(mode: MemoryMode, summary_off: list[str]) -> list[str]:
    """What `k6 run` gets in this mode; `summary_off` is this k6's way to drop its summary."""
    return [NO_THRESHOLDS, *summary_off] if mode.flat else []


def recorded_mode(record) -> MemoryMode | None:
    """The mode a run recorded (run.json's k6_memory); None for runs from before it existed."""
    return MemoryMode.from_dict(record.identity.k6_memory)


def ran_flat(record) -> bool:
    """The run's k6 kept no per-sample store: no k6 summary and no k6 thresholds to look for."""
    mode = recorded_mode(record)
    return mode is not None and mode.flat


def as_recorded(loaded: LoadedConfig, record) -> LoadedConfig:
    """The config as the run used it, for judging it again (`evaluate`, `recover`, `report`):
    a multi-instance run sent native histograms whatever perfctl.yaml says, and a flat run's
    k6 thresholds are objectives of its gate."""
    from orchestrator.k6.native_histograms import with_native_histograms

    mode = recorded_mode(record)
    if mode is not None and mode.flat:
        return flat_config(loaded, record.scenario, mode)
    return with_native_histograms(loaded) if record.identity.k6_native_histograms else loaded
