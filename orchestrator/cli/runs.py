"""Commands that run load or finish runs: run, run-<scenario>, attach, recover, rollback.

Each parses its options and delegates to orchestrator.commands.* (imported inside, for a fast start).
"""

from pathlib import Path
from typing import Annotated, Optional

import typer

from orchestrator.cli.options import (
    BaselineOpt, ConfigOpt, DetachOpt, DurationOpt, HostsOpt, InstancesOpt, JsonOpt, NoRollbackOpt, RateOpt,
    RequireBaselineOpt, ResultsOpt, RunArg, RunIdOpt, Runtime, RuntimeOpt, ScenarioArg, ScriptOpt, StageOpt, VusOpt,
    exit_with,
)


def _run(scenario: str, config: Optional[Path], **options) -> None:
    """Every run command ends here with its options as keywords (Typer names, e.g. no_rollback)."""
    from orchestrator.commands import run as command
    from orchestrator.config.durations import parse_duration
    from orchestrator.errors import UsageError
    from orchestrator.config.limits import MAX_COUNT, MAX_VUS
    from orchestrator.run.options import RunOptions
    from orchestrator.render.script import Overrides

    options["rollback"] = not options.pop("no_rollback")
    hosts = options.pop("hosts", None)
    if hosts is not None:
        from orchestrator.runtimes.ssh import parse_hosts

        options["hosts"] = parse_hosts(hosts)
    vus, duration, rate, stage = options.pop("vus"), options.pop("duration"), options.pop("rate"), options.pop("stage")
    if vus is not None and vus <= 0:
        raise UsageError("--vus: must be > 0")
    if vus is not None and vus > MAX_VUS:
        raise UsageError(f"--vus: must be at most {MAX_VUS:,}")
    if rate is not None and rate <= 0:
        raise UsageError("--rate: must be > 0")
    if rate is not None and rate > MAX_COUNT:
        raise UsageError(f"--rate: must be at most {MAX_COUNT:,}")
    if options["instances"] < 1:
        raise UsageError("--instances: must be >= 1")
    try:
        seconds = parse_duration(duration) if duration is not None else None
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None
    try:
        stages = tuple(_stage(text) for text in stage) if stage else None
    except ValueError as exc:
        raise UsageError(f"--stage: {exc}") from None
    if seconds is not None and seconds <= 0:
        raise UsageError("--duration: must be > 0")
    opts = RunOptions(
        scenario=scenario,
        config=config,
        overrides=Overrides(vus=vus, duration=seconds, rate=rate, stages=stages),
        runtime=options.pop("runtime").value,
        **options,
    )
    from orchestrator.interrupts import signals_interrupt

    with signals_interrupt():  # SIGTERM/SIGHUP outside k6 end the run like Ctrl-C: exit 130, cleaned up
        code = command.run(opts)
    exit_with(code)


def _stage(text: str) -> tuple[float, int]:
    """`30s:10` -> (30.0, 10)."""
    from orchestrator.config.durations import parse_duration

    from orchestrator.config.limits import MAX_VUS

    duration, sep, target = text.partition(":")
    if not sep or not target.strip().isdigit():
        raise ValueError(f"'{text}' is not DURATION:TARGET (e.g. 30s:10)")
    if int(target) > MAX_VUS:
        raise ValueError(f"'{text}': the target must be at most {MAX_VUS:,} VUs")
    return parse_duration(duration), int(target)


def run_cmd(
    scenario: ScenarioArg,
    config: ConfigOpt = None,
    runtime: RuntimeOpt = Runtime.local,
    vus: VusOpt = None,
    duration: DurationOpt = None,
    rate: RateOpt = None,
    stage: StageOpt = None,
    run_id: RunIdOpt = None,
    results: ResultsOpt = None,
    baseline: BaselineOpt = None,
    require_baseline: RequireBaselineOpt = False,
    detach: DetachOpt = False,
    no_rollback: NoRollbackOpt = False,
    instances: InstancesOpt = 1,
    script: ScriptOpt = None,
    json_output: JsonOpt = False,
    hosts: HostsOpt = None,
) -> None:
    """Health gate, k6, SLO gate, ledger, report. Exit 0 pass, 98 inconclusive, 99 fail."""
    options = dict(locals())
    _run(options.pop("scenario"), options.pop("config"), **options)


def named_run(scenario: str, doc: str):
    """`perfctl run-<scenario>`: `perfctl run <scenario>` without --script."""

    def command(
        config: ConfigOpt = None,
        runtime: RuntimeOpt = Runtime.local,
        vus: VusOpt = None,
        duration: DurationOpt = None,
        rate: RateOpt = None,
        stage: StageOpt = None,
        run_id: RunIdOpt = None,
        results: ResultsOpt = None,
        baseline: BaselineOpt = None,
        require_baseline: RequireBaselineOpt = False,
        detach: DetachOpt = False,
        no_rollback: NoRollbackOpt = False,
        instances: InstancesOpt = 1,
        json_output: JsonOpt = False,
        hosts: HostsOpt = None,
    ) -> None:
        options = {name: value for name, value in locals().items() if name != "scenario"}  # scenario: the closure's
        _run(scenario, options.pop("config"), **options)

    command.__doc__ = doc
    return command


run_websocket = named_run("websocket", "Run the `websocket` scenario (streamed chat over WebSocket).")
run_health = named_run("health", "Run the `health` scenario.")
run_comprehensive = named_run("comprehensive", "Run the `comprehensive` scenario (all parts at once).")


def attach(run_id: RunArg = None, config: ConfigOpt = None, results: ResultsOpt = None) -> None:
    """Attach to a detached run's tmux session (default: the latest running one)."""
    from orchestrator.commands import attach as command

    exit_with(command.attach(config, run_id, results=results))


def recover(
    run_id: RunArg = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for a k6 that still runs, then finish its run.")] = False,
    no_rollback: NoRollbackOpt = False,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Finish every unfinished run (default: all of them): verdict from the recorded window."""
    from orchestrator.commands import recover as command

    exit_with(command.recover(config, run_id, results=results, wait=wait, rollback=not no_rollback,
                              json_output=json_output))


def rollback_cmd(
    run_id: RunArg = None,
    purge: Annotated[bool, typer.Option("--purge", help="Also remove the data of a stack this run started.")] = False,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
) -> None:
    """Stop and remove what a run started (default: the latest run). Never deletes results."""
    from orchestrator.commands import rollback as command

    exit_with(command.rollback(config, run_id, results=results, purge=purge))
