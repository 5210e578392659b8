"""What k6 said once about a binary and a script, remembered for the next `perfctl run`.

`k6 version` and `k6 inspect` each cost ~50 ms of wall and CPU before any load starts
(bench/, figure 1). Their answers cannot change while the binary and the script stay the
same, so they are kept per binary — its real path, inode, size and mtime — in
$XDG_CACHE_HOME/perfctl (~/.cache/perfctl). Only facts are kept: the version text, and the
digests of scripts k6 accepted (a rejected script is checked again, to show k6's words).
A cache that cannot be read or written is ignored: the answer is asked from k6 again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from orchestrator.k6.binary import detect_features, inspect_script
from orchestrator.k6.features import K6Features
from orchestrator.user_cache import cache_dir, store

ACCEPTED_KEPT = 200  # scripts remembered per binary, the most recent ones


def features(binary: str) -> K6Features:
    """detect_features, asked of k6 only when this binary is new or changed."""
    memo = _load(binary)
    if memo is not None and memo.get("version"):
        return K6Features(tuple(memo["version"]))
    found = detect_features(binary)
    _store(binary, {"version": list(found.version), "accepted": []})
    return found


def inspect(binary: str, text: str) -> None:
    """inspect_script, skipped for a script this very binary has accepted before."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    memo = _load(binary) or {}
    if digest in memo.get("accepted", []):
        return
    inspect_script(binary, text)  # raises ConfigError with k6's words when rejected
    memo = _load(binary) or {}
    accepted = [d for d in memo.get("accepted", []) if d != digest] + [digest]
    _store(binary, {**memo, "accepted": accepted[-ACCEPTED_KEPT:]})


def _identity(binary: str) -> str | None:
    try:
        real = os.path.realpath(binary)
        st = os.stat(real)
    except OSError:
        return None
    return hashlib.sha256(f"{real}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:32]


def _path(binary: str) -> Path | None:
    identity = _identity(binary)
    return cache_dir() / f"k6-{identity}.json" if identity else None


def _load(binary: str) -> dict | None:
    path = _path(binary)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _store(binary: str, memo: dict) -> None:
    path = _path(binary)
    if path is not None:
        store(path, json.dumps(memo))
