"""orchestrator/monitoring/connect.py (`prometheus.client: prometheus-api-client`): queries
through PrometheusConnect against a real Prometheus (e2e), what it sends against a real
recording server on loopback, and how each failure reaches the caller."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestrator.errors import EnvironmentProblem
from orchestrator.http_client import Answer
from orchestrator.monitoring.access import Access
from orchestrator.monitoring.connect import ConnectQueries, _answer_of
from orchestrator.netutil import free_port

prometheus_api_client = pytest.importorskip(
    "prometheus_api_client", reason="prometheus.client's prometheus-api-client is not installed (the opt-in extra)")


def refused(answers: list):
    def on_answer(promql: str, answer: Answer) -> list[dict]:
        answers.append((promql, answer))
        return []
    return on_answer


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    if not __import__("shutil").which("prometheus"):
        pytest.skip("no prometheus binary (apt install prometheus)")
    from bench import servers

    with servers.prometheus(tmp_path_factory.mktemp("connect")) as server:
        yield server.base_url


@pytest.mark.e2e
def test_an_instant_query_at_a_time_to_the_millisecond(prometheus):
    queries = ConnectQueries(prometheus, Access(), timeout=5, on_answer=refused([]))
    try:
        result = queries.result("/api/v1/query", {"query": "vector(3) * 2", "time": "1700000000.125"})
    finally:
        queries.close()
    assert len(result) == 1
    assert result[0]["value"] == [1700000000.125, "6"]


@pytest.mark.e2e
def test_a_range_query_keeps_fractional_start_end_and_step(prometheus):
    queries = ConnectQueries(prometheus, Access(), timeout=5, on_answer=refused([]))
    try:
        result = queries.result("/api/v1/query_range",
                                {"query": "vector(1)", "start": "1700000000.250", "end": "1700000002.250", "step": "0.500"})
    finally:
        queries.close()
    assert [t for t, _ in result[0]["values"]] == [1700000000.25, 1700000000.75, 1700000001.25, 1700000001.75, 1700000002.25]


@pytest.mark.e2e
def test_a_rejected_query_goes_to_on_answer_with_prometheus_status_and_body(prometheus):
    answers: list = []
    queries = ConnectQueries(prometheus, Access(), timeout=5, on_answer=refused(answers))
    try:
        assert queries.result("/api/v1/query", {"query": "sum(", "time": "1700000000"}) == []
    finally:
        queries.close()
    (promql, answer), = answers
    assert promql == "sum(" and answer.status == 400
    assert json.loads(answer.body)["errorType"] == "bad_data"


def test_nothing_listening_is_an_environment_problem_without_the_password():
    queries = ConnectQueries(f"http://me:secret@127.0.0.1:{free_port()}", Access(), timeout=2, on_answer=refused([]))
    with pytest.raises(EnvironmentProblem) as caught:
        queries.result("/api/v1/query", {"query": "up"})
    assert "unreachable" in caught.value.message and "me:***@" in caught.value.message
    assert "secret" not in caught.value.render()


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: list[tuple[int, bytes]] = []
    seen: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status, payload = self.script.pop(0) if self.script else (
            200, b'{"status":"success","data":{"resultType":"vector","result":[]}}')
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    Recorder.script, Recorder.seen = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_access_headers_go_with_every_query_as_a_post(recorder):
    queries = ConnectQueries(recorder, Access(headers={"X-Scope-OrgID": "team-a", "Authorization": "Bearer t"}),
                             timeout=5, on_answer=refused([]))
    assert queries.result("/api/v1/query", {"query": "up", "time": "1.5"}) == []
    seen = Recorder.seen[0]
    assert seen["path"].startswith("/api/v1/query")
    assert seen["headers"]["X-Scope-OrgID"] == "team-a" and seen["headers"]["Authorization"] == "Bearer t"


def test_one_retry_on_503(recorder):
    Recorder.script = [(503, b"busy")]
    queries = ConnectQueries(recorder, Access(), timeout=5, on_answer=refused([]))
    assert queries.result("/api/v1/query", {"query": "up"}) == []
    assert len(Recorder.seen) == 2


def test_a_200_that_is_not_json_goes_to_on_answer_as_an_empty_200(recorder):
    Recorder.script = [(200, b"<html>not prometheus</html>")]
    answers: list = []
    queries = ConnectQueries(recorder, Access(), timeout=5, on_answer=refused(answers))
    queries.result("/api/v1/query", {"query": "up"})
    assert answers == [("up", Answer(200, b""))]


def test_without_the_package_it_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_api_client", None)  # import fails as if not installed
    with pytest.raises(EnvironmentProblem) as caught:
        ConnectQueries("http://127.0.0.1:9", Access(), timeout=1, on_answer=refused([]))
    assert "prometheus-api-client, which is not installed" in caught.value.message
    assert "perfctl[prometheus-api-client]" in caught.value.hint


@pytest.mark.parametrize("text, expected", [
    ("HTTP Status Code 400 (b'{\"error\":\"parse\"}')", Answer(400, b'{"error":"parse"}')),
    ('HTTP Status Code 503 (b"it\'s down")', Answer(503, b"it's down")),
    ("HTTP Status Code 422 (b'line\\nbreak')", Answer(422, b"line\nbreak")),
    ("something else entirely", Answer(0, b"something else entirely")),
])
def test_answer_of_reads_prometheus_api_clients_message(text, expected):
    assert _answer_of(Exception(text)) == expected


def test_through_prometheus_a_foreign_200_is_not_json_not_unreachable(recorder):
    # What the user sees: the same message as with the default client (before the fix it said
    # "unreachable (JSONDecodeError)", pointing at the wrong problem).
    from orchestrator.config.prometheus_settings import PrometheusSettings
    from orchestrator.monitoring.prometheus import Prometheus

    Recorder.script = [(200, b"<html>not prometheus</html>")]
    prom = Prometheus.for_settings(PrometheusSettings(url=recorder, client="prometheus-api-client"))
    with pytest.raises(EnvironmentProblem, match="answered with something that is not JSON"):
        prom.query("up")
