"""orchestrator/http_client.py by itself, against a real HTTP server on 127.0.0.1 (a few lines of
http.server): what it sends (path prefix, query string, form, headers, credentials from the
URL or ~/.netrc), exactly one retry on a drop or a 502/503/504 and none otherwise, no
redirects followed, proxies from the environment, one keep-alive connection per thread.
(tests/test_http_client.py covers it through monitoring.prometheus.)"""

from __future__ import annotations

import base64
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestrator.http_client import Answer, HttpApi, Unreachable
from orchestrator.netutil import free_port


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: list[int] = []  # statuses to answer in order; then 200
    seen: list[dict] = []

    def _answer(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length) if length else b""
        self.seen.append({"method": self.command, "path": self.path, "body": body, "headers": dict(self.headers),
                          "port": self.client_address[1]})
        status = self.script.pop(0) if self.script else 200
        payload = f"answer {len(self.seen)}".encode()
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch, tmp_path):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc unless a test writes one
    monkeypatch.setattr("orchestrator.http_client.RETRY_PAUSE", 0.01)
    Recorder.script, Recorder.seen = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_get_keeps_the_prefix_and_encodes_params(server):
    api = HttpApi(server + "/prometheus/", timeout=5)
    answer = api.get("/api/v1/query", {"query": 'up{job="a b"}', "time": "1.5"})
    assert answer == Answer(200, b"answer 1")
    seen = Recorder.seen[0]
    assert seen["method"] == "GET"
    path, _, query = seen["path"].partition("?")
    assert path == "/prometheus/api/v1/query"
    assert dict(urllib.parse.parse_qsl(query)) == {"query": 'up{job="a b"}', "time": "1.5"}
    assert seen["headers"]["Accept"] == "application/json"
    assert "Authorization" not in seen["headers"]


def test_post_form_and_post_send_their_bodies(server):
    api = HttpApi(server, timeout=5)
    api.post_form("/q", {"query": "a+b&c"})
    api.post("/raw", b"\x00binary", {"Content-Type": "application/x-protobuf", "X-Extra": "1"})
    form, raw = Recorder.seen
    assert form["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert urllib.parse.parse_qs(form["body"].decode()) == {"query": ["a+b&c"]}
    assert raw["body"] == b"\x00binary"
    assert raw["headers"]["Content-Type"] == "application/x-protobuf" and raw["headers"]["X-Extra"] == "1"


def test_url_credentials_are_basic_auth_and_an_explicit_header_wins(server):
    host = server.removeprefix("http://")
    HttpApi(f"http://us%40er:p%3Ass@{host}", timeout=5).get("/")
    HttpApi(f"http://user:pass@{host}", timeout=5, headers={"Authorization": "Bearer t"}).get("/")
    basic, bearer = (s["headers"]["Authorization"] for s in Recorder.seen)
    assert base64.b64decode(basic.removeprefix("Basic ")).decode() == "us@er:p:ss"
    assert bearer == "Bearer t"


def test_credentials_from_netrc(server, tmp_path):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n")
    netrc.chmod(0o600)
    HttpApi(server, timeout=5).get("/")
    token = Recorder.seen[0]["headers"]["Authorization"].removeprefix("Basic ")
    assert base64.b64decode(token).decode() == "alice:s3cret"


def test_a_broken_netrc_means_no_credentials(server, tmp_path):
    (tmp_path / ".netrc").write_text("machine\n")
    HttpApi(server, timeout=5).get("/")
    assert "Authorization" not in Recorder.seen[0]["headers"]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_one_retry_on_a_gateway_status(server, status):
    Recorder.script = [status]
    assert HttpApi(server, timeout=5).get("/x").status == 200
    assert len(Recorder.seen) == 2


def test_only_one_retry(server):
    Recorder.script = [503, 503, 503]
    assert HttpApi(server, timeout=5).get("/x").status == 503
    assert len(Recorder.seen) == 2


@pytest.mark.parametrize("status", [400, 404, 500])
def test_no_retry_on_other_failures(server, status):
    Recorder.script = [status]
    answer = HttpApi(server, timeout=5).get("/x")
    assert answer.status == status and len(Recorder.seen) == 1


def test_a_redirect_is_the_answer_not_followed(server):
    Recorder.script = [302]
    assert HttpApi(server, timeout=5).get("/old").status == 302
    assert [s["path"] for s in Recorder.seen] == ["/old"]


def test_one_connection_per_thread_kept_alive(server):
    api = HttpApi(server, timeout=5)
    api.get("/a")
    api.get("/b")
    ports = {s["port"] for s in Recorder.seen}
    assert len(ports) == 1  # the same keep-alive connection
    other = threading.Thread(target=lambda: (api.get("/c"), api.close()))
    other.start()
    other.join(10)
    assert Recorder.seen[-1]["port"] not in ports  # another thread, its own connection
    api.close()
    api.get("/d")
    assert Recorder.seen[-1]["port"] not in ports  # closed: a fresh connection


def test_nothing_listening_is_unreachable_naming_the_cause(monkeypatch):
    monkeypatch.setattr("orchestrator.http_client.RETRY_PAUSE", 0.01)
    api = HttpApi(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(Unreachable, match="^ConnectionRefusedError"):
        api.get("/")


def test_a_plain_http_proxy_gets_the_absolute_url(server, monkeypatch):
    # The recorder plays the proxy; the target's port has nothing behind it.
    port = free_port()
    monkeypatch.setenv("http_proxy", server)
    HttpApi(f"http://127.0.0.1:{port}/p", timeout=5).get("/api", {"a": "1"})
    assert Recorder.seen[0]["path"] == f"http://127.0.0.1:{port}/p/api?a=1"


def test_no_proxy_exempts_a_host(server, monkeypatch):
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")  # a proxy that is not there
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert HttpApi(server, timeout=5).get("/direct").status == 200
    assert Recorder.seen[0]["path"] == "/direct"


@pytest.mark.parametrize("url", ["ftp://host/", "127.0.0.1:9090", "http://", "file:///etc/passwd"])
def test_not_an_http_url(url):
    with pytest.raises(ValueError, match="not an http\\(s\\) URL"):
        HttpApi(url, timeout=1)


def test_default_ports():
    assert HttpApi("http://example.invalid", timeout=1).port == 80
    assert HttpApi("https://example.invalid", timeout=1).port == 443
