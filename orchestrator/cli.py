"""The `perfctl` command line: Typer functions parse options and delegate to
`orchestrator.commands.*`; `main` maps errors to exit codes in one place.

Command modules are imported inside each function so `perfctl --help` stays fast.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from orchestrator import __version__
from orchestrator.runtimes import CHOICES as RUNTIME_CHOICES

app = typer.Typer(
    name="perfctl",
    help="Describe load tests once, run them with real k6, and gate on Prometheus SLOs.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    # Plain help: Rich would add ~150 ms to every `perfctl --help`.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
demo_app = typer.Typer(
    help="The reference backend and a demo run, all on this machine.",
    invoke_without_command=True,
    rich_markup_mode=None,
)
app.add_typer(demo_app, name="demo")

ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("-c", "--config", help="perfctl.yaml to use.", envvar="PERFCTL_CONFIG", show_default="perfctl.yaml"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.", envvar="PERFCTL_JSON")]


# The registry's names (orchestrator/runtimes/__init__.py imports nothing: --help stays fast).
Runtime = Enum("Runtime", {name: name for name in RUNTIME_CHOICES}, type=str)


def _version(value: bool) -> None:
    if value:
        print(f"perfctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Show the version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """perfctl: k6 orchestration and SLO validation."""


# ---- config ---------------------------------------------------------------------------------


@app.command()
def init(
    example: Annotated[Optional[str], typer.Option("--example", help="Start from an example: demo, ...")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write.")] = Path("perfctl.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter perfctl.yaml."""
    from orchestrator.commands import init as command

    _exit(command.init(example=example, output=output, force=force))


@app.command()
def validate(config: ConfigOpt = None) -> None:
    """Check the config, render every scenario and `k6 inspect` it. Sends no load."""
    from orchestrator.commands import validate as command

    _exit(command.validate(config))


