"""`perfctl evaluate RUN`: the gate again, over the run's recorded window.

The first verdict stays as it is; the new one is written beside it as
`verdict-<UTC time>.json` (with its junit and markdown), so nothing recorded is lost.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator import console
from orchestrator.report import formats as report
from orchestrator.verdict.baseline import resolve
from orchestrator.config.load import load_config
from orchestrator.errors import UsageError
from orchestrator.ledger.store import Ledger, results_root
from orchestrator.run.finish import finish


def evaluate(config_path: Path | None, run_id: str, *, results: Path | None, json_output: bool,
             baseline: str | None = None) -> int:
    loaded = load_config(config_path)
    ledger = Ledger(results_root(loaded, results))
    run = ledger.get(run_id)
    record = run.record()
    if not record.start or not record.end:
        raise UsageError(f"run {run_id} has no recorded window (k6 never ran or is still running)",
                         hint="`perfctl recover` finishes interrupted runs")
    chosen = None
    if baseline is not None:
        # Another baseline than the run's own (RUN, last-pass or pinned), resolved before
        # anything starts: for relative criteria added after the run. Without it, the run's own.
        chosen = resolve(ledger, baseline, scenario=record.scenario, runs_wanted=loaded.config.gate.baseline_runs,
                         exclude=run.id)
    judgement = finish(
        loaded, run, record, ensure=lambda url: console.info(f"started Prometheus at {url} to read the run's data"),
        settle=False, beside_first=True, baseline=chosen,
    ).judgement
    if json_output:
        print(judgement.files["verdict"].read_text(), end="")
    else:
        print(report.terminal_table(judgement.verdict, color=console.use_color()))
        print(f"verdict: {judgement.files['verdict']}")
        print(f"report: {judgement.files['html']}")
    return int(judgement.exit_code)
