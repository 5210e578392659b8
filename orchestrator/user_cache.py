"""Where perfctl keeps what it can always recompute (k6's answers, compiled templates, rendered
scripts): $XDG_CACHE_HOME/perfctl, else ~/.cache/perfctl. Deleting it only costs time."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "perfctl"


def private_dir(name: str) -> Path | None:
    """cache_dir()/name, made if missing, or None when it cannot be made or someone else could
    write to it: what perfctl reads back from there becomes code (a compiled template, a k6
    script), so it is taken only from a directory of this user that no one else can change."""
    directory = cache_dir() / name
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return directory


def store(path: Path, text: str) -> None:
    """Write a cache file whole or not at all (two perfctl at once each leave a complete file,
    and a reader never sees half of one); a cache that cannot be written only costs time."""
    tmp = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
