"""A managed Prometheus-compatible store (Mimir/Thanos style): a token and a tenant header on
both sides, queries and k6's remote write, through a real gateway in front of a real
Prometheus; refused clearly (exit 3, before any load) without them; TLS with a private CA.
Secrets never land in a file or a message."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
import yaml

from orchestrator.config.load import load_config, validate_data
from orchestrator.errors import ConfigError
from orchestrator.monitoring.access import k6_env, k6_env_references, resolve
from tests.prometheus_proxy import GuardedProxy, self_signed_certificate

TOKEN_VAR = "PERFCTL_TEST_PROM_TOKEN"
TENANT_VAR = "PERFCTL_TEST_TENANT"


def _point_at(config_path: Path, url: str, *, auth: bool = True, tls: str = "") -> None:
    """prometheus.url -> the gateway; nothing may start in its place (manage: false)."""
    original = config_path.with_suffix(".original")
    if not original.exists():
        original.write_text(config_path.read_text())
    text = original.read_text()
    settings = f"  url: {url}\n  manage: false\n"
    if auth:
        settings += f'  headers: {{X-Scope-OrgID: "${{{TENANT_VAR}}}"}}\n  bearer_token: "${{{TOKEN_VAR}}}"\n'
    settings += tls
    edited = re.sub(r"  url: http://127\.0\.0\.1:\d+\n  manage: true[^\n]*\n", settings, text, count=1)
    assert edited != text
    config_path.write_text(edited)


def _judged_on_data(result, verdict: dict) -> None:
    """Every objective got its value through the gateway: k6's (remote write) and the backend's
    (scraped). Pass or fail is the demo backend's on a loaded 2-core machine (its loop rate),
    not this test's subject; inconclusive or an error would be."""
    assert result.code in (0, 99), result.output
    assert verdict["result"] in ("pass", "warning", "fail"), verdict["reasons"]
    values = {o["name"]: o["value"] for o in verdict["objectives"]}
    assert values and None not in values.values(), values
    assert values["checks"] == 1 and values["ws_reply_success"] == 1, values  # k6's series, read through the gateway


def _both_clients_agree(config_path: Path, run_id: str, monkeypatch, env: dict) -> None:
    """prometheus-api-client (prometheus.client) reads what http_client reads, through the
    gateway, at the same instants to the millisecond."""
    from orchestrator.monitoring.prometheus import Prometheus

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_config(config_path).config.prometheus
    fast = Prometheus.for_settings(settings)
    connect = Prometheus.for_settings(settings.model_copy(update={"client": "prometheus-api-client"}))
    assert connect.client == "prometheus-api-client"
    ends = [t for _, times in fast.sample_times(f'k6_vus{{testid="{run_id}"}}[1h]', at=_now()) for t in times]
    assert ends, "no k6 samples through the gateway"
    at = max(ends)  # a sample's own millisecond: one ms earlier it is not there yet
    selector = f'k6_vus{{testid="{run_id}"}}'
    in_last_ms = f"sum(count_over_time({selector}[1ms]))"
    for client in (fast, connect):
        assert client.scalar(in_last_ms, at=at) >= 1 and client.scalar(in_last_ms, at=at - 0.001) is None
    assert fast.query(f"timestamp({selector})", at=at) == connect.query(f"timestamp({selector})", at=at)
    assert fast.query_range(selector, start=at - 2.5, end=at, step=0.5) == connect.query_range(selector, start=at - 2.5, end=at, step=0.5)
    assert fast.ready() and connect.ready()


def _now() -> float:
    import time

    return time.time()


def _files_holding(folders: list[Path], needle: str) -> list[str]:
    return [str(p) for folder in folders if folder.exists() for p in folder.rglob("*")
            if p.is_file() and needle.encode() in p.read_bytes()]


