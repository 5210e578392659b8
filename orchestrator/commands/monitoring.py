"""`perfctl start-monitoring` / `stop-monitoring` / `status` / `prometheus-url`."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator import console
from orchestrator.config.env import redact_url
from orchestrator.config.load import load_config
from orchestrator.ledger.store import Ledger, results_root
from orchestrator.monitoring import grafana as grafana_module
from orchestrator.errors import EnvironmentProblem
from orchestrator.monitoring.local import state_dir
from orchestrator.monitoring.readiness import wait_ready
from orchestrator.monitoring.select import for_config
from orchestrator.run.runstate import run_states


def start(config_path: Path | None, *, runtime: str | None = None, grafana: bool | None = None,
          bind: str = "127.0.0.1") -> int:
    loaded = load_config(config_path)
    stack = for_config(loaded, runtime=runtime, grafana=grafana, bind=bind)
    if stack.kind == "docker":
        return _start_docker(loaded, stack)
    prometheus = stack.prometheus
    started = stack.ensure()
    console.info(("started" if started else "already running:") + f" Prometheus at {prometheus.url_shown}")
    _wait_scraped(loaded, stack)
    console.info("Grafana: not available as a local process; use --runtime docker, or k6's web dashboard "
                 "(K6_WEB_DASHBOARD=true; its report is saved as dashboard.html in the run's folder)")
    print(prometheus.url_shown)
    return 0


def _start_docker(loaded, stack) -> int:
    """The whole container stack: Prometheus, and Grafana unless it is off."""
    started = stack.start_services()
    for state in stack.states():
        if state.status == "missing":
            continue
        verb = "started" if state.name in started else "already running:"
        console.info(f"{verb} {state.name} at {redact_url(state.url)} (container {state.container})")
    if stack.grafana_enabled:
        console.info(f"Grafana admin password: {grafana_module.password_file(stack.state)} (mode 0600); "
                     "`perfctl dashboard-url` links to a run's dashboard")
    else:
        console.info("Grafana: off (--no-grafana or grafana.enabled: false)")
    _wait_scraped(loaded, stack)
    print(redact_url(stack.prometheus_url))
    if stack.grafana_enabled:
        print(redact_url(stack.grafana_url))
    return 0


def _wait_scraped(loaded, stack) -> None:
    """Returns once every scrape job is scraped, so a run right after has its data from the start."""
    try:
        wait_ready(loaded.config, prom=stack.client())
    except EnvironmentProblem as exc:
        exc.lines.append(f"Prometheus itself runs at {stack.url} (`perfctl stop-monitoring` ends it)")
        raise


def stop(config_path: Path | None, *, runtime: str | None = None, purge: bool = False) -> int:
    loaded = load_config(config_path)
    stack = for_config(loaded, runtime=runtime)
    stopped = stack.stop(purge=purge)
    if stack.kind == "docker":  # how each kind says it: containers and volumes, or a process and its folder
        for name in stopped.removed:
            console.info(f"removed {name}")
        if not stopped:
            console.info("no container of this config's stack was there")
        if not purge:
            console.info("the data volumes are kept (--purge removes them)")
        return 0
    data = stack.prometheus.home / "data"
    if stopped:
        console.info(f"stopped {stopped.removed[0]}" + ("" if purge else f"; its data is kept in {data}"))
    else:
        console.info("no Prometheus started by perfctl is running for this config")
    if stopped.data is not None:
        console.info(f"removed its data ({stopped.data})")
    return 0


def dashboard_url(config_path: Path | None, run_id: str | None, *, results: Path | None = None) -> int:
    """The k6 dashboard of a run (default: the latest), filtered by its test id and time range.
    A link to a Grafana that does not answer helps nobody: that is exit 3, with where else to look."""
    loaded = load_config(config_path)
    ledger = Ledger(results_root(loaded, results))
    run = ledger.get(run_id) if run_id is not None else ledger.latest()
    record = run.record() if run else None
    grafana_url = loaded.config.grafana.url
    if not grafana_module.answers(grafana_url):
        raise EnvironmentProblem(f"no Grafana answers at {redact_url(grafana_url)}", hint=_without_grafana_hint(run))
    testid = record.id if record else None
    start = int(record.start * 1000) - 5000 if record and record.start else None
    end = int(record.end * 1000) + 5000 if record and record.end else None
    print(redact_url(grafana_module.dashboard_url(grafana_url, testid=testid, start_ms=start, end_ms=end)))
    if testid is None:
        console.info("no run in the ledger yet: the link shows the last hour")
    password = grafana_module.password_file(state_dir(loaded.path))
    if password.exists():
        console.info(f"Grafana login: admin, password in {password}")
    return 0


def _without_grafana_hint(run) -> str:
    """Where to look when there is no Grafana: k6's own dashboard export, or how to start one."""
    start = "start Grafana with `perfctl start-monitoring --runtime docker`"
    export = run.file("dashboard.html") if run is not None else None
    if export is not None and export.exists():
        return f"this run's k6 dashboard report is {export}; or {start}"
    return (f"{start}, or run with K6_WEB_DASHBOARD=true to get k6's own dashboard report "
            "(dashboard.html in the run's folder)")


def prometheus_url(config_path: Path | None) -> int:
    print(redact_url(load_config(config_path).config.prometheus.url.rstrip("/")))
    return 0


def status(config_path: Path | None, *, json_output: bool) -> int:
    loaded = load_config(config_path)
    stack = for_config(loaded).status()
    runs = run_states(Ledger(results_root(loaded, None)))
    state = {
        "prometheus": {"url": stack.url, "ready": stack.ready, "managed_pid": stack.managed_pid},
        "runs": runs,
        "active_runs": [r for r in runs if r.get("note")],
    }
    containers = None if stack.containers is None else [
        {"service": st.name, "container": st.container, "status": st.status, "url": redact_url(st.url)}
        for st in stack.containers
    ]
    if containers is not None:
        state["containers"] = containers
    if json_output:
        print(json.dumps(state, indent=2))
        return 0
    owner = f"started by perfctl, pid {stack.managed_pid}" if stack.managed_pid else "not started by perfctl"
    if containers:
        owner = "in container " + ", ".join(f"{c['container']} ({c['status']})" for c in containers if c["service"] == "prometheus")
    print(f"Prometheus  {stack.url}  {'ready' if stack.ready else 'DOWN'}  ({owner})")
    for c in containers or []:
        if c["service"] != "prometheus":
            print(f"{c['service'].capitalize():<11} {c['url']}  {c['status']}  (container {c['container']})")
    if not state["active_runs"]:
        print("no run in progress")
    print(_runs_table(runs))
    return 0


def _runs_table(runs: list[dict]) -> str:
    header = ("run", "scenario", "status", "result", "elapsed", "tmux session", "note")
    rows = [header] + [
        (r["id"], r.get("scenario") or "", r.get("status") or "", r.get("result") or "—",
         "—" if r.get("elapsed_seconds") is None else f"{r['elapsed_seconds']:.0f}s",
         r.get("tmux") or "—", r.get("note") or "")
        for r in runs
    ]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)

