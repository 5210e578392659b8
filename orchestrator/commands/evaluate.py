"""`perfctl evaluate RUN`: the gate again, over the run's recorded window.

The first verdict stays as it is; the new one is written beside it as
`verdict-<UTC time>.json` (with its junit and markdown), so nothing recorded is lost.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from orchestrator import console, report
from orchestrator.commands.run import results_root
from orchestrator.config import load_config
from orchestrator.errors import UsageError
from orchestrator.judge import judge_run
from orchestrator.ledger import Ledger
from orchestrator.local_prometheus import LocalPrometheus


def evaluate(config_path: Path | None, run_id: str, *, results: Path | None, json_output: bool) -> int:
    loaded = load_config(config_path)
    run = Ledger(results_root(loaded, results)).get(run_id)
    record = run.run_record()
    if not record.get("start") or not record.get("end"):
        raise UsageError(f"run {run_id} has no recorded window (k6 never ran or is still running)",
                         hint="`perfctl recover` finishes interrupted runs")
    prometheus = LocalPrometheus.for_config(loaded.config, loaded.path)
    if prometheus.ensure():
        console.info(f"started Prometheus at {prometheus.url} to read the run's data")
    first = not run.file("verdict.json").exists()
    suffix = "" if first else "-" + datetime.fromtimestamp(time.time(), timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    judgement = judge_run(loaded, run, prometheus.client(), record=record, suffix=suffix)
    if json_output:
        print(judgement.files["verdict"].read_text(), end="")
    else:
        print(report.terminal_table(judgement.verdict, color=console.use_color()))
        print(f"verdict: {judgement.files['verdict']}")
    return int(judgement.exit_code)
