"""`perfctl --help` from a file. Rendering the root help costs ~100 ms of Typer and click
imports, yet it is the same text for the same perfctl, Python, terminal width and command
table. The text is kept in perfctl's cache (user_cache.py) under a key of all of those (the
cli modules' sizes and times included, so an edited checkout never shows an old text); a
missing, unreadable or unwritable cache only means rendering it again.

This module imports only the standard library's light modules: it runs before Typer."""

import hashlib
import shutil
import sys
from pathlib import Path


def _key(args: list[str]) -> str:
    from orchestrator import __version__

    digest = hashlib.sha256(f"{__version__}|{sys.version}|{' '.join(args)}|".encode())
    digest.update(str(shutil.get_terminal_size().columns).encode())  # click wraps to the width
    for path in sorted(Path(__file__).parent.glob("*.py")):
        info = path.stat()
        digest.update(f"|{path.name}:{info.st_size}:{info.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def _path(args: list[str]) -> Path:
    from orchestrator.user_cache import cache_dir

    return cache_dir() / "help" / f"{_key(args)}.txt"


def cached(args: list[str]) -> str | None:
    try:
        return _path(args).read_text(encoding="utf-8") or None
    except (OSError, UnicodeDecodeError):
        return None


def remember(args: list[str], text: str) -> None:
    from orchestrator.user_cache import store

    store(_path(args), text)
