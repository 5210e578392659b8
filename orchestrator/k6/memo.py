"""What k6 said once about a binary and a script, remembered for the next `perfctl run`.

`k6 version` and `k6 inspect` each cost ~50 ms of wall and CPU before any load starts
(bench/, figure 1), and ~0.9 s each in a container of the docker runtime. Their answers
cannot change while k6 and the script stay the same, so they are kept per binary — its
real path, inode, size and mtime — or per image, by its ID (a digest of the image's
content), in $XDG_CACHE_HOME/perfctl (~/.cache/perfctl). Only facts are kept: the version
text, and the digests of scripts k6 accepted (a rejected script is checked again, to show
k6's words). A cache that cannot be read or written is ignored: k6 is asked again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Callable

from orchestrator.k6.binary import detect_features, inspect_script
from orchestrator.k6.features import K6Features
from orchestrator.user_cache import cache_dir, store

ACCEPTED_KEPT = 200  # scripts remembered per binary, the most recent ones


def features(binary: str) -> K6Features:
    """detect_features, asked of k6 only when this binary is new or changed."""
    return remembered_features(_binary_key(binary), lambda: detect_features(binary))


def inspect(binary: str, text: str) -> None:
    """inspect_script, skipped for a script this very binary has accepted before."""
    remembered_inspect(_binary_key(binary), text, lambda: inspect_script(binary, text))


def image_key(image_id: str) -> str | None:
    """The key a k6 image's answers are kept under: its ID (`sha256:...`), or None if it has none."""
    digest = image_id.split(":", 1)[-1].lower()
    return f"k6-image-{digest[:32]}" if re.fullmatch(r"[0-9a-f]{32,}", digest) else None


def remembered_features(key: str | None, ask: Callable[[], K6Features]) -> K6Features:
    """The version k6 under `key` told before, or `ask()`'s answer, kept (key None: not kept)."""
    memo = _load(key)
    if memo is not None and memo.get("version"):
        return K6Features(tuple(memo["version"]))
    found = ask()
    _store(key, {"version": list(found.version), "accepted": []})
    return found


def remembered_inspect(key: str | None, text: str, ask: Callable[[], object]) -> None:
    """`ask()` (k6 inspect, raising ConfigError when k6 rejects `text`) unless k6 under `key`
    has accepted this very script before."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    memo = _load(key) or {}
    if digest in memo.get("accepted", []):
        return
    ask()
    memo = _load(key) or {}
    accepted = [d for d in memo.get("accepted", []) if d != digest] + [digest]
    _store(key, {**memo, "accepted": accepted[-ACCEPTED_KEPT:]})


def _binary_key(binary: str) -> str | None:
    try:
        real = os.path.realpath(binary)
        st = os.stat(real)
    except OSError:
        return None
    identity = hashlib.sha256(f"{real}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:32]
    return f"k6-{identity}"


def _load(key: str | None) -> dict | None:
    if key is None:
        return None
    try:
        data = json.loads((cache_dir() / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _store(key: str | None, memo: dict) -> None:
    if key is not None:
        store(cache_dir() / f"{key}.json", json.dumps(memo))
