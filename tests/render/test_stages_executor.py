"""`stages:` without `executor:` means ramping-vus, as k6 itself reads `stages`."""

from __future__ import annotations

import pytest

from orchestrator.config.load import load_config
from orchestrator.errors import ConfigError
from orchestrator.k6.binary import detect_features, find_k6, inspect_script
from orchestrator.render.script import render_scenario
from tests.conftest import write_config

RAMP = """
    scenarios:
      ramp:
        stages: [{duration: 2s, target: 3}, {duration: 1s, target: 0}]
        requests: [{name: home, path: /}]
"""


def test_stages_without_an_executor_render_as_ramping_vus_and_k6_accepts_them(tmp_path):
    loaded = load_config(write_config(tmp_path / "perfctl.yaml", RAMP))
    assert loaded.config.scenarios["ramp"].executor == "ramping-vus"
    binary = find_k6(None)
    script = render_scenario(loaded, "ramp", detect_features(binary))
    k6_options = inspect_script(binary, script.text)  # k6's own reading of the script
    assert k6_options["scenarios"]["ramp"]["executor"] == "ramping-vus"
    assert [s["target"] for s in k6_options["scenarios"]["ramp"]["stages"]] == [3, 0]
    assert script.expected_seconds >= 3


def test_an_explicit_executor_still_decides(tmp_path):
    text = RAMP.replace("stages:", "executor: constant-vus\n        stages:")
    with pytest.raises(ConfigError) as refused:
        load_config(write_config(tmp_path / "perfctl.yaml", text))
    assert any("constant-vus needs a duration" in line for line in refused.value.lines)
