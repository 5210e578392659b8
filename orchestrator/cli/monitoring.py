"""Commands for the monitoring stack and the demo: start/stop-monitoring, status, the URLs,
`stack compose`, `demo` and `demo target`.

Each parses its options and delegates to orchestrator.commands.* (imported inside, for a fast start).
"""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from orchestrator.cli.options import ConfigOpt, JsonOpt, ResultsOpt, exit_with


class MonitoringRuntime(str, Enum):
    local = "local"
    docker = "docker"


MonitoringRuntimeOpt = Annotated[
    Optional[MonitoringRuntime],
    typer.Option("--runtime", help="A local Prometheus process, or containers (default: prometheus.runtime).",
                 show_default=False),
]


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

    exit_with(command.start(config, runtime=runtime.value if runtime else None, grafana=False if no_grafana else None,
                            bind=bind))


def stop_monitoring(
    config: ConfigOpt = None,
    runtime: MonitoringRuntimeOpt = None,
    purge: Annotated[bool, typer.Option("--purge", help="Also remove the data: local Prometheus's data directory; docker: the volumes and Grafana's password.")] = False,
) -> None:
    """Stop the stack perfctl started (its data is kept unless --purge)."""
    from orchestrator.commands import monitoring as command

    exit_with(command.stop(config, runtime=runtime.value if runtime else None, purge=purge))


def dashboard_url(
    run_id: Annotated[Optional[str], typer.Argument(help="Run id (default: the latest run).", show_default=False)] = None,
    config: ConfigOpt = None,
    results: ResultsOpt = None,
) -> None:
    """Print the Grafana link to a run's k6 dashboard (its test id and time range)."""
    from orchestrator.commands import monitoring as command

    exit_with(command.dashboard_url(config, run_id, results=results))


def status(config: ConfigOpt = None, json_output: JsonOpt = False) -> None:
    """The monitoring stack and the runs in progress."""
    from orchestrator.commands import monitoring as command

    exit_with(command.status(config, json_output=json_output))


def prometheus_url(config: ConfigOpt = None) -> None:
    """Print the Prometheus URL."""
    from orchestrator.commands import monitoring as command

    exit_with(command.prometheus_url(config))


def stack_compose(
    directory: Annotated[Path, typer.Option("--dir", help="Project root to write into.")] = Path("."),
) -> None:
    """Regenerate docker-compose.yml and monitoring/prometheus/prometheus.yml from the stack definition."""
    from orchestrator.commands import stack as command

    exit_with(command.compose(directory))


# ---- demo -----------------------------------------------------------------------------------

FaultOpt = Annotated[
    str, typer.Option("--fault", help="Inject a fault: none, latency, errors, loop-stall, lag.", show_default=True)
]


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

    exit_with(command.demo(fault=fault, duration=duration, results=results, json_output=json_output))


def demo_target(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8080,
    fault: FaultOpt = "none",
) -> None:
    """Only the reference backend, in the foreground (Ctrl-C stops it)."""
    from orchestrator.commands import demo as command

    exit_with(command.target(port=port, fault=fault))


def demo_group() -> typer.Typer:
    group = typer.Typer(
        help="The reference backend and a demo run, all on this machine.",
        invoke_without_command=True,
        rich_markup_mode=None,
    )
    group.callback()(demo)
    group.command("target")(demo_target)
    return group


def stack_group() -> typer.Typer:
    group = typer.Typer(help="The monitoring stack definition (orchestrator/monitoring/services.py).", no_args_is_help=True)
    group.command("compose")(stack_compose)
    return group
