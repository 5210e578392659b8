"""Commands that prepare and look after a project: init, validate, render, schema, clean, doctor,
`ci init/annotate` and `k8s render`.

Each parses its options and delegates to orchestrator.commands.* (imported inside, for a fast start).
"""

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from orchestrator.cli.options import (
    ConfigOpt, DurationOpt, JsonOpt, ResultsOpt, RunIdOpt, ScenarioArg, VusOpt, exit_with,
)


def init(
    example: Annotated[Optional[str], typer.Option("--example", help="Start from an example: demo, ...")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write.")] = Path("perfctl.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter perfctl.yaml."""
    from orchestrator.commands import init as command

    exit_with(command.init(example=example, output=output, force=force))


def validate(config: ConfigOpt = None) -> None:
    """Check the config, render every scenario and `k6 inspect` it. Sends no load."""
    from orchestrator.commands import validate as command

    exit_with(command.validate(config))


def render(
    scenario: ScenarioArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Folder for SCENARIO.js, or the script's own name (NAME.js).")
    ] = Path("k6-scripts"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing script.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Write the k6 script of a scenario (runnable with plain `k6 run`)."""
    from orchestrator.commands import render as command

    exit_with(command.render(config, scenario, output, force=force))


def schema() -> None:
    """Print the JSON Schema of perfctl.yaml (for editor completion)."""
    from orchestrator.config.schema import dump_schema

    sys.stdout.write(dump_schema())


def clean(
    config: ConfigOpt = None,
    results: ResultsOpt = None,
    everything: Annotated[bool, typer.Option("--all", help="Also the leftovers of other folders' runs (every perfctl tmux socket and k6 container of this user).")] = False,
) -> None:
    """Remove leftovers of this config's runs that are over: ended tmux sessions, stale pid and temp files."""
    from orchestrator.commands import clean as command

    exit_with(command.clean(config, results=results, everything=everything))


def doctor(config: ConfigOpt = None, json_output: JsonOpt = False) -> None:
    """Check k6, Prometheus, the target, tmux and a Docker API; say how to fix each."""
    from orchestrator.commands import doctor as command

    exit_with(command.doctor(config, json_output=json_output))


# ---- ci and k8s (scheduled CI jobs; k6-operator manifests) ----------------------------------


class CiProvider(str, Enum):
    github = "github"
    gitlab = "gitlab"


def ci_init(
    provider: Annotated[CiProvider, typer.Option("--provider", help="github: .github/workflows/perfctl.yml; gitlab: .gitlab-ci.yml.")],
    cron: Annotated[str, typer.Option("--cron", help="When the weekly job runs (cron, UTC).")] = "0 3 * * 1",
    scenario: Annotated[
        Optional[list[str]], typer.Option("--scenario", help="Scenarios in order, smoke first (repeat; default: a smoke-like one, then the main one, from the config).")
    ] = None,
    directory: Annotated[Path, typer.Option("-d", "--dir", help="Repository root to write into.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing CI file.")] = False,
    config: ConfigOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Write a CI job: weekly + on demand, smoke then main, JUnit, summary, artifact; fails on 98/99."""
    from orchestrator.commands import ci as command

    exit_with(command.init(provider=provider.value, cron=cron, scenarios=scenario, config=config, root=directory,
                           force=force, json_output=json_output))


def ci_annotate(
    results: Annotated[Path, typer.Argument(help="Results folder with <run-id>/junit.xml.")],
    scenario: Annotated[Optional[str], typer.Option("--scenario", help="Only this scenario's runs.")] = None,
) -> None:
    """Print GitHub annotations (::error/::warning) for failed, inconclusive or warning objectives."""
    from orchestrator.commands import ci as command

    exit_with(command.annotate(results, scenario=scenario))


def k8s_render(
    scenario: ScenarioArg,
    parallelism: Annotated[Optional[int], typer.Option("--parallelism", help="k6 runner pods (default: k8s.parallelism).")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Directory for the manifests.")] = Path("k8s"),
    separate: Annotated[
        Optional[bool], typer.Option("--separate/--no-separate", help="One runner pod per node (default: k8s.separate).")
    ] = None,
    cleanup: Annotated[
        Optional[str], typer.Option("--cleanup", help="post: delete the TestRun's pods when it ends; none: keep them (default: k8s.cleanup).")
    ] = None,
    run_id: RunIdOpt = None,
    vus: VusOpt = None,
    duration: DurationOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing manifests.")] = False,
    config: ConfigOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Write a ConfigMap with the k6 script and a TestRun (k6.io/v1alpha1) that runs it."""
    from orchestrator.commands import k8s as command
    from orchestrator.config.durations import parse_duration
    from orchestrator.errors import UsageError
    from orchestrator.render.script import Overrides

    from orchestrator.config.limits import MAX_VUS

    try:
        seconds = parse_duration(duration) if duration is not None else None
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None
    if seconds is not None and seconds <= 0:
        raise UsageError("--duration: must be > 0")
    if vus is not None and not 0 < vus <= MAX_VUS:
        raise UsageError(f"--vus: must be 1-{MAX_VUS:,}")
    exit_with(command.render(config, scenario, output=output, parallelism=parallelism, separate=separate,
                             cleanup=cleanup, run_id=run_id, overrides=Overrides(vus=vus, duration=seconds),
                             force=force, json_output=json_output))


def ci_group() -> typer.Typer:
    group = typer.Typer(help="Scheduled CI jobs that run perfctl and gate on its verdict.", no_args_is_help=True)
    group.command("init")(ci_init)
    group.command("annotate")(ci_annotate)
    return group


def k8s_group() -> typer.Typer:
    group = typer.Typer(help="k6-operator on Kubernetes: TestRun manifests.", no_args_is_help=True)
    group.command("render")(k8s_render)
    return group