@pytest.mark.e2e
def test_token_and_tenant_on_queries_and_remote_write(stack, tmp_path, monkeypatch):
    token, tenant = "tok-" + secrets.token_hex(16), "tenant-" + secrets.token_hex(3)
    env = {TOKEN_VAR: token, TENANT_VAR: tenant}
    with GuardedProxy(stack.prometheus.url, token=token, tenant=tenant) as proxy:
        # Without credentials: exit 3 naming the refusal, before any load (no run folder, no write).
        _point_at(stack.config_path, proxy.url, auth=False)
        refused = stack.cli("run", "demo", "--duration", "4s", env=env)
        assert refused.code == 3, refused.output
        assert "refused" in refused.stderr and "HTTP 401" in refused.stderr and "bearer_token" in refused.stderr
        assert not stack.runs() and not proxy.answered("POST", "/api/v1/write")

        # A wrong token: the same, and the token perfctl sent is not repeated.
        _point_at(stack.config_path, proxy.url)
        wrong = stack.cli("run", "demo", "--duration", "4s", env={**env, TOKEN_VAR: "not-the-token"})
        assert wrong.code == 3, wrong.output
        assert "perfctl sent Authorization, X-Scope-OrgID" in wrong.stderr and "not-the-token" not in wrong.output
        assert not stack.runs()

        # The variable unset: exit 2 naming the field.
        unset = stack.cli("run", "demo", "--duration", "4s", env={TENANT_VAR: tenant, TOKEN_VAR: ""})
        assert unset.code == 2 and "prometheus.bearer_token" in unset.stderr, unset.output

        proxy.seen.clear()
        result = stack.cli("run", "demo", "--duration", "5s", env=env)
        run = stack.last_run()
        _judged_on_data(result, stack.verdict(run))
        writes, queries = proxy.answered("POST", "/api/v1/write"), proxy.answered("POST", "/api/v1/query")
        # k6 pushed every second through the gateway (the probe is one of these), and it took them all.
        assert len(writes) >= 4 and set(writes) <= {200, 204}, writes
        assert len(queries) >= 5 and set(queries) == {200}, queries
        assert not [s for s in proxy.seen if s.status == 401]
        assert all(s.headers.get("X-Scope-OrgID") == tenant for s in proxy.seen)
        _both_clients_agree(stack.config_path, run.name, monkeypatch, env)

    # The token is nowhere: not in the run's files, perfctl's state, nor what it printed.
    assert _files_holding([stack.workspace / "results", stack.workspace / ".perfctl", stack.config_path.parent], token) == []
    for output in (refused.output, wrong.output, unset.output, result.output):
        assert token not in output


@pytest.mark.e2e
def test_https_store_with_a_private_ca(stack, tmp_path):
    token, tenant = "tok-" + secrets.token_hex(16), "t1"
    env = {TOKEN_VAR: token, TENANT_VAR: tenant}
    cert, key = self_signed_certificate(tmp_path)
    with GuardedProxy(stack.prometheus.url, token=token, tenant=tenant, tls_files=(cert, key)) as proxy:
        # Not trusted: Prometheus does not answer (as far as perfctl can tell): exit 3, no load.
        _point_at(stack.config_path, proxy.url)
        untrusted = stack.cli("run", "demo", "--duration", "4s", env=env)
        assert untrusted.code == 3, untrusted.output
        assert "TLS failed" in untrusted.stderr and "prometheus.ca_file" in untrusted.stderr, untrusted.output
        assert not stack.runs()

        # ca_file: queries (Python) and remote write (k6, Go) both check against it.
        _point_at(stack.config_path, proxy.url, tls=f"  ca_file: {cert}\n")
        result = stack.cli("run", "demo", "--duration", "5s", env=env)
        _judged_on_data(result, stack.verdict())
        writes = proxy.answered("POST", "/api/v1/write")
        assert len(writes) >= 4 and set(writes) <= {200, 204}, writes
        assert "insecure_skip_verify" not in result.stderr

        # insecure_skip_verify: works, and says so.
        _point_at(stack.config_path, proxy.url, tls="  insecure_skip_verify: true\n")
        insecure = stack.cli("run", "demo", "--duration", "4s", env=env)
        _judged_on_data(insecure, stack.verdict())
        assert "warning: prometheus.insecure_skip_verify is on" in insecure.stderr
    assert _files_holding([stack.workspace / "results", stack.workspace / ".perfctl"], token) == []
    assert all(token not in r.output for r in (untrusted, result, insecure))


SCENARIOS = {"s": {"vus": 1, "duration": "1s", "requests": [{"name": "a", "path": "/"}]}}


def test_settings_keep_secrets_as_references_until_used(tmp_path):
    path = tmp_path / "perfctl.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "scenarios": SCENARIOS, "prometheus": {
        "url": "https://mimir.example:443/prometheus", "bearer_token": "${PROM_TOKEN}",
        "headers": {"X-Scope-OrgID": "team-${TENANT}", "X-Static": "plain"}}}))
    loaded = load_config(path, environ={})  # not needed to load: only when a client or k6 is made
    settings = loaded.config.prometheus
    assert settings.bearer_token == "${PROM_TOKEN}" and settings.headers["X-Scope-OrgID"] == "team-${TENANT}"
    environ = {"TENANT": "a", "PROM_TOKEN": "s3cret"}
    assert resolve(settings, environ).headers == {"X-Scope-OrgID": "team-a", "X-Static": "plain", "Authorization": "Bearer s3cret"}
    assert k6_env(settings, environ) == {
        "K6_PROMETHEUS_RW_HEADERS_X-Scope-OrgID": "team-a", "K6_PROMETHEUS_RW_HEADERS_X-Static": "plain",
        "K6_PROMETHEUS_RW_BEARER_TOKEN": "s3cret", "K6_PROMETHEUS_RW_INSECURE_SKIP_TLS_VERIFY": "false",
    }
    compose, reads = k6_env_references(settings, "compose")
    assert compose["K6_PROMETHEUS_RW_BEARER_TOKEN"] == "${PROM_TOKEN}" and reads == ["PROM_TOKEN", "TENANT"]
    k8s, _ = k6_env_references(settings, "k8s")
    assert k8s["K6_PROMETHEUS_RW_HEADERS_X-Scope-OrgID"] == "team-$(TENANT)"
    with pytest.raises(ConfigError) as unset:
        resolve(settings, {"TENANT": "a"})
    assert unset.value.message.startswith("prometheus.bearer_token: environment variable PROM_TOKEN is not set")


