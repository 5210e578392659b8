"""The options several commands share (one definition each), and how a command's code ends.

No `from __future__ import annotations` in orchestrator/cli/: Typer reads every command's
annotations on every start (also for `--help`), and string annotations cost it an eval each,
~25 ms per start for perfctl's ~35 commands.
"""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from orchestrator.runtimes import CHOICES as RUNTIME_CHOICES

ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("-c", "--config", help="perfctl.yaml to use.", envvar="PERFCTL_CONFIG", show_default="perfctl.yaml"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.", envvar="PERFCTL_JSON")]

# The registry's names (orchestrator/runtimes/__init__.py imports nothing: --help stays fast).
Runtime = Enum("Runtime", {name: name for name in RUNTIME_CHOICES}, type=str)

RuntimeOpt = Annotated[Runtime, typer.Option("--runtime", help="Where k6 runs.", envvar="PERFCTL_RUNTIME")]
VusOpt = Annotated[Optional[int], typer.Option("--vus", help="Override the VUs of every part.")]
DurationOpt = Annotated[Optional[str], typer.Option("--duration", help="Override the duration (30s, 2m).")]
RateOpt = Annotated[Optional[int], typer.Option("--rate", help="Override the arrival rate (iterations per time unit).")]
StageOpt = Annotated[
    Optional[list[str]], typer.Option("--stage", help="Replace the stages: repeat DURATION:TARGET (e.g. --stage 30s:10).")
]
RunIdOpt = Annotated[Optional[str], typer.Option("--run-id", help="Name the run (default: time-scenario-xxxx).")]
ResultsOpt = Annotated[
    Optional[Path], typer.Option("--results", help="Results folder (default: results_dir).", envvar="PERFCTL_RESULTS")
]
BaselineOpt = Annotated[
    Optional[str],
    typer.Option("--baseline", help="Run id, last-pass or pinned: the reference for relative criteria "
                 "(default: the pinned run, if one is pinned for the scenario)."),
]
RequireBaselineOpt = Annotated[
    bool, typer.Option("--require-baseline", help="Relative criteria without a baseline make the run inconclusive "
                       "(default: not evaluated; gate.require_baseline).")
]
DetachOpt = Annotated[bool, typer.Option("--detach", help="Run inside tmux and return at once (survives SSH drops).")]
NoRollbackOpt = Annotated[bool, typer.Option("--no-rollback", help="Skip the configured rollback actions.")]
InstancesOpt = Annotated[int, typer.Option("--instances", help="Split the test over N k6 processes.")]
ScriptOpt = Annotated[Optional[Path], typer.Option("--script", help="Run this hand-written k6 script instead.")]
HostsOpt = Annotated[
    Optional[str],
    typer.Option("--hosts", help="Split the test over these load machines: user@h1,user@h2 (ssh + tmux, one k6 each)."),
]
RunArg = Annotated[Optional[str], typer.Argument(help="Run id (default: see the command's help).", show_default=False)]
ScenarioArg = Annotated[str, typer.Argument(help="Scenario name from perfctl.yaml.")]


def exit_with(code: int) -> None:
    """A command's return code becomes the exit code (orchestrator.cli.main turns it into one)."""
    raise typer.Exit(code)
