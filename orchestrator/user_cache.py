"""Where perfctl keeps what it can always recompute (k6's answers, compiled templates):
$XDG_CACHE_HOME/perfctl, else ~/.cache/perfctl. Deleting it only costs time."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "perfctl"
