"""The Typer app: every command and group registered here, in the order `perfctl --help` lists them.

The commands themselves live by topic in runs.py, monitoring.py, results.py and project.py.
"""

from typing import Annotated

import typer

from orchestrator import __version__
from orchestrator.cli import monitoring, project, results, runs

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


app.command()(project.init)
app.command()(project.validate)
app.command()(project.render)
app.command()(project.schema)

app.command("run")(runs.run_cmd)
app.command("run-websocket")(runs.named_run("websocket", "Run the `websocket` scenario (streamed chat over WebSocket)."))
app.command("run-health")(runs.named_run("health", "Run the `health` scenario."))
app.command("run-comprehensive")(runs.named_run("comprehensive", "Run the `comprehensive` scenario (all parts at once)."))

app.command("start-monitoring")(monitoring.start_monitoring)
app.command("stop-monitoring")(monitoring.stop_monitoring)
app.command("dashboard-url")(monitoring.dashboard_url)
app.command()(monitoring.status)
app.command("prometheus-url")(monitoring.prometheus_url)

app.command()(results.history)
app.command()(results.evaluate)
app.command()(results.compare)
app.command()(results.report)

app.command()(runs.attach)
app.command()(runs.recover)
app.command("rollback")(runs.rollback_cmd)
app.command()(project.clean)
app.command()(project.doctor)

# Groups come after the commands in `--help`, in the order they are added.
demo_app = typer.Typer(
    help="The reference backend and a demo run, all on this machine.",
    invoke_without_command=True,
    rich_markup_mode=None,
)
demo_app.callback()(monitoring.demo)
demo_app.command("target")(monitoring.demo_target)
app.add_typer(demo_app, name="demo")

stack_app = typer.Typer(help="The monitoring stack definition (orchestrator/monitoring/services.py).", no_args_is_help=True)
stack_app.command("compose")(monitoring.stack_compose)
app.add_typer(stack_app, name="stack")

baseline_app = typer.Typer(
    help="The baseline pinned per scenario: relative criteria (<= +10%) are judged against it by default.",
    no_args_is_help=True, rich_markup_mode=None,
)
baseline_app.command("pin")(results.baseline_pin)
baseline_app.command("unpin")(results.baseline_unpin)
baseline_app.command("show")(results.baseline_show)
app.add_typer(baseline_app, name="baseline")

ci_app = typer.Typer(help="Scheduled CI jobs that run perfctl and gate on its verdict.", no_args_is_help=True)
ci_app.command("init")(project.ci_init)
ci_app.command("annotate")(project.ci_annotate)
app.add_typer(ci_app, name="ci")

k8s_app = typer.Typer(help="k6-operator on Kubernetes: TestRun manifests.", no_args_is_help=True)
k8s_app.command("render")(project.k8s_render)
app.add_typer(k8s_app, name="k8s")
