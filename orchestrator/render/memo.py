"""Rendered scripts kept by what they were rendered from, in perfctl's cache directory.

A script is a pure function of perfctl's templates and the values handed to them (the config's
scenario, the overrides, k6's version), so a run that repeats an earlier one's inputs takes the
text rendered then and does not import Jinja2 (~35 ms of CPU before the load; bench/, figure 1).
The key covers every template file's bytes, perfctl's version and the whole context; a change to
any of them is a new key. The text holds what results/<run>/script.js holds, no more: environment
variables are read by k6 at run time, never written into scripts. It is read back only from a
directory of this user that no one else can write to (user_cache.private_dir), as it becomes code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from orchestrator import __version__
from orchestrator.user_cache import private_dir, store as store_file

KEPT = 200  # scripts kept, the most recently rendered
DIRECTORY = "scripts"


def key(templates: Path, context: dict) -> str:
    digest = hashlib.sha256(f"perfctl {__version__}\0".encode())
    for path in sorted(templates.glob("*.j2")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(context, sort_keys=True, default=_canonical).encode())
    return digest.hexdigest()


def _canonical(value):
    # Sets in a stable order; everything else (Part, the config's models) by its repr, which
    # names every field and value.
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return repr(value)


def load(digest: str) -> str | None:
    directory = private_dir(DIRECTORY)
    if directory is None:
        return None
    try:
        return (directory / f"{digest}.js").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def store(digest: str, text: str) -> None:
    directory = private_dir(DIRECTORY)
    if directory is None:
        return
    store_file(directory / f"{digest}.js", text)
    _prune(directory)


def _prune(directory: Path) -> None:
    """Keep the KEPT newest; a file another perfctl removes meanwhile is no error."""
    try:
        kept = sorted(directory.glob("*.js"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in kept[KEPT:]:
        try:
            old.unlink(missing_ok=True)
        except OSError:
            pass
