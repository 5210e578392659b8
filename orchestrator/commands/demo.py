"""`perfctl demo`: the reference backend, Prometheus, a short HTTP + WebSocket run and the
verdict, all on 127.0.0.1. `perfctl demo target`: only the backend, in the foreground.

The demo works in ./perfctl-demo/: its perfctl.yaml (the `demo` example with this
machine's ports filled in), Prometheus' state and the results, so that afterwards
`perfctl history -c perfctl-demo/perfctl.yaml` and friends work on what it did.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from orchestrator import console
from orchestrator.commands.init import EXAMPLES
from orchestrator.run.execute import execute
from orchestrator.run.options import RunOptions
from orchestrator.run.prepare import prepare
from orchestrator.config.load import load_config
from orchestrator.config.durations import parse_duration
from orchestrator.errors import UsageError
from orchestrator.ledger.store import write_atomic
from orchestrator.monitoring.local import LocalPrometheus, LocalStack, running_process, state_dir
from orchestrator.netutil import preferred_port
from orchestrator.monitoring.readiness import wait_ready
from orchestrator.render.script import Overrides

WORKSPACE = Path("perfctl-demo")
DEMO_SCENARIO = "demo"


def target(*, port: int, fault: str) -> int:
    from orchestrator.demo.backend import BackendSettings, serve_forever

    settings = BackendSettings(port=port, fault=fault)

    def ready(url: str) -> None:
        console.info(f"reference backend on {url} (fault: {fault}); Ctrl-C stops it")

    serve_forever(settings, on_ready=ready)
    return 0


def demo(*, fault: str, duration: str, results: Path | None, json_output: bool, workspace: Path = WORKSPACE) -> int:
    from orchestrator.demo.backend import FAULTS, BackendSettings, RunningBackend

    if fault not in FAULTS:
        raise UsageError(f"--fault {fault}: not one of {', '.join(FAULTS)}")
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None
    if seconds < 5:
        raise UsageError("--duration: at least 5s, so the gate has a window to judge")

    config_path = _write_workspace_config(workspace)
    loaded = load_config(config_path)
    # Checked before anything starts: k6 found, scripts render and pass `k6 inspect`.
    prepared = prepare(loaded, DEMO_SCENARIO, Overrides(duration=seconds))
    if results is not None:
        from orchestrator.ledger.store import check_results_root

        check_results_root(results, source="--results", create=True)
    backend_port = int(loaded.config.target.base_url.rsplit(":", 1)[1])
    stack = LocalStack(loaded)  # the demo's own Prometheus process, whatever prometheus.runtime says elsewhere
    prometheus = stack.prometheus
    with RunningBackend(BackendSettings(port=backend_port, fault=fault)) as backend, _prometheus(prometheus):
        console.info(f"reference backend on {backend.url} (fault: {fault}); Prometheus on {prometheus.url_shown}")
        wait_ready(loaded.config, scenario=DEMO_SCENARIO, prom=stack.client())
        opts = RunOptions(scenario=DEMO_SCENARIO, config=config_path, overrides=Overrides(duration=seconds),
                          results=results, json_output=json_output, tags={"fault": fault})
        code = execute(prepared, opts, stack=stack)
    console.info(f"the demo's config, Prometheus data and results are in {workspace}/ "
                 f"(try `perfctl history -c {config_path}`)")
    return code


def _write_workspace_config(workspace: Path) -> Path:
    """The demo example with free loopback ports filled in, reusing Prometheus' if it runs."""
    config_path = workspace / "perfctl.yaml"
    previous = _previous_ports(config_path) if running_process(state_dir(config_path) / "prometheus") else None
    return write_demo_config(
        workspace, backend_port=preferred_port(8080), prometheus_port=previous[1] if previous else preferred_port(9090)
    )


def write_demo_config(workspace: Path, *, backend_port: int, prometheus_port: int, example: str = "demo") -> Path:
    """An example's perfctl.yaml with concrete loopback ports, as `<workspace>/perfctl.yaml`."""
    workspace.mkdir(parents=True, exist_ok=True)
    text = (EXAMPLES / example / "perfctl.yaml").read_text(encoding="utf-8")
    text = text.replace("${DEMO_TARGET:-127.0.0.1:8080}", f"127.0.0.1:{backend_port}")
    text = text.replace("${PROMETHEUS_URL:-http://127.0.0.1:9090}", f"http://127.0.0.1:{prometheus_port}")
    header = f"# Written by perfctl from the `{example}` example, with this machine's free ports.\n"
    config_path = workspace / "perfctl.yaml"
    write_atomic(config_path, header + text)
    return config_path


def _previous_ports(config_path: Path) -> tuple[int, int] | None:
    try:
        config = load_config(config_path).config
    except Exception:  # a damaged workspace config is simply rewritten
        return None
    return int(config.target.base_url.rsplit(":", 1)[1]), int(config.prometheus.url.rsplit(":", 1)[1])


@contextlib.contextmanager
def _prometheus(prometheus: LocalPrometheus):
    """Prometheus for the demo; stopped afterwards if the demo started it (its data stays)."""
    started = prometheus.ensure()
    try:
        yield prometheus
    finally:
        if started:
            prometheus.stop()
