"""Load profiles -> executor options: pure functions, no k6, no servers."""

from __future__ import annotations

import pytest

from orchestrator.config import profiles
from orchestrator.config.load import validate_data
from orchestrator.config.profiles import Profile
from orchestrator.config.scenario import Scenario
from orchestrator.errors import ConfigError

REQ = [{"name": "home", "path": "/"}]


def scenario(profile, **extra) -> Scenario:
    return Scenario.model_validate({"profile": profile, "requests": REQ, **extra})


def stages(s: Scenario) -> list[tuple[float, int]]:
    return [(st.duration, st.target) for st in s.stages]


def test_smoke_defaults_and_iterations():
    s = profiles.resolve(scenario("smoke"))
    assert (s.executor, s.vus, s.duration) == ("constant-vus", 1, 60.0)
    s = profiles.resolve(scenario({"name": "smoke", "vus": 1, "iterations": 5}))
    assert (s.executor, s.vus, s.iterations) == ("per-vu-iterations", 1, 5)


def test_load_levels_ramp_and_hold_each_then_ramp_down():
    s = profiles.resolve(scenario({"name": "load", "levels": [2000, 5000, 10000], "ramp_up": "2m", "hold": "5m"}))
    assert s.executor == "ramping-vus" and s.start_vus == 0
    assert stages(s) == [(120, 2000), (300, 2000), (120, 5000), (300, 5000), (120, 10000), (300, 10000), (60, 0)]


def test_spike_starts_at_base_and_recovers_there():
    s = profiles.resolve(scenario({"name": "spike", "start_vus": 1000, "peak_vus": 10000, "ramp_up": "10s",
                                   "hold": "1m", "ramp_down": "10s", "recover": "2m"}))
    assert s.start_vus == 1000
    assert stages(s) == [(10, 10000), (60, 10000), (10, 1000), (120, 1000)]


def test_soak_and_stress():
    soak = profiles.resolve(scenario({"name": "soak", "vus": 5, "duration": "5m", "ramp_up": "30s", "ramp_down": "0s"}))
    assert stages(soak) == [(30, 5), (300, 5)]  # a zero-length stage is left out
    stress = profiles.resolve(scenario({"name": "stress", "peak_vus": 100, "steps": 2, "ramp_up": "10s", "hold": "20s"}))
    assert stages(stress) == [(10, 50), (20, 50), (10, 100), (20, 100), (60, 0)]


def test_throughput_sizes_the_vu_pool_from_the_rate():
    s = profiles.resolve(scenario({"name": "throughput", "rate": 10000, "time_unit": "1m", "duration": "5m"},
                                  think_time=0.5))
    assert (s.executor, s.rate, s.time_unit, s.duration) == ("constant-arrival-rate", 10000, 60.0, 300.0)
    # 166.7 iterations/s at 0.5 s + 0.5 s think time each: 167 VUs busy, 4x headroom.
    assert s.pre_allocated_vus == 167
    assert s.max_vus == 668


def test_breakpoint_ramps_the_rate_and_adds_aborting_thresholds():
    s = profiles.resolve(scenario({"name": "breakpoint", "peak_rate": 500, "duration": "10m", "abort_p95": "1s"}))
    assert s.executor == "ramping-arrival-rate" and s.rate == 1
    assert stages(s) == [(600, 500)]
    (failed,) = s.thresholds["http_req_failed"]
    assert failed.abort_on_fail and failed.delay_abort_eval == 10 and failed.threshold == "rate<0.05"
    assert s.thresholds["http_req_duration"][0].threshold == "p(95)<1000"


def test_breakpoint_keeps_a_scenarios_own_thresholds():
    s = profiles.resolve(scenario({"name": "breakpoint", "peak_rate": 50}, thresholds={"http_req_failed": ["rate<0.5"]}))
    assert s.thresholds["http_req_failed"] == ["rate<0.5"]


@pytest.mark.parametrize("name", ["per-vu-iterations", "shared-iterations"])
def test_iteration_profiles(name):
    s = profiles.resolve(scenario({"name": name, "vus": 3, "iterations": 30, "duration": "1m"}))
    assert (s.executor, s.vus, s.iterations, s.duration) == (name, 3, 30, 60.0)


def test_pool_sizing_respects_explicit_numbers_and_refuses_max_below_pre():
    assert profiles.size_vu_pool(10, 10, 1.0, 0.5, pre_allocated=7, max_vus=20) == (7, 20)
    with pytest.raises(ValueError, match="max_vus"):
        profiles.size_vu_pool(10, 10, 1.0, 0.5, pre_allocated=30, max_vus=20)


def config_errors(scenario_data: dict) -> list[str]:
    with pytest.raises(ConfigError) as err:
        validate_data({"scenarios": {"s": {"requests": REQ, **scenario_data}}})
    return err.value.lines


def test_profile_mistakes_name_the_field():
    assert config_errors({"profile": {"name": "spike"}}) == ["scenarios.s.profile.peak_vus: the spike profile needs peak_vus"]
    lines = config_errors({"profile": {"name": "smoke", "hold": "1m"}})
    assert lines[0].startswith("scenarios.s.profile.hold: not used by the smoke profile")
    lines = config_errors({"profile": "soak-test"})
    assert lines[0].startswith("scenarios.s.profile.name: must be one of")
    lines = config_errors({"profile": "smoke", "vus": 3})
    assert lines[0].startswith("scenarios.s.vus: set by profile 'smoke'")
    lines = config_errors({"profile": {"name": "spike", "start_vus": 10, "peak_vus": 5}})
    assert lines == ["scenarios.s.profile.peak_vus: must exceed start_vus (10)"]


def test_every_profile_name_has_an_expander_and_rules():
    names = set(Profile.model_fields["name"].annotation.__args__)
    assert names == set(profiles.ACCEPTS) == set(profiles._EXPANDERS)
