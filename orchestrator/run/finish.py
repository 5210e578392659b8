"""The end of a run, written once: Prometheus, the last scrapes, the gate, the verdict in
run.json, rollback. `perfctl run` (run/execute.py), `recover` and `evaluate` call this one
`finish` and differ only in its parameters."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from orchestrator import console
from orchestrator.config.model import LoadedConfig
from orchestrator.config.env import redact_url
from orchestrator.errors import ExitCode, PerfctlError
from orchestrator.k6.memory import ran_flat
from orchestrator.ledger.record import Outcome, RunRecord
from orchestrator.ledger.store import RunDir, iso
from orchestrator.monitoring.select import for_config


@dataclass(frozen=True)
class Ending:
    """How `finish` ended a run: the verdict, what it means as an exit code, and the rollback."""

    result: str
    score: float | None
    exit_code: int
    judgement: object | None  # judge.Judgement; None when a verdict.json written before was kept (recover)
    rollback: dict | None = None  # rollback.run_rollback's outcome, when actions ran


def finish(
    loaded: LoadedConfig,
    run: RunDir,
    record: RunRecord,
    *,
    ensure: Callable[[str], None] | None = None,
    settle: bool = True,
    has_thresholds: bool = False,
    keep_written: bool = False,
    beside_first: bool = False,
    baseline=None,
    status: str | None = None,
    extra: Callable[[Ending], dict] | None = None,
    show: Callable[[object], None] | None = None,
    rollback: bool = False,
    hint: str | None = None,
    stack=None,
) -> Ending:
    """The end of a run over its recorded window (record.window), in this order:

    ensure    start Prometheus when it is down (recover, evaluate); told its url when it started now
    settle    wait for the scrapes stamped up to k6's end (run, recover; evaluate judges long after)
    keep_written  a verdict.json written before perfctl died stands, not judged again (recover)
    beside_first  a second verdict goes beside the first as verdict-<UTC time>.json (evaluate)
    status    record the verdict in run.json with this final status, plus the record's fields
              `extra(ending)` returns (recover's note); None leaves run.json as it is (evaluate)
    show      print the verdict (after it is recorded, before rollback)
    rollback  run the configured rollback actions for the result
    hint      said with a gate that cannot be evaluated (Prometheus gone)
    stack     the monitoring stack (monitoring/select.py) the caller holds; else the config's
    """
    from orchestrator.verdict.gate import objectives_for
    from orchestrator.verdict.settle import await_last_scrapes
    from orchestrator.run.judge import RESULT_EXIT, judge_run
    from orchestrator.run.rollback import run_rollback

    stack = stack or for_config(loaded)
    if ensure is not None:
        if stack.ensure():  # a local process or the docker stack, as prometheus.runtime says
            ensure(redact_url(loaded.config.prometheus.url.rstrip("/")))
    written = run.read_json("verdict.json") if keep_written else None
    if written is not None and written.get("result"):
        # perfctl died after writing the verdict and before recording it: the verdict stands.
        result, score = written["result"], written.get("percent")
        exit_code = int(ExitCode.INTERRUPTED) if record.interrupted_by else int(
            RESULT_EXIT.get(_result(result), ExitCode.INCONCLUSIVE))
        ending = Ending(result, score, exit_code, None)
    else:
        prom = stack.client()
        if ran_flat(record) and record.window.known:
            write_flat_summary(loaded, run, record.id, record.window, prom)  # recover, evaluate: once
        if settle:
            # Right after k6 ended the last scrapes may still be due; long after, this returns at once.
            await_last_scrapes(prom, objectives_for(loaded.config, record.scenario), end=record.end,
                               timeout=loaded.config.prometheus.settle,
                               scrape_interval=loaded.config.prometheus.scrape_interval)
        first = not run.file("verdict.json").exists()
        suffix = "" if first or not beside_first else "-" + datetime.fromtimestamp(
            time.time(), timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        try:
            judgement = judge_run(loaded, run, prom, record=record, has_thresholds=has_thresholds, suffix=suffix,
                                  baseline=baseline)
        except PerfctlError as exc:
            if hint is not None:
                exc.hint = exc.hint or hint
            raise
        verdict = judgement.verdict
        ending = Ending(verdict.result.value, verdict.percent, int(judgement.exit_code), judgement)
    if status is not None:
        outcome = Outcome(result=ending.result, score=round(ending.score, 2) if ending.score is not None else None,
                          exit_code=ending.exit_code, finished=iso(time.time()))
        parts = extra(ending) if extra else {}
        run.write(lambda now: now.ended(status=status, outcome=outcome, **parts))
    if show is not None and ending.judgement is not None:
        show(ending.judgement)
    if rollback:
        done = run_rollback(loaded, run, ending.result, interrupted=bool(record.interrupted_by))
        ending = Ending(ending.result, ending.score, ending.exit_code, ending.judgement, done)
    return ending


def write_flat_summary(loaded: LoadedConfig, run: RunDir, run_id: str, window, prom) -> None:
    """A flat run's summary.json, computed from Prometheus (k6/prom_summary.py); one that
    exists is kept (what was recorded is never rewritten)."""
    from orchestrator.k6 import prom_summary
    from orchestrator.verdict import gate

    path = run.file("summary.json")
    if path.exists():
        return
    settings = loaded.config
    ctx = gate.QueryContext(run_id, gate.Window(window.start, window.end), settings.prometheus.scrape_interval,
                            settings.k6.push_interval)
    if not prom_summary.write(path, prom, ctx.fill, at=window.end, seconds=ctx.window.seconds):
        console.info("flat memory: no k6 summary from Prometheus (no k6 series for this run, or no answer); "
                     "the verdict says what is missing")


def _result(value: str):
    from orchestrator.verdict import slo

    try:
        return slo.Result(value)
    except ValueError:
        return None


def print_verdict(judgement, run: RunDir, json_output: bool) -> None:
    """The verdict as `perfctl run` prints it: verdict.json with --json, else the table and k6's numbers."""
    if json_output:
        print(run.file("verdict.json").read_text(), end="")
        return
    from orchestrator.report import formats as report

    print(report.terminal_table(judgement.verdict, color=console.use_color()))
    _print_k6_numbers(judgement.k6)
    print(f"results: {run.path}")
    sys.stdout.flush()
    if judgement.exit_code == ExitCode.INCONCLUSIVE:
        console.info("inconclusive: perfctl does not call a run good without the data to show it")


def _print_k6_numbers(numbers: dict | None) -> None:
    """k6's headline and the per-request table, after the verdict they explain."""
    if not numbers:
        return
    from orchestrator.k6 import breakdown as k6_breakdown
    from orchestrator.report import k6_tables

    if numbers.get("headline"):
        print(k6_tables.headline_line(k6_breakdown.Headline(**numbers["headline"])))
    table = k6_tables.terminal([k6_breakdown.row_from_dict(r) for r in numbers.get("requests") or ()])
    if table:
        print(table, end="")
