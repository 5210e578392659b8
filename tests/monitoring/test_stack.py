"""The stack definition without Docker: the committed compose file and Prometheus config
equal the generated ones, and the Grafana container and its provisioning are what they
must be (Grafana's image cannot be built here, so these are checked statically)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from pathlib import Path

import pytest
import yaml

from orchestrator.monitoring import dashboards
from orchestrator.monitoring import grafana
from orchestrator.commands.stack import generated_files
from orchestrator.config.load import load_config
from orchestrator.monitoring.stack import container_options
from orchestrator.monitoring.services import (
    GRAFANA_DASHBOARDS,
    GRAFANA_OBJECTIVES,
    GRAFANA_PROVISIONING,
    LABEL_STACK,
    PROFILES,
    StackPaths,
    compose_config,
    define_stack,
    stack_id,
)
from tests.conftest import REPO, run_cli

MONITORING = REPO / "monitoring"
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
# The compose copy of the generated objectives dashboard (a test keeps it equal to the generated one).
OBJECTIVES = MONITORING / "grafana" / "objectives" / dashboards.OBJECTIVES_FILE


def _paths(tmp_path: Path) -> StackPaths:
    return StackPaths(
        prometheus_config=str(tmp_path / "prometheus.yml"),
        prometheus_rules=str(MONITORING / "prometheus" / "rules"),
        grafana_provisioning=str(MONITORING / "grafana" / "provisioning"),
        grafana_dashboards=str(MONITORING / "grafana" / "dashboards"),
        grafana_objectives=str(tmp_path / "objectives"),
    )


@pytest.mark.parametrize("relative", sorted(str(p) for p in generated_files()))
def test_committed_files_equal_the_generated_ones(relative):
    committed = (REPO / relative).read_text()
    assert committed == generated_files()[Path(relative)], f"{relative} is stale: run `perfctl stack compose`"


def test_stack_compose_command_writes_the_generated_files(tmp_path):
    result = run_cli("stack", "compose", "--dir", str(tmp_path), cwd=tmp_path)
    assert result.code == 0, result.output
    for relative, text in generated_files().items():
        assert (tmp_path / relative).read_text() == text


def test_compose_has_the_profiles_pinned_images_and_labels():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"prometheus", "grafana", "k6-websocket-streaming", "k6-health", "k6-comprehensive"} <= set(services)
    used = {p for s in services.values() for p in s["profiles"]}
    assert used == set(PROFILES)
    for name, service in services.items():
        # Overridable by environment, with a pinned default: ${PERFCTL_K6_IMAGE:-grafana/k6:1.1.0}.
        match = re.fullmatch(r"\$\{(PERFCTL_[A-Z0-9]+_IMAGE):-([^}]+)\}", service["image"])
        assert match, f"{name}: image {service['image']} is not overridable by a PERFCTL_*_IMAGE variable"
        variable, image = match.groups()
        assert variable == ("PERFCTL_K6_IMAGE" if name.startswith("k6") else f"PERFCTL_{name.upper()}_IMAGE")
        assert ":" in image and not image.endswith(":latest"), f"{name}: image {image} is not pinned"
        assert service["labels"][LABEL_STACK] == "perfctl"
    for name, volume in compose["volumes"].items():
        assert volume["labels"][LABEL_STACK] == "perfctl"
    # Everything listens on loopback by default.
    assert "--web.listen-address=127.0.0.1:9090" in services["prometheus"]["command"]
    assert services["grafana"]["environment"]["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    # Prometheus data lives on a named volume.
    assert any(v.endswith(":/prometheus") and not v.startswith(".") for v in services["prometheus"]["volumes"])


def test_grafana_container_spec(tmp_path):
    config = compose_config()
    stack = define_stack(config, _paths(tmp_path), stack="t", admin_password="s3cret-generated")
    options = container_options(stack.service("grafana"))
    env = options["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == "s3cret-generated"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    assert env["PERFCTL_PROMETHEUS_URL"] == config.prometheus.url
    assert options["network_mode"] == "host"
    assert options["labels"][LABEL_STACK] == "t"
    mounts = {m["Target"]: m for m in options["mounts"]}
    assert mounts[GRAFANA_PROVISIONING]["ReadOnly"] and mounts[GRAFANA_DASHBOARDS]["ReadOnly"]
    assert mounts[GRAFANA_OBJECTIVES]["ReadOnly"] and mounts[GRAFANA_OBJECTIVES]["Source"] == str(tmp_path / "objectives")
    assert mounts["/var/lib/grafana"]["Type"] == "volume"
    assert options["healthcheck"]["test"][0] == "CMD-SHELL"


def test_opening_the_stack_wider_changes_only_the_listen_addresses(tmp_path):
    config = compose_config()
    wide = define_stack(config, _paths(tmp_path), stack="t", bind="0.0.0.0", admin_password="x")
    assert "--web.listen-address=0.0.0.0:9090" in wide.service("prometheus").command
    assert wide.service("grafana").environment["GF_SERVER_HTTP_ADDR"] == "0.0.0.0"


def test_stack_ids_differ_per_state_dir(tmp_path):
    config = compose_config()
    assert stack_id(config, tmp_path / "a") != stack_id(config, tmp_path / "b")
    assert stack_id(config, tmp_path / "a") == stack_id(config, tmp_path / "a")


def test_admin_password_is_generated_once_private_and_never_admin(tmp_path):
    first = grafana.admin_password(tmp_path)
    assert first != "admin" and len(first) >= 20
    mode = stat.S_IMODE(os.stat(grafana.password_file(tmp_path)).st_mode)
    assert mode == 0o600
    assert grafana.admin_password(tmp_path) == first
    assert grafana.admin_password(tmp_path / "other") != first


def test_provisioned_datasource_is_what_the_dashboards_use():
    datasources = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "${PERFCTL_PROMETHEUS_URL}"
    providers = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/perfctl.yml").read_text())
    # Every folder Grafana reads dashboards from is one the stack mounts, in compose and the SDK alike.
    paths = {p["options"]["path"] for p in providers["providers"]}
    assert paths == {GRAFANA_DASHBOARDS, GRAFANA_OBJECTIVES}
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounted = {v.split(":")[1] for v in compose["services"]["grafana"]["volumes"]}
    assert paths <= mounted
    assert DASHBOARDS, "no dashboard JSON"
    uids = [json.loads(p.read_text())["uid"] for p in [*DASHBOARDS, OBJECTIVES]]
    assert len(set(uids)) == len(uids), f"dashboard uids must be unique: {uids}"
    for path in [*DASHBOARDS, OBJECTIVES]:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == source["uid"], f"{path.name}: {panel['title']}"
            assert panel["targets"], f"{path.name}: {panel['title']} has no query"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == source["uid"]


def test_dashboards_cover_what_the_issue_asks_for():
    uids = {json.loads(p.read_text())["uid"]: json.loads(p.read_text()) for p in DASHBOARDS}
    assert {grafana.K6_DASHBOARD_UID, grafana.BACKEND_DASHBOARD_UID} <= set(uids)
    k6_exprs = " ".join(t["expr"] for p in uids[grafana.K6_DASHBOARD_UID]["panels"] for t in p["targets"])
    for metric in ("k6_http_reqs_total", "k6_vus", "_p95", "_p99", "k6_http_req_failed_rate", "k6_checks_rate", "k6_ws_"):
        assert metric in k6_exprs
    assert all('testid=~"$testid"' in t["expr"] for p in uids[grafana.K6_DASHBOARD_UID]["panels"] for t in p["targets"])
    backend = uids[grafana.BACKEND_DASHBOARD_UID]
    backend_exprs = " ".join(t["expr"] for p in backend["panels"] for t in p["targets"])
    assert "backend_loop_iterations_total" in backend_exprs and "kafka_consumergroup_lag" in backend_exprs
    # Percentiles read native histograms (--instances, k8s) or k6's trend stats, in one query.
    for board in (uids[grafana.K6_DASHBOARD_UID], backend):
        for panel in board["panels"]:
            for target in panel["targets"]:
                if "_p95" in target["expr"] or "_p99" in target["expr"]:
                    assert re.search(r"histogram_quantile\(0\.9[59], sum.*_seconds\{.*\) or max", target["expr"]), \
                        f"{panel['title']}: {target['expr']}"
    # The static dashboards name no objective and draw no objective's bound: those come from
    # the config, on the generated objectives dashboard.
    demo = load_config(REPO / "examples/demo/perfctl.yaml", environ={}).config
    for board in (uids[grafana.K6_DASHBOARD_UID], backend):
        for panel in board["panels"]:
            assert "objective:" not in panel["title"]
            steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
            assert panel["title"] == "Targets up" or not steps, f"{panel['title']} has fixed thresholds"


def test_the_objectives_of_the_config_appear_as_thresholds():
    demo = load_config(REPO / "examples/demo/perfctl.yaml", environ={}).config
    board = json.loads(OBJECTIVES.read_text())
    assert board["uid"] == grafana.OBJECTIVES_DASHBOARD_UID
    # Grafana's JSON model: unique panel ids, a 24-column grid without overlaps.
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    cells = [(p["gridPos"]["x"] + dx, p["gridPos"]["y"] + dy) for p in board["panels"]
             for dx in range(p["gridPos"]["w"]) for dy in range(p["gridPos"]["h"])]
    assert len(set(cells)) == len(cells) and all(x < 24 for x, _ in cells)
    assert [p["title"].split(":")[0] for p in board["panels"]] == [o.name for o in demo.objectives]
    loop = next(p for p in board["panels"] if p["title"].startswith("backend_loop_hz_min"))
    assert loop["title"] == "backend_loop_hz_min: pass >= 95, warning >= 90"
    assert loop["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"color": "red", "value": None}, {"color": "orange", "value": 90}, {"color": "green", "value": 95}]
    error = next(p for p in board["panels"] if p["title"].startswith("error_ratio"))
    assert [s["value"] for s in error["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 0.01, 0.05]
    assert [s["color"] for s in error["fieldConfig"]["defaults"]["thresholds"]["steps"]] == ["green", "orange", "red"]
    # Another config, other bounds: nothing is fixed in the JSON.
    tighter = [o.model_copy(update={"pass_": ">= 99", "warning": None}) if o.sli == "loop_rate_min" else o
               for o in demo.objectives]
    other = dashboards.objectives_dashboard(demo.model_copy(update={"objectives": tighter}))
    loop = next(p for p in other["panels"] if p["title"].startswith("backend_loop_hz_min"))
    assert loop["title"] == "backend_loop_hz_min: pass >= 99"
    assert loop["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"color": "red", "value": None}, {"color": "green", "value": 99}]


@pytest.mark.parametrize(("passing", "warning", "steps"), [
    ("< 0.25", "< 0.5", [("green", None), ("orange", 0.25), ("red", 0.5)]),
    (">= 0.99", None, [("red", None), ("green", 0.99)]),
    ("between 90 and 110", "between 80 and 120",
     [("red", None), ("orange", 80), ("green", 90), ("orange", 110), ("red", 120)]),
    ("< 500 and <= +10%", None, [("green", None), ("red", 500)]),  # the relative part has no fixed line
    ("<= +10%", None, [("blue", None)]),
])
def test_threshold_steps_grade_like_the_gate(passing, warning, steps):
    demo = load_config(REPO / "examples/demo/perfctl.yaml", environ={}).config
    obj = demo.objectives[0].model_copy(update={"pass_": passing, "warning": warning})
    assert [(s["color"], s["value"]) for s in dashboards.threshold_steps(obj)] == steps


def test_objective_panels_speak_grafana_not_the_gates_placeholders():
    from orchestrator.verdict import gate

    demo = load_config(REPO / "examples/demo/perfctl.yaml", environ={}).config
    every = " ".join(gate.PLACEHOLDERS)
    custom = demo.objectives[0].model_copy(update={"sli": None, "query": f"vector(1) # {every}", "job": "backend"})
    expr = dashboards.grafana_query(custom)
    left = set(re.findall(r"\$\w+", expr)) - {"$testid", "$__range", "$__range_s", "$__rate_interval", "$__interval"}
    assert not left and "${__from:date:seconds}" in expr and "backend" in expr, expr
    p95 = next(o for o in demo.objectives if o.sli == "http_p95")
    assert dashboards.grafana_query(p95) == (
        '(histogram_quantile(0.95, sum(k6_http_req_duration_seconds{testid="$testid"})))'
        ' or (max(k6_http_req_duration_p95{testid="$testid"}))')


def test_the_docker_stack_mounts_the_dashboard_of_its_own_config(tmp_path):
    from orchestrator.monitoring.stack import DockerStack

    config = REPO / "examples/demo/perfctl.yaml"
    text = config.read_text().replace('pass: ">= 95"', 'pass: ">= 97"')
    (tmp_path / "perfctl.yaml").write_text(text)
    stack = DockerStack(load_config(tmp_path / "perfctl.yaml", environ={}))
    mounts = {m.target: m.source for m in stack.definition().service("grafana").mounts}
    assert mounts[GRAFANA_OBJECTIVES] == str(stack.objectives_dir)
    assert str(tmp_path) in mounts[GRAFANA_OBJECTIVES]
    stack.write_objectives_dashboard()
    written = stack.objectives_dir / dashboards.OBJECTIVES_FILE
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o644
    titles = [p["title"] for p in json.loads(written.read_text())["panels"]]
    assert "backend_loop_hz_min: pass >= 97, warning >= 90" in titles


def test_dashboard_url_filters_by_test_id():
    url = grafana.dashboard_url("http://127.0.0.1:3000", testid="run-1", start_ms=1000, end_ms=2000)
    assert url.startswith(f"http://127.0.0.1:3000/d/{grafana.K6_DASHBOARD_UID}/")
    assert "var-testid=run-1" in url and "from=1000" in url and "to=2000" in url


@pytest.mark.parametrize("image", ["grafana/k6", "grafana/k6:latest", "registry:5000/k6"])
def test_floating_images_are_refused_by_name(image):
    from orchestrator.config.load import validate_data
    from orchestrator.errors import ConfigError

    data = {"scenarios": {"s": {"requests": [{"name": "r", "path": "/"}], "duration": "1s", "vus": 1}}}
    with pytest.raises(ConfigError) as caught:
        validate_data({**data, "k6": {"image": image}})
    assert caught.value.lines == [f"k6.image: '{image}' must name a pinned tag (like grafana/k6:1.1.0), not latest"]
    assert validate_data({**data, "k6": {"image": "registry:5000/k6:1.1.0"}}).k6.image == "registry:5000/k6:1.1.0"


@contextlib.contextmanager
def _grafana_health_server():
    """A real HTTP server answering Grafana's /api/health the way Grafana does."""
    import http.server
    import threading

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            ok = self.path == "/api/health"
            body = b'{"database": "ok", "version": "11.0.0"}' if ok else b"{}"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _demo_config_with_grafana(tmp_path, grafana_url: str):
    config = tmp_path / "perfctl.yaml"
    config.write_text((REPO / "examples/demo/perfctl.yaml").read_text() + f"grafana:\n  url: {grafana_url}\n")
    return config


