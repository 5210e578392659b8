"""Which values are secrets, and masking them out of everything perfctl writes or prints.

The rule (one definition, read by the ssh refusal, the k6 log writer, the ledger and the
console): a value is secret when

- its environment variable's *name* looks secret (PASSWORD, TOKEN, SECRET, KEY, ...), or
- the config reads the variable where credentials go: a header value, or the user:password
  part of a URL (target.base_url, target.ws_base_url, prometheus.url), or
- it is the password of a URL with user:password@ (in the environment or written into the
  config's URLs).

k6 echoes what it sent (a failed request's URL, `--http-debug` headers), so each value is
masked in the forms it travels in too: percent-encoded, JSON-escaped and, for user:password
pairs, as the Basic authorization token. Values shorter than MIN_LENGTH are not masked: "1"
or "on" would shred every log line and protect nothing.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import sys
from typing import Iterable
from urllib.parse import quote, unquote, urlsplit

SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|HEADERS|BEARER|SECRET|KEY|CREDENTIAL|AUTH", re.IGNORECASE)
URL_WITH_USERINFO = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]*@")
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")
MASK = "***"
MIN_LENGTH = 4
# Names that match SECRET_NAME but are known not to hold one (keyboard layouts, ssh agents' paths).
NOT_SECRET = frozenset({"XKB_DEFAULT_LAYOUT", "SSH_AUTH_SOCK", "GPG_AGENT_INFO", "XAUTHORITY", "KEYTIMEOUT"})


def secret_names(environ: dict[str, str]) -> list[str]:
    """Variables of `environ` whose name says they hold a secret."""
    return sorted(k for k in environ if SECRET_NAME.search(k) and k not in NOT_SECRET)


def url_password(url: str) -> tuple[str, str] | None:
    """(user, password) of a URL with user:password@, else None."""
    if not URL_WITH_USERINFO.match(url or ""):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.password:
        return None
    return unquote(parts.username or ""), unquote(parts.password)


def config_secret_refs(config) -> set[str]:
    """Variables the config reads where credentials go: any `headers` value, any field whose
    name looks secret (`auth.token`, a `password` in a body), a URL's user:password."""
    refs: set[str] = set()
    dumped = config.model_dump(mode="json") if hasattr(config, "model_dump") else {}

    def walk(node, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "headers" and isinstance(v, dict):
                    for value in v.values():
                        refs.update(ENV_REF.findall(str(value)))
                walk(v, str(k))
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str) and SECRET_NAME.search(key):
            refs.update(ENV_REF.findall(node))

    walk(dumped)
    for url in _config_urls(config):
        netloc = url.split("://", 1)[-1].split("/", 1)[0]
        if "@" in netloc:
            refs.update(ENV_REF.findall(netloc.rsplit("@", 1)[0]))
    return refs


def _config_urls(config) -> list[str]:
    target = getattr(config, "target", None)
    prometheus = getattr(config, "prometheus", None)
    urls = [getattr(target, "base_url", None), getattr(target, "ws_base_url", None), getattr(prometheus, "url", None)]
    return [u for u in urls if isinstance(u, str)]


def secret_values(config=None, environ: dict[str, str] | None = None) -> list[str]:
    """Every secret value (see the module doc), in every form it is masked in."""
    environ = dict(os.environ if environ is None else environ)
    raw: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    names = set(secret_names(environ))
    if config is not None:
        names |= config_secret_refs(config)
        for url in _config_urls(config):
            found = url_password(url)
            if found and "${" not in found[1]:
                pairs.add(found)
    for name in names:
        if environ.get(name):
            raw.add(environ[name])
    for value in environ.values():
        found = url_password(value)
        if found:
            pairs.add(found)
    for user, password in pairs:
        raw.add(password)
        raw.add(base64.b64encode(f"{user}:{password}".encode()).decode())
    forms: set[str] = set()
    for value in raw:
        value = value.strip()
        # "Bearer abc..." in a header variable: the token alone is masked too.
        parts = [value] + ([value.split(None, 1)[1]] if " " in value else [])
        for part in parts:
            forms.update({part, quote(part, safe=""), quote(part), json.dumps(part)[1:-1]})
    return sorted((f for f in forms if len(f) >= MIN_LENGTH), key=len, reverse=True)


class Masker:
    """Replaces every secret value with ***; longest first, so no part of a longer one is left."""

    def __init__(self, values: Iterable[str] = ()):
        self.values = sorted({v for v in values if len(v) >= MIN_LENGTH}, key=len, reverse=True)
        self._text = re.compile("|".join(map(re.escape, self.values))) if self.values else None
        self._bytes = re.compile(b"|".join(re.escape(v.encode()) for v in self.values)) if self.values else None

    @property
    def longest(self) -> int:
        return len(self.values[0].encode()) if self.values else 0

    def mask(self, text: str) -> str:
        return self._text.sub(MASK, text) if self._text is not None and text else text

    def mask_bytes(self, data: bytes) -> bytes:
        return self._bytes.sub(MASK.encode(), data) if self._bytes is not None and data else data

    def mask_any(self, data: str | bytes) -> str | bytes:
        return self.mask_bytes(data) if isinstance(data, bytes) else self.mask(data)

    def split_bytes(self, buffer: bytes, *, final: bool, hold: int = 65536) -> tuple[bytes, bytes]:
        """(masked bytes safe to write now, bytes to keep until more arrive). Whole lines go out;
        a line longer than `hold` goes out in parts, never cutting through a secret."""
        if final:
            return self.mask_bytes(buffer), b""
        cut = buffer.rfind(b"\n") + 1
        if len(buffer) - cut > hold:
            cut = len(buffer) - max(self.longest - 1, 0)
            if self._bytes is not None:
                for match in self._bytes.finditer(buffer):
                    if match.start() < cut < match.end():
                        cut = match.end()
        return self.mask_bytes(buffer[:cut]), buffer[cut:]


# The values of this process, registered by load_config (config-read variables) and the
# environment's own: the console streams, the ledger and the runtimes read them here.
_registered: set[str] = set()
_masker: Masker | None = None


def register(config=None, environ: dict[str, str] | None = None) -> None:
    global _masker
    _registered.update(secret_values(config, environ))
    _masker = None


def active() -> Masker:
    global _masker
    if _masker is None:
        if not _registered:
            register()
        _masker = Masker(_registered)
    return _masker


class MaskingStream(io.TextIOBase):
    """A text stream that masks what is written to it (perfctl's stdout and stderr)."""

    def __init__(self, inner):
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(active().mask(text))
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    @property
    def encoding(self):
        return getattr(self.inner, "encoding", "utf-8")


def install_console() -> None:
    """Every line perfctl prints goes through the masker (called once, by cli.main)."""
    if not isinstance(sys.stdout, MaskingStream):
        sys.stdout = MaskingStream(sys.stdout)
    if not isinstance(sys.stderr, MaskingStream):
        sys.stderr = MaskingStream(sys.stderr)
