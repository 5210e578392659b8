"""perfctl.yaml loading: every problem named by field, all at once; env interpolation."""

from __future__ import annotations

import pytest

from orchestrator.config.env import missing_runtime_env, runtime_env_refs
from orchestrator.config.load import load_config
from orchestrator.config.durations import k6_duration, parse_duration
from orchestrator.errors import ConfigError, ExitCode
from tests.conftest import write_config

MINIMAL = """
version: 1
scenarios:
  smoke:
    vus: 1
    duration: 5s
    requests: [{name: health, path: /health}]
"""


def problems(path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.exit_code == ExitCode.USAGE
    return info.value.lines


def test_minimal_config_gets_defaults(tmp_path):
    loaded = load_config(write_config(tmp_path / "perfctl.yaml", MINIMAL))
    config = loaded.config
    assert config.target.base_url == "http://127.0.0.1:8080"
    assert config.prometheus.url == "http://127.0.0.1:9090"
    assert config.scenarios["smoke"].duration == 5.0
    assert len(loaded.digest) == 64


def test_every_problem_is_reported_at_once_with_its_field(tmp_path):
    path = write_config(
        tmp_path / "perfctl.yaml",
        """
        version: 1
        target: {base_url: "ftp://x"}
        scenarios:
          chat:
            vus: 0
            duration: soon
            requests: [{name: a, path: /, method: BREW}]
          other:
            include: [missing]
        objectives:
          - {name: e, sli: error_ratio, pass: "<< 3"}
          - {name: f, sli: nope, pass: "< 1"}
          - {name: g, sli: loop_rate_min, pass: ">= 95"}
        bogus: 1
        """,
    )
    lines = problems(path)
    text = "\n".join(lines)
    assert "scenarios.chat.vus: must be > 0" in lines
    assert any(line.startswith("scenarios.chat.duration:") and "soon" in line for line in lines)
    assert any(line.startswith("scenarios.chat.requests[0].method:") for line in lines)
    assert "target.base_url" in text
    assert "bogus: unknown field" in lines
    assert any(line.startswith("objectives[0].pass:") for line in lines)
    assert any(line.startswith("objectives[1].sli:") for line in lines)
    assert any(line.startswith("objectives[2].job:") for line in lines)
    assert len(lines) >= 7


def test_cross_references_are_checked(tmp_path):
    path = write_config(
        tmp_path / "perfctl.yaml",
        MINIMAL
        + """
  both:
    include: [smoke, ghost]
objectives:
  - {name: e, sli: error_ratio, pass: "< 1", scenarios: [nowhere]}
  - {name: e, sli: checks, pass: "> 0"}
""",
    )
    lines = problems(path)
    assert "scenarios.both.include: unknown scenario 'ghost'" in lines
    assert "objectives[0].scenarios: unknown scenario 'nowhere'" in lines
    assert "objectives: name 'e' is used twice" in lines


def test_yaml_syntax_error_names_line(tmp_path):
    path = write_config(tmp_path / "perfctl.yaml", "version: 1\nscenarios: [\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "invalid YAML (line" in info.value.message


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="empty"):
        load_config(write_config(tmp_path / "empty.yaml", "\n"))


def test_env_interpolation_at_load_time(tmp_path):
    path = write_config(
        tmp_path / "perfctl.yaml",
        """
        version: 1
        target: {base_url: "http://${HOST:-127.0.0.1}:${PORT}"}
        scenarios:
          s: {vus: 1, duration: 1s, requests: [{name: a, path: /}]}
        """,
    )
    loaded = load_config(path, environ={"PORT": "9999"})
    # base_url stays a reference: k6 resolves it (a secret in it never lands in the script);
    # perfctl's own uses (the health gate) fill it in memory.
    assert loaded.config.target.base_url == "http://${HOST:-127.0.0.1}:${PORT}"
    from orchestrator.config.env import expand_env

    assert expand_env(loaded.config.target.base_url, {"PORT": "9999"}) == "http://127.0.0.1:9999"
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert info.value.lines == ["target.base_url: environment variable PORT is not set (or give ${PORT:-default})"]


def test_prometheus_url_escape_is_literal(tmp_path):
    path = write_config(
        tmp_path / "perfctl.yaml",
        """
        version: 1
        prometheus: {url: "http://127.0.0.1:9090/$${x}"}
        scenarios:
          s: {vus: 1, duration: 1s, requests: [{name: a, path: /}]}
        """,
    )
    assert load_config(path, environ={}).config.prometheus.url == "http://127.0.0.1:9090/${x}"


def test_secrets_in_requests_stay_references_for_k6(tmp_path):
    path = write_config(
        tmp_path / "perfctl.yaml",
        """
        version: 1
        target:
          headers: {Authorization: "Bearer ${API_TOKEN}"}
        scenarios:
          s:
            vus: 1
            duration: 1s
            requests:
              - {name: a, path: "/x?t=${TENANT:-acme}", json: {password: "${PASSWORD}", note: "${1+1}"}}
        """,
    )
    loaded = load_config(path, environ={"API_TOKEN": "s3cret", "PASSWORD": "hunter2"})
    # Not interpolated at load time: the value never enters perfctl's config objects.
    assert loaded.config.target.headers["Authorization"] == "Bearer ${API_TOKEN}"
    assert loaded.config.scenarios["s"].requests[0].json_body["password"] == "${PASSWORD}"
    assert runtime_env_refs(loaded.config) == {"API_TOKEN": None, "TENANT": "acme", "PASSWORD": None}
    assert missing_runtime_env(loaded.config, {"API_TOKEN": "x"}) == ["PASSWORD"]
    assert missing_runtime_env(loaded.config, {"API_TOKEN": "x", "PASSWORD": "y"}) == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), ("1.5m", 90), (12, 12), ("7", 7)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "soon", "5 minutes", "1x", "-3s", True, None, "s30"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize(("seconds", "text"), [(90, "1m30s"), (0.5, "500ms"), (3600, "1h"), (0, "0s"), (61.5, "61500ms")])
def test_k6_durations(seconds, text):
    assert k6_duration(seconds) == text
    assert parse_duration(text) == seconds
