"""orchestrator/ci/scenarios.py: which scenarios a scheduled CI job runs by default."""

from __future__ import annotations

from orchestrator.ci.scenarios import Choice, default_scenarios
from orchestrator.config.model import Config

REQUESTS = [{"name": "h", "path": "/health"}]


def config(**scenarios) -> Config:
    return Config.model_validate({"scenarios": {
        # A profile carries its own numbers: vus/duration only for scenarios without one.
        name: {**({} if "profile" in spec or "include" in spec else {"vus": 1, "duration": "10s"}),
               "requests": [] if "include" in spec else REQUESTS, **spec,
               **({"profile": PROFILES[spec["profile"]]} if "profile" in spec else {})}
        for name, spec in scenarios.items()
    }})


# Each profile with the numbers it needs (orchestrator/config/profiles.py).
PROFILES = {
    "smoke": {"name": "smoke"},
    "load": {"name": "load", "vus": 2},
    "spike": {"name": "spike", "peak_vus": 5},
    "soak": {"name": "soak", "vus": 2},
    "stress": {"name": "stress", "peak_vus": 5},
    "breakpoint": {"name": "breakpoint", "peak_rate": 10},
}


def names(cfg: Config) -> list[str]:
    return [c.name for c in default_scenarios(cfg)]


def test_named_smoke_and_main_come_in_that_order():
    cfg = config(main={}, other={}, smoke={})
    assert default_scenarios(cfg) == [Choice("smoke", "named smoke"), Choice("main", "named main")]


def test_a_smoke_profile_is_found_by_its_profile():
    cfg = config(quick={"profile": "smoke"}, steady={})
    assert default_scenarios(cfg) == [Choice("quick", "profile smoke"), Choice("steady", "the first everyday scenario")]


def test_health_is_the_smoke_check_only_when_nothing_else_is():
    assert default_scenarios(config(health={}, quick={"profile": "smoke"}, steady={}))[0] == Choice("quick", "profile smoke")
    cfg = config(health={}, steady={})
    assert default_scenarios(cfg)[0] == Choice("health", "named health")
    assert names(cfg) == ["health", "steady"]


def test_a_scenario_named_health_with_a_smoke_profile_is_still_named_health():
    cfg = config(health={"profile": "smoke"}, steady={})
    assert default_scenarios(cfg)[0] == Choice("health", "named health")


def test_a_combined_scenario_is_the_main_one_before_single_ones():
    cfg = config(a={}, b={}, both={"include": ["a", "b"]})
    chosen = default_scenarios(cfg)
    assert chosen == [Choice("both", "runs a, b together")]


def test_special_shapes_are_never_the_everyday_choice():
    cfg = config(burst={"profile": "spike"}, long={"profile": "soak"}, push={"profile": "stress"},
                 edge={"profile": "breakpoint"}, steady={"profile": "load"})
    assert names(cfg) == ["steady"]


def test_only_special_shapes_give_no_choice():
    assert default_scenarios(config(burst={"profile": "spike"}, long={"profile": "soak"})) == []


def test_one_smoke_scenario_is_not_chosen_twice():
    # A smoke profile must not come back as "the main one" when it is the only scenario.
    assert names(config(only={"profile": "smoke"})) == ["only"]
    assert names(config(smoke={})) == ["smoke"]


def test_main_excludes_the_smoke_choice_even_when_named_main():
    # `main` is named main; smoke comes from a profile elsewhere: both, distinct.
    assert names(config(main={"profile": "smoke"}, other={})) == ["main", "other"]