def test_dashboard_url_command_links_a_run_and_says_where_the_password_is(tmp_path):
    from orchestrator.ledger.store import Ledger

    with _grafana_health_server() as grafana_url:
        config = _demo_config_with_grafana(tmp_path, grafana_url)
        Ledger(tmp_path / "results").create("20260101-000000-demo-abcd", {"scenario": "demo", "start": 1000.0, "end": 1010.0})
        grafana.admin_password(tmp_path / ".perfctl")  # as `start-monitoring --runtime docker` leaves it
        result = run_cli("dashboard-url", "-c", str(config), cwd=tmp_path)
        assert result.code == 0, result.output
        url = result.stdout.strip()
        assert url.startswith(grafana_url)
        assert "var-testid=20260101-000000-demo-abcd" in url and "from=995000" in url and "to=1015000" in url
        assert str(grafana.password_file(tmp_path / ".perfctl")) in result.stderr
        assert run_cli("dashboard-url", "no-such-run", "-c", str(config), cwd=tmp_path).code == 2


def test_dashboard_url_without_grafana_is_exit_3_and_says_where_to_look(tmp_path):
    from orchestrator.ledger.store import Ledger
    from orchestrator.netutil import free_port

    config = _demo_config_with_grafana(tmp_path, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    fresh = run_cli("dashboard-url", "-c", str(config), cwd=tmp_path)
    assert fresh.code == 3, fresh.output
    assert fresh.stdout == ""  # no link to a Grafana that is not there
    assert "no Grafana answers at" in fresh.stderr and "start-monitoring --runtime docker" in fresh.stderr
    assert "K6_WEB_DASHBOARD=true" in fresh.stderr
    assert "password" not in fresh.stderr  # nor a password file that does not exist

    run = Ledger(tmp_path / "results").create("20260101-000000-demo-abcd", {"scenario": "demo"})
    (run.path / "dashboard.html").write_text("<html>k6 report</html>")
    with_export = run_cli("dashboard-url", "-c", str(config), cwd=tmp_path)
    assert with_export.code == 3 and str(run.path / "dashboard.html") in with_export.stderr


def test_without_a_docker_api_the_docker_runtime_says_how_to_get_one(tmp_path):
    config = tmp_path / "perfctl.yaml"
    config.write_text((REPO / "examples/demo/perfctl.yaml").read_text())
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    result = run_cli("start-monitoring", "--runtime", "docker", "--bind", "0.0.0.0", "-c", str(config), cwd=tmp_path, env=env)
    assert result.code == 3, result.output
    assert "listens on 0.0.0.0" in result.stderr  # opening the stack wider is warned about
    assert "no Docker API answers" in result.stderr and "scripts/docker-api" in result.stderr
    assert "Traceback" not in result.output
    run = run_cli("run", "health", "--runtime", "docker", "-c", str(config), cwd=tmp_path, env=env)
    assert run.code == 3 and "no Docker API answers" in run.stderr, run.output
