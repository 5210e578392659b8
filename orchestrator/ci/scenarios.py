"""Which scenarios a scheduled CI job runs when the user names none: a smoke-like one first
(a cheap check that target and stack work), then the main one. Taken from perfctl.yaml,
so `perfctl init --example NAME && perfctl ci init` works for every example."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.config.model import Config

# Shapes that are not the everyday check: they push past normal load, or run for hours.
SPECIAL_PROFILES = ("spike", "soak", "stress", "breakpoint")


@dataclass(frozen=True)
class Choice:
    name: str
    why: str


def default_scenarios(config: Config) -> list[Choice]:
    """A smoke-like scenario (if there is one), then the main one; never the same twice."""
    smoke = _smoke(config)
    main = _main(config, exclude=smoke.name if smoke else None)
    return [c for c in (smoke, main) if c is not None]


def _smoke(config: Config) -> Choice | None:
    scenarios = config.scenarios
    if "smoke" in scenarios:
        return Choice("smoke", "named smoke")
    for name, scenario in scenarios.items():
        if scenario.profile is not None and scenario.profile.name == "smoke" and name != "health":
            return Choice(name, "profile smoke")
    if "health" in scenarios:
        return Choice("health", "named health")
    return None


def _main(config: Config, *, exclude: str | None) -> Choice | None:
    scenarios = {n: s for n, s in config.scenarios.items() if n != exclude}
    if "main" in scenarios:
        return Choice("main", "named main")
    for name, scenario in scenarios.items():
        if scenario.include:
            return Choice(name, f"runs {', '.join(scenario.include)} together")
    for name, scenario in scenarios.items():
        profile = scenario.profile.name if scenario.profile else None
        if profile not in SPECIAL_PROFILES and profile != "smoke":
            return Choice(name, "the first everyday scenario")
    return None
