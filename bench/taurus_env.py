"""Taurus (bzt) for the side-by-side figure: its own scratch virtualenv, its config, and the k6 it
finds. Nothing goes into perfctl's virtualenv or the user's home; Taurus's update check is off."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path

import yaml

# The release line the issue names (on PyPI; pip's index is the only source).
BZT_REQUIREMENT = "bzt>=1.17,<1.18"


def venv_dir(workdir: Path) -> Path:
    """One scratch virtualenv per bench run: every figure that needs Taurus shares it."""
    return workdir / "taurus-venv"


def ensure_bzt(workdir: Path, python: str, log: Path) -> tuple[Path, float | None]:
    """(path of `bzt`, seconds the install took, None when this run already had it)."""
    venv = venv_dir(workdir)
    bzt = venv / "bin" / "bzt"
    if bzt.exists():
        return bzt, None
    started = time.monotonic()
    with open(log, "ab") as out:
        for argv in ([python, "-m", "venv", str(venv)],
                     [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                      BZT_REQUIREMENT]):
            out.write(f"$ {shlex.join(argv)}\n".encode())
            out.flush()
            done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(f"installing {BZT_REQUIREMENT} failed ({shlex.join(argv)}): see {log}")
    if not bzt.exists():
        raise RuntimeError(f"pip installed {BZT_REQUIREMENT} but {bzt} is missing")
    return bzt, time.monotonic() - started


def k6_shim(folder: Path, k6: str, *, exit_log: Path | None = None) -> Path:
    """A folder whose only program is `k6`: Taurus looks k6 up on PATH and must find ours.
    With `exit_log`, `k6` is a wrapper that appends each exit code to it: Taurus itself does not
    record the code of the k6 it ran, and the figure must show what k6 said."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "k6"
    if target.exists() or target.is_symlink():
        target.unlink()
    if exit_log is None:
        target.symlink_to(k6)
    else:
        target.write_text("#!/bin/sh\n"
                          f"{shlex.quote(k6)} \"$@\"\n"
                          "code=$?\n"
                          f"echo \"$code $*\" >> {shlex.quote(str(exit_log))}\n"
                          "exit $code\n")
        target.chmod(0o755)
    return folder


def taurus_env(shim: Path, home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Taurus's environment: our k6 first on PATH, a scratch HOME (bzt writes ~/.bzt-rc there)."""
    env = dict(os.environ if base is None else base)
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), PATH=f"{shim}{os.pathsep}/usr/bin{os.pathsep}/bin", K6_NO_USAGE_REPORT="true")
    return env


def taurus_config(script: Path, *, vus: int, seconds: float, artifacts: Path, api_address: str) -> str:
    """bzt's YAML: the k6 executor running `script` with our VUs and duration.

    Taurus turns concurrency and hold-for into k6's --vus and --duration (without them it asks
    k6 for one iteration). check-updates: false stops its request to gettaurus.org at start-up.
    --address: k6's default API port 6565 is taken when another k6 runs on the machine."""
    data = {
        "settings": {"check-updates": False, "artifacts-dir": str(artifacts / "%Y-%m-%d_%H-%M-%S.%f")},
        "modules": {"k6": {"cmdline": f"--address {api_address}"}},
        "execution": [{"executor": "k6", "concurrency": vus, "hold-for": f"{seconds:g}s", "scenario": "side-by-side"}],
        "scenarios": {"side-by-side": {"script": str(script)}},
    }
    return yaml.safe_dump(data, sort_keys=False)


def exit_codes(exit_log: Path) -> list[int]:
    """Exit codes of `k6 run` the wrapper recorded (Taurus also runs `k6 version`)."""
    if not exit_log.exists():
        return []
    codes = []
    for line in exit_log.read_text().splitlines():
        code, _, args = line.partition(" ")
        if args.split()[:1] == ["run"]:
            codes.append(int(code))
    return codes


def evidence_lines(text: str, needles: tuple[str, ...] = ("crossed", "Done performing with code", "ERROR",
                                                           "failed", "✗")) -> list[str]:
    """The lines of a log that show how a failed threshold was (or was not) reported."""
    return [line.strip() for line in text.splitlines() if any(n in line for n in needles)]