@app.command()
def render(
    scenario: Annotated[str, typer.Argument(help="Scenario name from perfctl.yaml.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Folder for SCENARIO.js, or the script's own name (NAME.js).")
    ] = Path("k6-scripts"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing script.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Write the k6 script of a scenario (runnable with plain `k6 run`)."""
    from orchestrator.commands import render as command

    _exit(command.render(config, scenario, output, force=force))


@app.command()
def schema() -> None:
    """Print the JSON Schema of perfctl.yaml (for editor completion)."""
    from orchestrator.config.schema import dump_schema

    sys.stdout.write(dump_schema())


# ---- runs -----------------------------------------------------------------------------------


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
    from orchestrator.run.interrupts import signals_interrupt

    with signals_interrupt():  # SIGTERM/SIGHUP outside k6 end the run like Ctrl-C: exit 130, cleaned up
        code = command.run(opts)
    _exit(code)


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


@app.command("run")
def run_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario name from perfctl.yaml.")],
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


def _named_run(scenario: str, doc: str):
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


app.command("run-websocket")(_named_run("websocket", "Run the `websocket` scenario (streamed chat over WebSocket)."))
app.command("run-health")(_named_run("health", "Run the `health` scenario."))
app.command("run-comprehensive")(_named_run("comprehensive", "Run the `comprehensive` scenario (all parts at once)."))


# ---- demo -----------------------------------------------------------------------------------

FaultOpt = Annotated[
    str, typer.Option("--fault", help="Inject a fault: none, latency, errors, loop-stall, lag.", show_default=True)
]


@demo_app.callback()
def demo(
    ctx: typer.Context,
    fault: FaultOpt = "none",
    duration: Annotated[str, typer.Option("--duration", help="Length of the demo run.")] = "20s",
    results: ResultsOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Reference backend + Prometheus + a short HTTP and WebSocket run + verdict, on 127.0.0.1."""
    if ctx.invoked_subcommand is not None:
        return
    from orchestrator.commands import demo as command

    _exit(command.demo(fault=fault, duration=duration, results=results, json_output=json_output))


@demo_app.command("target")
def demo_target(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8080,
    fault: FaultOpt = "none",
) -> None:
    """Only the reference backend, in the foreground (Ctrl-C stops it)."""
    from orchestrator.commands import demo as command

    _exit(command.target(port=port, fault=fault))


# ---- monitoring -----------------------------------------------------------------------------


class MonitoringRuntime(str, Enum):
    local = "local"
    docker = "docker"


MonitoringRuntimeOpt = Annotated[
    Optional[MonitoringRuntime],
    typer.Option("--runtime", help="A local Prometheus process, or containers (default: prometheus.runtime).",
                 show_default=False),
]


@app.command("start-monitoring")
def start_monitoring(
    config: ConfigOpt = None,
    runtime: MonitoringRuntimeOpt = None,
    no_grafana: Annotated[bool, typer.Option("--no-grafana", help="docker: start Prometheus only.")] = False,
    bind: Annotated[
        str, typer.Option("--bind", help="docker: listen address; anything but 127.0.0.1 is reachable from outside.")
    ] = "127.0.0.1",
) -> None:
    """Start what is missing of the stack (Prometheus, and Grafana with docker); idempotent."""
    from orchestrator.commands import monitoring as command

    _exit(command.start(config, runtime=runtime.value if runtime else None, grafana=False if no_grafana else None,
                        bind=bind))


@app.command("stop-monitoring")
def stop_monitoring(
    config: ConfigOpt = None,
    runtime: MonitoringRuntimeOpt = None,
    purge: Annotated[bool, typer.Option("--purge", help="Also remove the data: local Prometheus's data directory; docker: the volumes and Grafana's password.")] = False,
) -> None:
    """Stop the stack perfctl started (its data is kept unless --purge)."""
    from orchestrator.commands import monitoring as command

    _exit(command.stop(config, runtime=runtime.value if runtime else None, purge=purge))


@app.command("dashboard-url")
def dashboard_url(
    run_id: Annotated[Optional[str], typer.Argument(help="Run id (default: the latest run).", show_default=False)] = None,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
) -> None:
    """Print the Grafana link to a run's k6 dashboard (its test id and time range)."""
    from orchestrator.commands import monitoring as command

    _exit(command.dashboard_url(config, run_id, results=results))


stack_app = typer.Typer(help="The monitoring stack definition (orchestrator/monitoring/services.py).", no_args_is_help=True)
app.add_typer(stack_app, name="stack")


@stack_app.command("compose")
def stack_compose(
    directory: Annotated[Path, typer.Option("--dir", help="Project root to write into.")] = Path("."),
) -> None:
    """Regenerate docker-compose.yml and monitoring/prometheus/prometheus.yml from the stack definition."""
    from orchestrator.commands import stack as command

    _exit(command.compose(directory))


@app.command()
def status(config: ConfigOpt = None, json_output: JsonOpt = False) -> None:
    """The monitoring stack and the runs in progress."""
    from orchestrator.commands import monitoring as command

    _exit(command.status(config, json_output=json_output))


@app.command("prometheus-url")
def prometheus_url(config: ConfigOpt = None) -> None:
    """Print the Prometheus URL."""
    from orchestrator.commands import monitoring as command

    _exit(command.prometheus_url(config))


# ---- ledger ---------------------------------------------------------------------------------


@app.command()
def history(
    scenario: Annotated[Optional[str], typer.Option("--scenario", help="Only this scenario.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Show the last N runs.")] = 20,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """List runs with their result and key numbers."""
    from orchestrator.commands import history as command

    _exit(command.history(config, results=results, scenario=scenario, limit=limit, json_output=json_output))


@app.command()
def evaluate(
    run_id: Annotated[str, typer.Argument(help="Run id (see `perfctl history`).")],
    config: ConfigOpt = None,
    results: ResultsOpt = None,
    json_output: JsonOpt = False,
    baseline: BaselineOpt = None,
) -> None:
    """Re-run the gate for a finished run; the new verdict is kept beside the old one."""
    from orchestrator.commands import evaluate as command

    _exit(command.evaluate(config, run_id, results=results, json_output=json_output, baseline=baseline))


@app.command()
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

    _exit(command.compare(config, run_a, run_b, results=results, tolerance=tolerance, json_output=json_output,
                          fail_on_regression=fail_on_regression, duration_floor=duration_floor,
                          ratio_floor=ratio_floor, count_floor=count_floor, html=html))


baseline_app = typer.Typer(
    help="The baseline pinned per scenario: relative criteria (<= +10%) are judged against it by default.",
    no_args_is_help=True, rich_markup_mode=None,
)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("pin")
def baseline_pin(
    run_id: Annotated[str, typer.Argument(help="The run whose values become its scenario's baseline.")],
    force: Annotated[bool, typer.Option("--force", help="Pin it even though its verdict is not pass.")] = False,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
) -> None:
    """Pin RUN as the baseline of its scenario (runs of it use it unless --baseline says otherwise)."""
    from orchestrator.commands import baseline as command

    _exit(command.pin(config, run_id, results=results, force=force))


@baseline_app.command("unpin")
def baseline_unpin(
    scenario: Annotated[Optional[str], typer.Argument(help="Scenario (default: the only one pinned).", show_default=False)] = None,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
) -> None:
    """Forget the pinned baseline of SCENARIO (the run itself stays)."""
    from orchestrator.commands import baseline as command

    _exit(command.unpin(config, scenario, results=results))


@baseline_app.command("show")
def baseline_show(
    config: ConfigOpt = None,
    results: ResultsOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """List the pinned baselines: scenario, run, its verdict, when it was pinned."""
    from orchestrator.commands import baseline as command

    _exit(command.show(config, results=results, json_output=json_output))


class ReportFormat(str, Enum):
    html = "html"
    md = "md"
    junit = "junit"
    json = "json"


@app.command()
def report(
    run_id: Annotated[str, typer.Argument(help="Run id (see `perfctl history`).")],
    fmt: Annotated[ReportFormat, typer.Option("--format", help="html, md, junit or json (verdict.json).")] = ReportFormat.md,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write to this file instead of stdout.")] = None,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
) -> None:
    """A run's report (its latest verdict) in one format, printed or written."""
    from orchestrator.commands import report as command

    _exit(command.report_cmd(config, run_id, fmt=fmt.value, output=output, results=results))


# ---- operations: detached runs, recover, rollback, clean ------------------------------------

RunArg = Annotated[Optional[str], typer.Argument(help="Run id (default: see the command's help).", show_default=False)]


@app.command()
def attach(run_id: RunArg = None, config: ConfigOpt = None, results: ResultsOpt = None) -> None:
    """Attach to a detached run's tmux session (default: the latest running one)."""
    from orchestrator.commands import attach as command

    _exit(command.attach(config, run_id, results=results))


@app.command()
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

    _exit(command.recover(config, run_id, results=results, wait=wait, rollback=not no_rollback,
                          json_output=json_output))


@app.command("rollback")
def rollback_cmd(
    run_id: RunArg = None,
    purge: Annotated[bool, typer.Option("--purge", help="Also remove the data of a stack this run started.")] = False,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
) -> None:
    """Stop and remove what a run started (default: the latest run). Never deletes results."""
    from orchestrator.commands import rollback as command

    _exit(command.rollback(config, run_id, results=results, purge=purge))


@app.command()
def clean(
    config: ConfigOpt = None,
    results: ResultsOpt = None,
    everything: Annotated[bool, typer.Option("--all", help="Also the leftovers of other folders' runs (every perfctl tmux socket and k6 container of this user).")] = False,
) -> None:
    """Remove leftovers of this config's runs that are over: ended tmux sessions, stale pid and temp files."""
    from orchestrator.commands import clean as command

    _exit(command.clean(config, results=results, everything=everything))


# ---- ci and k8s (scheduled CI jobs; k6-operator manifests) ----------------------------------

ci_app = typer.Typer(help="Scheduled CI jobs that run perfctl and gate on its verdict.", no_args_is_help=True)
app.add_typer(ci_app, name="ci")


class CiProvider(str, Enum):
    github = "github"
    gitlab = "gitlab"


@ci_app.command("init")
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

    _exit(command.init(provider=provider.value, cron=cron, scenarios=scenario, config=config, root=directory,
                       force=force, json_output=json_output))


@ci_app.command("annotate")
def ci_annotate(
    results: Annotated[Path, typer.Argument(help="Results folder with <run-id>/junit.xml.")],
    scenario: Annotated[Optional[str], typer.Option("--scenario", help="Only this scenario's runs.")] = None,
) -> None:
    """Print GitHub annotations (::error/::warning) for failed, inconclusive or warning objectives."""
    from orchestrator.commands import ci as command

    _exit(command.annotate(results, scenario=scenario))


k8s_app = typer.Typer(help="k6-operator on Kubernetes: TestRun manifests.", no_args_is_help=True)
app.add_typer(k8s_app, name="k8s")


@k8s_app.command("render")
def k8s_render(
    scenario: Annotated[str, typer.Argument(help="Scenario name from perfctl.yaml.")],
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
    _exit(command.render(config, scenario, output=output, parallelism=parallelism, separate=separate,
                         cleanup=cleanup, run_id=run_id, overrides=Overrides(vus=vus, duration=seconds),
                         force=force, json_output=json_output))


@app.command()
def doctor(config: ConfigOpt = None, json_output: JsonOpt = False) -> None:
    """Check k6, Prometheus, the target, tmux and a Docker API; say how to fix each."""
    from orchestrator.commands import doctor as command

    _exit(command.doctor(config, json_output=json_output))


# ---- the one place errors become exit codes -------------------------------------------------


def _exit(code: int) -> None:
    raise typer.Exit(code)


def main(argv: list[str] | None = None) -> None:
    import errno

    from orchestrator.errors import ExitCode, PerfctlError
    from orchestrator.secret_mask import install_console

    install_console()  # every line perfctl prints has its secret values masked

    try:
        # prog_name: `python -m orchestrator` completes (and names itself) as the perfctl it is.
        code = app(args=argv, prog_name="perfctl", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except PerfctlError as exc:
        print(exc.render(), file=sys.stderr)
        sys.exit(int(exc.exit_code))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("perfctl: aborted", file=sys.stderr)
        sys.exit(int(ExitCode.INTERRUPTED))
    except KeyboardInterrupt:
        print("perfctl: interrupted (a run left unfinished is finished by `perfctl recover`)", file=sys.stderr)
        sys.exit(int(ExitCode.INTERRUPTED))
    except _click_usage_errors() as exc:
        exc.show()
        sys.exit(int(ExitCode.USAGE))
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            _internal_error(exc)
        # A full disk anywhere perfctl writes (the ledger's writes say so themselves).
        print(f"perfctl: no space left on {exc.filename or 'the disk'}", file=sys.stderr)
        sys.exit(int(ExitCode.ENVIRONMENT))
    except Exception as exc:  # a bug: short message, traceback in a log file
        _internal_error(exc)


def _internal_error(exc: BaseException) -> None:
    from orchestrator.errors import ExitCode

    log = _write_crash_log()
    print(f"perfctl: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(f"  this is a bug in perfctl; the traceback is in {log}", file=sys.stderr)
    sys.exit(int(ExitCode.BUG))


def _click_usage_errors():
    # Typer vendors click in new versions; take whatever it uses.
    try:
        from typer._click.exceptions import ClickException
    except ImportError:  # pragma: no cover - older Typer
        from click.exceptions import ClickException
    return ClickException


def _write_crash_log() -> str:
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="perfctl-crash-", suffix=".log")
    with open(fd, "w") as fh:
        traceback.print_exc(file=fh)
    return path