@pytest.mark.parametrize("settings, line", [
    ({"bearer_token": "abc123"}, 'prometheus.bearer_token: must be "${VAR}"'),
    ({"headers": {"X Bad": "1"}}, "prometheus.headers: 'X Bad' is not an HTTP header name"),
    ({"bearer_token": "${T}", "headers": {"Authorization": "x"}}, "prometheus.headers.Authorization: not with bearer_token"),
    ({"url": "http://u:p@127.0.0.1:9090", "bearer_token": "${T}"}, "prometheus.bearer_token: not with credentials in url"),
    ({"ca_file": "ca.pem"}, "prometheus.ca_file: applies to https only"),
    ({"url": "https://h", "ca_file": "ca.pem", "insecure_skip_verify": True}, "prometheus.insecure_skip_verify: not with ca_file"),
])
def test_settings_that_cannot_work_name_their_field(settings, line):
    data = {"version": 1, "prometheus": {"url": "http://127.0.0.1:9090", **settings},
            "scenarios": {"s": {"vus": 1, "duration": "1s", "requests": [{"name": "a", "path": "/"}]}}}
    with pytest.raises(ConfigError) as err:
        validate_data(data)
    assert any(l.startswith(line) for l in err.value.lines), err.value.lines


def test_k8s_manifests_read_the_token_from_the_secret(tmp_path):
    from orchestrator.errors import UsageError
    from orchestrator.runtimes.kubectl import TestRunPlan, build_manifests

    def manifests(env_secret):
        data = {"version": 1, "prometheus": {"url": "https://mimir.example", "bearer_token": "${PROM_TOKEN}",
                                             "headers": {"X-Scope-OrgID": "t1"}},
                "k8s": {"env_secret": env_secret} if env_secret else {},
                "scenarios": {"s": {"vus": 1, "duration": "1s", "requests": [{"name": "a", "path": "/"}]}}}
        config = validate_data(data)
        return build_manifests(config, TestRunPlan("r1", "s", 1, config.k8s), "export default function () {}")

    with pytest.raises(UsageError) as refused:
        manifests(None)
    assert "PROM_TOKEN" in refused.value.message and "k8s.env_secret" in refused.value.hint
    runner = manifests("perfctl-secrets")[1]["spec"]["runner"]
    env = {e["name"]: e["value"] for e in runner["env"]}
    assert env["K6_PROMETHEUS_RW_BEARER_TOKEN"] == "$(PROM_TOKEN)"
    assert env["K6_PROMETHEUS_RW_HEADERS_X-Scope-OrgID"] == "t1"
    assert env["K6_PROMETHEUS_RW_INSECURE_SKIP_TLS_VERIFY"] == "false"
    assert runner["envFrom"] == [{"secretRef": {"name": "perfctl-secrets"}}]


def test_compose_file_holds_references_not_values(tmp_path):
    from orchestrator.monitoring.services import remote_write_env

    config = validate_data({"version": 1, "prometheus": {"url": "http://127.0.0.1:9090", "bearer_token": "${PROM_TOKEN}",
                                                         "headers": {"X-Scope-OrgID": "cost$center"}},
                            "scenarios": {"s": {"vus": 1, "duration": "1s", "requests": [{"name": "a", "path": "/"}]}}})
    env = remote_write_env(config)
    assert env["K6_PROMETHEUS_RW_BEARER_TOKEN"] == "${PROM_TOKEN}"
    assert env["K6_PROMETHEUS_RW_HEADERS_X-Scope-OrgID"] == "cost$$center"  # compose's escape for a literal $
    assert yaml.safe_load(yaml.safe_dump(env)) == env


def test_docker_runtime_hands_the_store_settings_to_the_container_only_as_environment(tmp_path):
    from orchestrator.runtimes.docker import DockerRuntime

    settings = validate_data({"version": 1, "scenarios": SCENARIOS, "prometheus": {
        "url": "https://mimir.example", "bearer_token": "${PROM_TOKEN}", "headers": {"X-Scope-OrgID": "${TENANT}"}}}).prometheus
    env = {"PATH": "/usr/bin", "PROM_TOKEN": "s3cret", "TENANT": "t1",
           **k6_env(settings, {"PROM_TOKEN": "s3cret", "TENANT": "t1"})}
    inside = DockerRuntime(image="k6:x", secrets=set()).container_env(env, tmp_path, tmp_path / "script.js")
    # k6 reads its own variables; the source variables themselves stay outside.
    assert inside == {"K6_PROMETHEUS_RW_BEARER_TOKEN": "s3cret", "K6_PROMETHEUS_RW_HEADERS_X-Scope-OrgID": "t1",
                      "K6_PROMETHEUS_RW_INSECURE_SKIP_TLS_VERIFY": "false"}
