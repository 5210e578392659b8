"""`perfctl evaluate RUN`: the gate again, over the run's recorded window.

The first verdict stays as it is; the new one is written beside it as
`verdict-<UTC time>.json` (with its junit and markdown), so nothing recorded is lost.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from orchestrator import console, report
from orchestrator.baseline import resolve
from orchestrator.config import load_config
from orchestrator.errors import UsageError
from orchestrator.judge import judge_run
from orchestrator.ledger import Ledger, results_root
from orchestrator.local_prometheus import LocalPrometheus
from orchestrator.monitoring_stack import ensure_prometheus


def evaluate(config_path: Path | None, run_id: str, *, results: Path | None, json_output: bool,
             baseline: str | None = None) -> int:
    loaded = load_config(config_path)
    ledger = Ledger(results_root(loaded, results))
    run = ledger.get(run_id)
    record = run.run_record()
    if not record.get("start") or not record.get("end"):
        raise UsageError(f"run {run_id} has no recorded window (k6 never ran or is still running)",
                         hint="`perfctl recover` finishes interrupted runs")
    chosen = None
    if baseline is not None:
        # Another baseline than the run's own (RUN, last-pass or pinned), resolved before
        # anything starts: for relative criteria added after the run. Without it, the run's own.
        chosen = resolve(ledger, baseline, scenario=record["scenario"], runs_wanted=loaded.config.gate.baseline_runs,
                         exclude=run.id)
    prometheus = LocalPrometheus.for_config(loaded.config, loaded.path)
    if ensure_prometheus(loaded):  # the configured runtime's Prometheus: local process or container
        console.info(f"started Prometheus at {prometheus.url_shown} to read the run's data")
    first = not run.file("verdict.json").exists()
    suffix = "" if first else "-" + datetime.fromtimestamp(time.time(), timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    judgement = judge_run(loaded, run, prometheus.client(), record=record, suffix=suffix, baseline=chosen)
    if json_output:
        print(judgement.files["verdict"].read_text(), end="")
    else:
        print(report.terminal_table(judgement.verdict, color=console.use_color()))
        print(f"verdict: {judgement.files['verdict']}")
        print(f"report: {judgement.files['html']}")
    return int(judgement.exit_code)
