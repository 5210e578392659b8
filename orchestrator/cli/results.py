"""Commands over recorded runs: history, evaluate, compare, report, and `baseline pin/unpin/show`.

Each parses its options and delegates to orchestrator.commands.* (imported inside, for a fast start).
"""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from orchestrator.cli.options import BaselineOpt, ConfigOpt, JsonOpt, ResultsOpt, exit_with

RunIdArg = Annotated[str, typer.Argument(help="Run id (see `perfctl history`).")]


def history(
    scenario: Annotated[Optional[str], typer.Option("--scenario", help="Only this scenario.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Show the last N runs.")] = 20,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """List runs with their result and key numbers."""
    from orchestrator.commands import history as command

    exit_with(command.history(config, results=results, scenario=scenario, limit=limit, json_output=json_output))


def evaluate(
    run_id: RunIdArg,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
    json_output: JsonOpt = False,
    baseline: BaselineOpt = None,
) -> None:
    """Re-run the gate for a finished run; the new verdict is kept beside the old one."""
    from orchestrator.commands import evaluate as command

    exit_with(command.evaluate(config, run_id, results=results, json_output=json_output, baseline=baseline))


def compare(
    run_a: Annotated[str, typer.Argument(help="The earlier run (the reference).")],
    run_b: Annotated[str, typer.Argument(help="The later run (compared against A).")],
    tolerance: Annotated[
        Optional[float], typer.Option("--tolerance", help="Changes beyond this % (and the floor) count; default gate.compare: 5.",
                                      show_default=False)
    ] = None,
    duration_floor: Annotated[
        Optional[float], typer.Option("--duration-floor", help="ms: smaller changes of a duration are noise (default 1).",
                                      show_default=False)
    ] = None,
    ratio_floor: Annotated[
        Optional[float], typer.Option("--ratio-floor", help="Percentage points: smaller changes of a ratio are noise (default 0.1).",
                                      show_default=False)
    ] = None,
    count_floor: Annotated[
        Optional[float], typer.Option("--count-floor", help="Smaller changes of a count or rate are noise (default 1).",
                                      show_default=False)
    ] = None,
    fail_on_regression: Annotated[bool, typer.Option("--fail-on-regression", help="Exit 99 when any regression is found.")] = False,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also write the side by side as one HTML page.")] = None,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Two runs side by side: every objective and k6 summary metric, deltas, regressions and noise (~) marked."""
    from orchestrator.commands import compare as command

    exit_with(command.compare(config, run_a, run_b, results=results, tolerance=tolerance, json_output=json_output,
                              fail_on_regression=fail_on_regression, duration_floor=duration_floor,
                              ratio_floor=ratio_floor, count_floor=count_floor, html=html))


class ReportFormat(str, Enum):
    html = "html"
    md = "md"
    junit = "junit"
    json = "json"


def report(
    run_id: RunIdArg,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="html, md, junit or json (verdict.json).")] = ReportFormat.md,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write to this file instead of stdout.")] = None,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
) -> None:
    """A run's report (its latest verdict) in one format, printed or written."""
    from orchestrator.commands import report as command

    exit_with(command.report_cmd(config, run_id, fmt=fmt.value, output=output, results=results))


# ---- baseline -------------------------------------------------------------------------------


def baseline_pin(
    run_id: Annotated[str, typer.Argument(help="The run whose values become its scenario's baseline.")],
    force: Annotated[bool, typer.Option("--force", help="Pin it even though its verdict is not pass.")] = False,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
) -> None:
    """Pin RUN as the baseline of its scenario (runs of it use it unless --baseline says otherwise)."""
    from orchestrator.commands import baseline as command

    exit_with(command.pin(config, run_id, results=results, force=force))


def baseline_unpin(
    scenario: Annotated[Optional[str], typer.Argument(help="Scenario (default: the only one pinned).", show_default=False)] = None,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
) -> None:
    """Forget the pinned baseline of SCENARIO (the run itself stays)."""
    from orchestrator.commands import baseline as command

    exit_with(command.unpin(config, scenario, results=results))


def baseline_show(
    config: ConfigOpt = None,
    results: ResultsOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """List the pinned baselines: scenario, run, its verdict, when it was pinned."""
    from orchestrator.commands import baseline as command

    exit_with(command.show(config, results=results, json_output=json_output))


def baseline_group() -> typer.Typer:
    group = typer.Typer(
        help="The baseline pinned per scenario: relative criteria (<= +10%) are judged against it by default.",
        no_args_is_help=True, rich_markup_mode=None,
    )
    group.command("pin")(baseline_pin)
    group.command("unpin")(baseline_unpin)
    group.command("show")(baseline_show)
    return group
