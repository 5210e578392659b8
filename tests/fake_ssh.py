"""Stand-ins for ssh and scp at perfctl's seam (runtimes/ssh.py), for tests without sshd.

`ssh [opts] HOST COMMAND` runs COMMAND with `sh -c` in $FAKE_SSH_ROOT/<host>/ (that
host's home), with its own tmux server (TMUX_TMPDIR there), so real tmux and real k6 do
the work. A host whose name contains "unreachable" answers like a refused connection
(exit 255). `scp [opts] SRC DST` copies, mapping HOST:PATH into that host's home. Every
call is recorded in $FAKE_SSH_ROOT/calls.jsonl.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(os.environ["FAKE_SSH_ROOT"])


def home(host: str) -> Path:
    path = ROOT / host.replace("@", "_at_")
    (path / "tmux").mkdir(parents=True, exist_ok=True)
    return path


def ssh(args: list[str]) -> int:
    rest = list(args)
    while rest and rest[0] == "-o":
        rest = rest[2:]
    host, command = rest[0], rest[1]
    if "unreachable" in host:
        print(f"ssh: connect to host {host} port 22: Connection refused", file=sys.stderr)
        return 255
    env = {**os.environ, "HOME": str(home(host)), "TMUX_TMPDIR": str(home(host) / "tmux")}
    env.pop("TMUX", None)
    return subprocess.run(["sh", "-c", command], cwd=home(host), env=env).returncode


def scp(args: list[str]) -> int:
    paths = [a for a in args if not a.startswith("-") and a != "BatchMode=yes"]
    src, dst = (_local(p) for p in paths[-2:])
    if not src.exists():
        print(f"scp: {paths[-2]}: No such file or directory", file=sys.stderr)
        return 1
    shutil.copyfile(src, dst)
    return 0


def _local(spec: str) -> Path:
    host, sep, path = spec.partition(":")
    return home(host) / path if sep and not spec.startswith("/") else Path(spec)


if __name__ == "__main__":
    ROOT.mkdir(parents=True, exist_ok=True)
    tool, args = sys.argv[1], sys.argv[2:]
    with open(ROOT / "calls.jsonl", "a") as fh:
        fh.write(json.dumps([tool, *args]) + "\n")
    sys.exit(ssh(args) if tool == "ssh" else scp(args))
