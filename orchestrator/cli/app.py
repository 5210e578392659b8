"""The Typer app: every command and group, in the order `perfctl --help` lists them.

The commands themselves live by topic in runs.py, monitoring.py, results.py and project.py.
`make_app(only=NAME)` builds just the one command or group that argv names first: Typer reads
every registered command's signature on each start, and a run needs only its own (~15 ms).
"""

import importlib
from typing import Annotated, Optional

import typer

from orchestrator import __version__

# (command name, "module:function" in orchestrator/cli/), in `--help` order.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("init", "project:init"),
    ("validate", "project:validate"),
    ("render", "project:render"),
    ("schema", "project:schema"),
    ("run", "runs:run_cmd"),
    ("run-websocket", "runs:run_websocket"),
    ("run-health", "runs:run_health"),
    ("run-comprehensive", "runs:run_comprehensive"),
    ("start-monitoring", "monitoring:start_monitoring"),
    ("stop-monitoring", "monitoring:stop_monitoring"),
    ("dashboard-url", "monitoring:dashboard_url"),
    ("status", "monitoring:status"),
    ("prometheus-url", "monitoring:prometheus_url"),
    ("history", "results:history"),
    ("evaluate", "results:evaluate"),
    ("compare", "results:compare"),
    ("report", "results:report"),
    ("attach", "runs:attach"),
    ("recover", "runs:recover"),
    ("rollback", "runs:rollback_cmd"),
    ("clean", "project:clean"),
    ("doctor", "project:doctor"),
)
# (group name, "module:function returning its typer.Typer"); groups come after the commands in `--help`.
GROUPS: tuple[tuple[str, str], ...] = (
    ("demo", "monitoring:demo_group"),
    ("stack", "monitoring:stack_group"),
    ("baseline", "results:baseline_group"),
    ("ci", "project:ci_group"),
    ("k8s", "project:k8s_group"),
)
NAMES = frozenset(name for name, _ in COMMANDS + GROUPS)


def _version(value: bool) -> None:
    if value:
        print(f"perfctl {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Show the version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """perfctl: k6 orchestration and SLO validation."""


def make_app(only: Optional[str] = None, *, listing: bool = False) -> typer.Typer:
    """The perfctl app with every command, or with `only` that one (a name in NAMES).

    listing: for `perfctl` / `perfctl --help` only, which show each command's name and first
    help line and nothing of its options: every command stands in as a parameterless one with
    the same docstring, every group as an empty one with the same help (~10 ms less to build).
    """
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
    app.callback()(_root)
    for name, where in COMMANDS:
        if only in (None, name):
            app.command(name)(_stand_in(_load(where)) if listing else _load(where))
    for name, where in GROUPS:
        if only in (None, name):
            group = _load(where)()
            app.add_typer(typer.Typer(help=group.info.help) if listing else group, name=name)
    return app


def _stand_in(command):
    def stand_in() -> None:
        raise AssertionError("a listing's stand-in was invoked")  # main() builds them only for help

    stand_in.__doc__ = command.__doc__
    return stand_in


def _load(where: str):
    module, _, attribute = where.partition(":")
    return getattr(importlib.import_module(f"orchestrator.cli.{module}"), attribute)
