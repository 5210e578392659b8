"""orchestrator.monitoring.prometheus over orchestrator.http_client, against a real HTTP server on loopback
that answers like Prometheus's API (the real Prometheus is in the gate and e2e tests): what
the transport must keep from requests — path prefixes, credentials, one retry, keep-alive
reconnects — and how each failure reaches the user."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestrator.errors import EnvironmentProblem, UsageError
from orchestrator.netutil import free_port
from orchestrator.monitoring.prometheus import Prometheus, QueryRejected

VECTOR = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {"job": "a"}, "value": [1, "0.25"]}]}}


class FakeApi(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Prometheus
    script: list[tuple[int, bytes]] = []  # answers to hand out in order; then VECTOR
    seen: list[dict] = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        fields = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        self.seen.append({"path": self.path, "fields": fields, "auth": self.headers.get("Authorization"),
                          "port": self.client_address[1]})
        status, body = self.script.pop(0) if self.script else (200, json.dumps(VECTOR).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if fields.get("query") == "close-after":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    FakeApi.script, FakeApi.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_query_goes_as_a_form_post_under_the_url_prefix_with_url_credentials(api):
    prom = Prometheus(f"http://ops:p%40ss@{api}/prometheus/", timeout=4)
    samples = prom.query('up{job="a"}', at=1700000000.5)
    assert [(s.labels, s.value) for s in samples] == [({"job": "a"}, 0.25)]
    (seen,) = FakeApi.seen
    assert seen["path"] == "/prometheus/api/v1/query"
    assert seen["fields"] == {"query": 'up{job="a"}', "time": "1700000000.500", "timeout": "4s"}
    assert seen["auth"] == "Basic " + base64.b64encode(b"ops:p@ss").decode()


def test_queries_reuse_one_connection_and_reconnect_when_the_server_closed_it(api):
    prom = Prometheus(f"http://{api}")
    prom.query("one")
    prom.query("two")
    prom.query("close-after")  # the server closes this connection after answering
    assert prom.scalar("four") == 0.25  # a fresh connection, no error
    ports = [s["port"] for s in FakeApi.seen]
    assert ports[0] == ports[1] == ports[2] != ports[3]


def test_one_retry_on_503_then_the_answer(api):
    FakeApi.script = [(503, b"overloaded")]
    assert Prometheus(f"http://{api}").scalar("up") == 0.25
    assert len(FakeApi.seen) == 2


def test_a_rejected_query_is_the_users_and_quotes_prometheus(api):
    FakeApi.script = [(400, json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}).encode())]
    with pytest.raises(QueryRejected, match="parse error at char 3") as caught:
        Prometheus(f"http://{api}").query("up{")
    assert caught.value.exit_code == 2


def test_a_failing_or_foreign_server_is_the_environments_without_credentials_in_the_message(api):
    FakeApi.script = [(500, b"boom"), (200, b"<html>not prometheus</html>")]
    prom = Prometheus(f"http://ops:secret@{api}")
    with pytest.raises(EnvironmentProblem, match="HTTP 500 boom") as caught:
        prom.query("up")
    assert "secret" not in str(caught.value) and caught.value.exit_code == 3
    with pytest.raises(EnvironmentProblem, match="not JSON"):
        prom.query("up")


def test_nothing_listening_is_unreachable_with_how_to_fix_it():
    prom = Prometheus(f"http://u:secret@127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(EnvironmentProblem, match="is unreachable") as caught:
        prom.query("up")
    assert "secret" not in str(caught.value) and "start-monitoring" in caught.value.hint
    assert prom.ready() is False


def test_a_url_that_is_not_http_is_a_usage_error():
    with pytest.raises(UsageError, match="prometheus.url"):
        Prometheus("ftp://127.0.0.1:9090").query("up")
