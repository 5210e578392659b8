"""k6's execution segments: how one test splits over N k6 processes (`--instances N` of the
local runtime, one per host of ssh).

k6 splits a test itself: each process gets `--execution-segment i/n:(i+1)/n` of the same
`--execution-segment-sequence`, so VUs, iterations and arrival rates are divided without
overlap (the mechanism k6-operator uses for its runners). Every process keeps the run's
testid tag, adds `instance=<i>`, writes to the same Prometheus, its own log
(k6-<i>.log) and its own summary (summary-<i>.json; merged afterwards).

The local runtime (runtimes/local.py) starts and follows the processes.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.k6.binary import api_address, segment_argv, with_api_address
from orchestrator.k6.summary import instance_file


# k6 outputs that write a file (`--out json=PATH`, `--out csv=PATH`).
FILE_OUTPUTS = ("json=", "csv=")


def instance_argv(argv: list[str], index: int, count: int) -> list[str]:
    """A single-run argv (k6.run_argv) -> the argv of instance `index` of `count`."""
    if len(argv) < 3 or argv[1] != "run":
        raise ValueError(f"not a `k6 run` argv: {argv[:3]}")
    out = [argv[0], "run", *segment_argv(index, count), "--tag", f"instance={index}"]
    # Instance 0 keeps the port run.json records; the others get their own free one.
    rest = list(argv[2:]) if index == 0 else with_api_address(list(argv[2:]), api_address())
    for at in range(len(rest) - 1):
        flag, value = rest[at], rest[at + 1]
        if flag == "--summary-export":
            rest[at + 1] = str(instance_file(Path(value), index))
        elif flag in ("-o", "--out") and value.startswith(FILE_OUTPUTS):
            # N processes writing one sample file would clobber it: each gets its own.
            kind, _, path = value.partition("=")
            rest[at + 1] = f"{kind}={instance_file(Path(path), index)}"
    return out + rest


def instance_env(env: dict[str, str], index: int) -> dict[str, str]:
    """Each instance exports its own web-dashboard report (k6.run_env set the path)."""
    export = env.get("K6_WEB_DASHBOARD_EXPORT")
    if not export:
        return env
    return {**env, "K6_WEB_DASHBOARD_EXPORT": str(instance_file(Path(export), index))}


def combined_exit_code(codes: list[int]) -> int:
    """The run's k6 exit code: the first real failure, else 99 if any thresholds failed, else 0."""
    failures = [c for c in codes if c not in (0, 99)]
    if failures:
        return failures[0]
    return 99 if 99 in codes else 0
