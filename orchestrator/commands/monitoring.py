"""`perfctl start-monitoring` / `stop-monitoring` / `status` / `prometheus-url`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from orchestrator import console
from orchestrator.commands.run import results_root
from orchestrator.config import load_config
from orchestrator.ledger import FINAL_STATES, Ledger
from orchestrator.local_prometheus import LocalPrometheus


def _prometheus(config_path: Path | None) -> LocalPrometheus:
    loaded = load_config(config_path)
    return LocalPrometheus.for_config(loaded.config, loaded.path)


def start(config_path: Path | None) -> int:
    prometheus = _prometheus(config_path)
    started = prometheus.ensure()
    console.info(("started" if started else "already running:") + f" Prometheus at {prometheus.url}")
    console.info("Grafana: not available as a local process; use the docker runtime, or k6's web dashboard "
                 "(K6_WEB_DASHBOARD=true) for live viewing")
    print(prometheus.url)
    return 0


def stop(config_path: Path | None) -> int:
    prometheus = _prometheus(config_path)
    if prometheus.stop():
        console.info(f"stopped Prometheus at {prometheus.url}; its data is kept in {prometheus.home / 'data'}")
    else:
        console.info("no Prometheus started by perfctl is running for this config")
    return 0


def prometheus_url(config_path: Path | None) -> int:
    print(_prometheus(config_path).url)
    return 0


def status(config_path: Path | None, *, json_output: bool) -> int:
    loaded = load_config(config_path)
    prometheus = LocalPrometheus.for_config(loaded.config, loaded.path)
    ref = prometheus.running_process()
    ready = prometheus.client().ready()
    ledger = Ledger(results_root(loaded, None))
    active = []
    for run in ledger.runs()[-200:]:
        try:
            record = run.run_record()
        except Exception:
            continue
        if record.get("status") not in FINAL_STATES:
            active.append(record)
    state = {
        "prometheus": {"url": prometheus.url, "ready": ready, "managed_pid": ref.pid if ref else None},
        "active_runs": [
            {"id": r["id"], "scenario": r.get("scenario"), "status": r.get("status"),
             "elapsed_seconds": round(time.time() - r["start"], 1) if r.get("start") else None}
            for r in active
        ],
    }
    if json_output:
        print(json.dumps(state, indent=2))
        return 0
    owner = f"started by perfctl, pid {ref.pid}" if ref else "not started by perfctl"
    print(f"Prometheus  {prometheus.url}  {'ready' if ready else 'DOWN'}  ({owner})")
    if not active:
        print("no run in progress")
    for r in state["active_runs"]:
        print(f"run {r['id']}  {r['scenario']}  {r['status']}  {r['elapsed_seconds']}s")
    return 0
