"""The options of one run (`perfctl run`, `demo`, a detached run's inner command): what the
user asked for, as the CLI parsed it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.render.script import Overrides


@dataclass(frozen=True)
class RunOptions:
    scenario: str
    config: Path | None = None
    overrides: Overrides = field(default_factory=Overrides)
    run_id: str | None = None
    results: Path | None = None
    runtime: str = "local"
    json_output: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    baseline: str | None = None  # a run id, "last-pass" or "pinned": feeds relative criteria
    require_baseline: bool = False  # relative criteria without a baseline: inconclusive, not "not evaluated"
    detach: bool = False  # run inside a tmux session and return at once
    rollback: bool = True  # run the configured rollback actions on a failed/inconclusive gate
    instances: int = 1  # split the test over N k6 processes (execution segments)
    hosts: tuple[str, ...] = ()  # --hosts: instance i runs on host i over ssh, inside tmux
    script: Path | None = None  # a hand-written k6 script instead of a generated one

