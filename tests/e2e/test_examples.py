"""The example suites (orchestrator/examples/<name>/perfctl.yaml): each validates with the real
CLI, and a shortened run of each suite's main scenario passes its checks against local servers
(the reference backend for chat4all and featherweight, tests/suites_server.py for the rest)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from orchestrator.commands.init import EXAMPLES, available_examples
from orchestrator.config.load import load_config
from orchestrator.demo.backend import BackendSettings, RunningBackend
from orchestrator.k6.binary import detect_features, find_k6
from orchestrator.render.script import Overrides, render_scenario
from tests.conftest import run_cli
from tests.suites_server import SuitesServer

SUITES = ["chat4all", "featherweight", "ywmessaging", "aiaas", "temponest"]


def test_the_five_suites_ship_as_examples():
    assert set(SUITES) <= set(available_examples())


@pytest.mark.parametrize("name", SUITES + ["demo"])
def test_example_validates(name, tmp_path):
    result = run_cli("validate", "-c", str(EXAMPLES / name / "perfctl.yaml"), cwd=tmp_path)
    assert result.code == 0, result.output
    assert "valid (" in result.stderr + result.stdout


def test_init_copies_an_example_with_its_data_file(tmp_path):
    result = run_cli("init", "--example", "aiaas", "-o", str(tmp_path / "perfctl.yaml"), cwd=tmp_path)
    assert result.code == 0, result.output
    # Data pools are read relative to the config: the copy brings its CSV and validates on its own.
    assert (tmp_path / "tenants.csv").read_bytes() == (EXAMPLES / "aiaas" / "tenants.csv").read_bytes()
    result = run_cli("validate", "-c", str(tmp_path / "perfctl.yaml"), cwd=tmp_path)
    assert result.code == 0, result.output


# (suite, scenario, the env var of its base URL, server, overrides, extra env)
SHORT_RUNS = [
    ("chat4all", "throughput", "CHAT4ALL_URL", "backend", Overrides(rate=600, duration=4.0), {}),
    ("chat4all", "spike", "CHAT4ALL_URL", "backend", Overrides(vus=6, duration=4.0), {}),
    ("featherweight", "websocket", "FEATHERWEIGHT_URL", "backend", Overrides(vus=3, duration=3.0), {}),
    ("ywmessaging", "smoke", "YW_URL", "suites", Overrides(), {"YW_PASSWORD": "yw-pass"}),
    ("aiaas", "comprehensive", "AIAAS_URL", "suites", Overrides(vus=3, duration=4.0), {}),
    ("temponest", "comprehensive", "TEMPONEST_URL", "suites", Overrides(vus=2, duration=4.0), {"TEMPONEST_PASSWORD": "tn-pass"}),
]


@pytest.fixture(scope="module")
def servers():
    with RunningBackend(BackendSettings(port=0)) as backend, SuitesServer() as suites:
        yield {"backend": backend.url, "suites": suites.url}


@pytest.mark.e2e
@pytest.mark.parametrize(("suite", "scenario", "url_var", "server", "overrides", "env"), SHORT_RUNS,
                         ids=[f"{s}-{sc}" for s, sc, *_ in SHORT_RUNS])
def test_shortened_suite_run_passes_its_checks(servers, tmp_path, suite, scenario, url_var, server, overrides, env):
    loaded = load_config(EXAMPLES / suite / "perfctl.yaml", environ={url_var: servers[server]})
    binary = find_k6()
    script = render_scenario(loaded, scenario, detect_features(binary), overrides)
    path = tmp_path / "script.js"
    path.write_text(script.text)
    proc = subprocess.run(
        [binary, "run", "-q", "--summary-export", str(tmp_path / "summary.json"), str(path)],
        env={**os.environ, "K6_NO_USAGE_REPORT": "true", url_var: servers[server], **env},
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    metrics = json.loads((tmp_path / "summary.json").read_text())["metrics"]
    if scenario != "websocket":
        assert metrics["checks"]["fails"] == 0 and metrics["checks"]["passes"] > 0, metrics["checks"]
    if any(p.protocol == "websocket" for p in script.parts):
        assert metrics["ws_reply_success"]["passes"] > 0 and metrics["ws_reply_success"]["fails"] == 0
    if scenario == "throughput":
        # 600 per minute for 4 s: 40 iterations, none dropped.
        assert abs(metrics["iterations"]["count"] - 40) <= 1 and metrics["dropped_iterations"]["count"] == 0
    if suite == "ywmessaging":
        assert metrics["iterations"]["count"] == 5
        assert metrics["auth_successes"]["count"] == 1 and metrics["conversations_created"]["count"] == 5
        assert metrics["message_send_duration"]["count"] == 5
