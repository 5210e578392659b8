"""orchestrator/run/health.py against a real HTTP server on 127.0.0.1 (tests/answering_server.py):
the gate passes on the first 2xx, keeps trying until health_timeout, and fails with what it
last saw; the URL it prints never shows a password."""

from __future__ import annotations

import threading

import pytest

from orchestrator.config.settings import Target
from orchestrator.errors import ConfigError, ExitCode, HealthGateFailed
from orchestrator.netutil import free_port
from orchestrator.run.health import health_url, shown_url, wait_healthy
from tests.answering_server import AnsweringServer


def target(base_url: str, **fields) -> Target:
    return Target.model_validate({"base_url": base_url, **fields})


def test_a_healthy_target_passes_with_one_request():
    with AnsweringServer(200) as server:
        assert wait_healthy(target(server.url, health_path="/health")) == f"{server.url}/health"
        assert server.paths == ["/health"]


def test_the_base_urls_path_is_kept_and_slashes_are_joined_once():
    with AnsweringServer(204) as server:
        assert wait_healthy(target(server.url + "/app/", health_path="ready")) == f"{server.url}/app/ready"
        assert server.paths == ["/app/ready"]


def test_a_disabled_gate_sends_nothing():
    with AnsweringServer(200) as server:
        assert wait_healthy(target(server.url, health_path=None)) is None
        assert server.count == 0


def test_it_keeps_trying_until_the_target_answers_2xx():
    with AnsweringServer(503) as server:
        timer = threading.Timer(0.4, lambda: setattr(server, "status", 200))
        timer.start()
        try:
            assert wait_healthy(target(server.url, health_timeout="10s"), interval=0.05) == f"{server.url}/health"
        finally:
            timer.cancel()
        assert server.count >= 2  # at least one 503 before the 200


def test_a_failing_target_fails_the_gate_after_the_timeout_naming_the_last_status():
    with AnsweringServer(500) as server:
        with pytest.raises(HealthGateFailed) as caught:
            wait_healthy(target(server.url, health_timeout="0.5s"), interval=0.1)
        tries = server.count
    message = caught.value.message
    assert caught.value.exit_code == ExitCode.ENVIRONMENT
    assert f"{server.url}/health did not answer 2xx within 0.5s ({tries} tries, last: HTTP 500)" in message
    assert tries >= 2 and "no load was sent" in message
    assert "perfctl demo target" in caught.value.hint


def test_a_3xx_is_not_healthy():
    with AnsweringServer(301) as server:
        with pytest.raises(HealthGateFailed, match="last: HTTP 301"):
            wait_healthy(target(server.url, health_timeout="0.2s"), interval=0.05)


def test_nothing_listening_names_the_kind_of_error():
    with pytest.raises(HealthGateFailed, match=r"last: ConnectionRefusedError\)"):
        wait_healthy(target(f"http://127.0.0.1:{free_port()}", health_timeout="0.3s"), interval=0.05)


def test_a_password_is_used_but_never_shown(monkeypatch):
    monkeypatch.setenv("HEALTH_PASSWORD", "hunter2")
    with AnsweringServer(200) as server:
        url = server.url.replace("http://", "http://me:${HEALTH_PASSWORD}@")
        assert health_url(target(url)) == server.url.replace("http://", "http://me:hunter2@") + "/health"
        assert wait_healthy(target(url)) == server.url.replace("http://", "http://me:***@") + "/health"
    with pytest.raises(HealthGateFailed) as caught:
        wait_healthy(target(f"http://me:${{HEALTH_PASSWORD}}@127.0.0.1:{free_port()}", health_timeout="0.2s"), interval=0.05)
    assert "hunter2" not in caught.value.render() and "me:***@" in caught.value.message


def test_an_unset_variable_in_base_url_is_a_config_error_naming_the_field(monkeypatch):
    monkeypatch.delenv("NO_SUCH_HOST_VAR", raising=False)
    t = target("http://127.0.0.1:8080")
    t = t.model_copy(update={"base_url": "http://${NO_SUCH_HOST_VAR}:8080"})
    with pytest.raises(ConfigError, match="target.base_url"):
        wait_healthy(t)


def test_shown_url_redacts_only_a_password():
    assert shown_url("http://u:p@h:1/x") == "http://u:***@h:1/x"
    assert shown_url("http://u@h:1/x") == "http://u@h:1/x"
