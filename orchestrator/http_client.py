"""A small HTTP client on the standard library: keep-alive connections, one per thread.

For Prometheus's API and the health gate. The gate sends 20+ small queries at once; through
requests (and prometheus-api-client on top) each costs ~3x the client CPU of http.client —
preparing the request, merging settings, cookie jars — more than Prometheus spent answering
most of them (bench/, figure 6 measures both in the same run). prometheus-api-client stays
available as `prometheus.client` (orchestrator/monitoring/connect.py).
Extra headers (a managed store's tenant and token) and a TLS context come from
orchestrator/monitoring/access.py.
What requests gave us is kept: proxies from the environment (NO_PROXY respected), netrc or
URL credentials, a CA bundle from REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE / SSL_CERT_FILE, and one
retry when the connection drops or Prometheus answers 502/503/504.
"""

from __future__ import annotations

import base64
import http.client
import netrc
import os
import threading
import time
import urllib.parse
from dataclasses import dataclass

RETRY_STATUSES = (502, 503, 504)
RETRY_PAUSE = 0.2  # seconds before the one retry


class Unreachable(Exception):
    """No HTTP answer: refused, reset, timed out, or a TLS failure. The message names the cause."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class HttpApi:
    """GET / POST against one base URL (a path prefix such as /prometheus is kept). Redirects
    are not followed: an answer is what that URL said."""

    def __init__(self, url: str, *, timeout: float, headers: dict[str, str] | None = None, tls=None):
        """`headers`: sent with every request (an Authorization among them wins over URL
        credentials); `tls`: an ssl.SSLContext for https, else the default checks."""
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL (scheme {parts.scheme or 'none'!r}, host {parts.hostname or 'none'!r})")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path
        self.timeout = timeout
        self._headers = {"Accept": "application/json", "Connection": "keep-alive"}
        credentials = _credentials(parts)
        if credentials:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._headers.update(headers or {})
        self._proxy = _proxy_for(parts)
        self._tls = (tls or _tls_context()) if parts.scheme == "https" else None
        self._local = threading.local()  # each thread its own connection: http.client is not thread-safe

    def get(self, path: str, params: dict[str, str] | None = None) -> Answer:
        query = "?" + urllib.parse.urlencode(params) if params else ""
        return self._send("GET", path + query, None)

    def post_form(self, path: str, fields: dict[str, str]) -> Answer:
        """A form POST: PromQL of any length fits (a GET URL has limits)."""
        return self._send("POST", path, urllib.parse.urlencode(fields).encode())

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        """A POST of `body` as it is, with these headers besides the client's own."""
        return self._send("POST", path, body, headers)

    def _send(self, method: str, path: str, body: bytes | None, extra: dict[str, str] | None = None) -> Answer:
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers.update(extra or {})
        target = self.prefix + path
        if self._proxy and self.scheme == "http":
            host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal goes in brackets
            target = f"http://{host}:{self.port}{target}"  # a plain-HTTP proxy takes the absolute URL
        try:
            answer = self._exchange(method, target, body, headers)
        except Unreachable:
            time.sleep(RETRY_PAUSE)
            return self._exchange(method, target, body, headers)  # the one retry
        if answer.status in RETRY_STATUSES:
            time.sleep(RETRY_PAUSE)
            return self._exchange(method, target, body, headers)
        return answer

    def _exchange(self, method: str, target: str, body: bytes | None, headers: dict) -> Answer:
        conn, reused = self._connection()
        try:
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            return Answer(response.status, response.read())
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            if reused:  # the server closed an idle keep-alive connection: try a fresh one
                return self._exchange(method, target, body, headers)
            raise Unreachable(_describe(exc)) from None

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        host, port = self._proxy or (self.host, self.port)
        if self.scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._tls)
            if self._proxy:
                conn.set_tunnel(self.host, self.port)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        self._local.conn = conn
        return conn, False

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Closes this thread's connection (other threads' close when their thread ends)."""
        self._drop()


def _credentials(parts: urllib.parse.SplitResult) -> tuple[str, str] | None:
    if parts.username is not None:
        return urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
    try:
        entry = netrc.netrc().authenticators(parts.hostname)
    except (OSError, netrc.NetrcParseError):
        return None
    return (entry[0], entry[2]) if entry else None


def _proxy_for(parts: urllib.parse.SplitResult) -> tuple[str, int] | None:
    """(host, port) of the proxy the environment sets for this URL; None when NO_PROXY exempts it."""
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None  # the usual case, without importing urllib.request (~10 ms)
    import urllib.request

    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname):
        return None
    proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return proxy_parts.hostname, proxy_parts.port or 80


def _tls_context():
    import ssl

    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=bundle or None)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
