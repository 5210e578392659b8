"""Judge a run: evaluate its window, write verdict.json, junit.xml and report.md into its
folder, and say which exit code the verdict means. Used by `run`, `evaluate` and `recover`."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from orchestrator import console
from orchestrator.verdict import gate
from orchestrator.verdict import guards
from orchestrator.report import formats as report
from orchestrator import criteria
from orchestrator.verdict import slo
from orchestrator.ledger.record import Baseline, K6End, RunRecord
from orchestrator.config.model import LoadedConfig
from orchestrator.k6.memory import as_recorded, ran_flat, recorded_mode
from orchestrator.errors import ExitCode
from orchestrator.k6.binary import K6_THRESHOLDS_FAILED, describe_exit, read_summary
from orchestrator.ledger.store import RunDir, iso, write_atomic, write_json
from orchestrator.monitoring.prometheus import Prometheus

RESULT_EXIT = {
    slo.Result.PASS: ExitCode.OK,
    slo.Result.WARNING: ExitCode.OK,
    slo.Result.FAIL: ExitCode.GATE_FAILED,
    slo.Result.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
}


@dataclass(frozen=True)
class Judgement:
    verdict: slo.Verdict
    queries: dict[str, str]
    exit_code: ExitCode
    files: dict[str, Path]
    k6: dict | None = None  # k6's headline and per-request rows (k6_breakdown), as in verdict.json


def live_gate_grade(stop: dict) -> slo.Grade:
    """The live gate stopped the run: a failed key grade, so the verdict is fail whatever the score."""
    return slo.Grade(
        name="live_gate", result=slo.Result.FAIL, value=stop.get("value"), score=0.0, weight=0.0, key=True,
        criteria=f"{stop.get('objective')}: {stop.get('criteria')} within its grace", warning=None,
        reason=stop.get("reason", "the live gate stopped the run"),
    )


def k6_grades(
    k6_exit: int | None, interrupted_by: str | None, has_thresholds: bool, *, live_stop: dict | None = None,
    lost: str | None = None,
) -> list[slo.Grade]:
    """What k6 itself says about the run, as grades beside the objectives.

    They weigh nothing: a passed k6 threshold must not lift the objectives' score (15 of 20
    points is a fail; 16 of 21 would read as a warning). They act through the rules instead:
    a failed key grade fails the gate, an inconclusive one makes it inconclusive.
    """
    grades = []
    if live_stop:
        # k6 stopped early because perfctl asked it to: that is the live gate's fail, not a lost run.
        grades.append(live_gate_grade(live_stop))
    elif interrupted_by:
        grades.append(_grade_k6_run(f"interrupted by {interrupted_by}; the numbers cover only part of the plan"))
    elif k6_exit is None:
        # `lost`: what `perfctl recover` found out about a k6 whose perfctl died (e.g. no summary: it died too).
        grades.append(_grade_k6_run(lost or "k6's exit code is unknown (perfctl lost track of it)"))
    elif k6_exit not in (0, K6_THRESHOLDS_FAILED):
        grades.append(_grade_k6_run(f"{describe_exit(k6_exit)} (code {k6_exit}) before the end of the plan"))
    if has_thresholds or k6_exit == K6_THRESHOLDS_FAILED:
        spec = slo.ObjectiveSpec(name="k6_thresholds", pass_criteria=criteria.parse_criteria("== 1"), weight=0.0, key=True)
        value = None if k6_exit is None else (0.0 if k6_exit == K6_THRESHOLDS_FAILED else 1.0)
        grades.append(slo.grade(spec, value, missing_reason="k6 did not report on its thresholds"))
    return grades


def _grade_k6_run(reason: str) -> slo.Grade:
    spec = slo.ObjectiveSpec(name="k6_completed", pass_criteria=criteria.parse_criteria("== 1"), weight=0.0)
    return slo.grade(spec, None, missing_reason=reason)


def judge_run(
    loaded: LoadedConfig,
    run: RunDir,
    prom: Prometheus,
    *,
    record: RunRecord,
    baselines: dict[str, float] | None = None,
    has_thresholds: bool = False,
    suffix: str = "",
    baseline: Baseline | None = None,
) -> Judgement:
    """`suffix` names a re-evaluation's files (`verdict-<time>.json`) so the first stay as they were."""
    window = gate.Window(start=record.start, end=record.end)
    # The run's own baseline (recorded when it started) unless the caller names another.
    baseline = baseline or record.baseline
    if baselines is None and baseline is not None:
        baselines = baseline.values
    _wait_for_drain(loaded, record.scenario, window)
    result = gate.evaluate(
        as_recorded(loaded, record).config, prom, run_id=record.id, scenario=record.scenario, window=window, baselines=baselines,
        require_baseline=True if record.require_baseline else None,  # `--require-baseline`, kept for `evaluate`
    )
    live_stop = record.live_gate
    memory, flat = recorded_mode(record), ran_flat(record)
    has_thresholds = has_thresholds or bool(record.plan.has_thresholds)  # `evaluate` reads it from run.json
    if flat:
        has_thresholds = False  # k6 ran --no-thresholds: the gate judged each one (k6/thresholds.py)
    k6_end = record.k6_end or K6End()
    extra_grades = k6_grades(
        k6_end.exit_code, k6_end.interrupted_by, has_thresholds, live_stop=live_stop, lost=k6_end.lost,
    )
    extra_grades += _traffic_grades(run, prom, record, window, loaded)
    verdict = result.verdict
    if extra_grades:
        verdict = slo.decide(
            list(verdict.grades) + extra_grades,
            pass_percent=loaded.config.gate.pass_percent,
            warning_percent=loaded.config.gate.warning_percent,
        )
    guards_off = guards.note(loaded.config, record.scenario)
    said = guards_off or guards.explain(verdict)
    if said:
        verdict = replace(verdict, reasons=verdict.reasons + (said,))
    summary = read_summary(run.file("summary.json"))
    k6_numbers = _k6_breakdown(loaded, prom, record, run, window, verdict if flat else None)
    window_dict = {"start": iso(window.start), "end": iso(window.end), "seconds": round(window.seconds, 3)}
    document = report.verdict_to_dict(
        verdict,
        run_id=record.id,
        scenario=record.scenario,
        window=window_dict,
        queries=result.queries,
        extra={
            "evaluated_at": iso(time.time()),
            "config_digest": loaded.digest,
            "k6_exit_code": k6_end.exit_code,
            "interrupted_by": k6_end.interrupted_by,
            "summary": summary.as_dict() if summary else None,
            "baseline": baseline.as_dict() if baseline is not None else None,
            "live_gate": live_stop,
            "k6_memory": {**memory.as_dict(), "said": memory.describe()} if memory is not None else None,
            "measured_at": {name: iso(t) for name, t in result.measured_at.items() if t != window.end},
            "k6": k6_numbers,
            "guards": {"enabled": loaded.config.gate.guards.enabled, "note": guards_off,
                       "added": [g.name for g in result.verdict.grades if g.name.startswith("guard:")]},
        },
    )
    files = {
        "verdict": run.file(f"verdict{suffix}.json"),
        "junit": run.file(f"junit{suffix}.xml"),
        "markdown": run.file(f"report{suffix}.md"),
        "html": run.file(f"report{suffix}.html"),
    }
    write_json(files["verdict"], document)
    write_atomic(
        files["junit"],
        report.junit_xml(verdict, run_id=record.id, scenario=record.scenario, duration_seconds=window.seconds),
    )
    markdown = report.markdown(
        verdict, run_id=record.id, scenario=record.scenario, window_seconds=window.seconds, results_path=str(run.path)
    ) + _k6_markdown(k6_numbers) + (f"\n{memory.describe()}\n" if flat else "")
    write_atomic(files["markdown"], markdown)
    write_atomic(files["html"], _html_report(loaded, prom, record, verdict, window, document, run))
    _append_step_summary(markdown)
    exit_code = ExitCode.INTERRUPTED if record.interrupted_by else RESULT_EXIT[verdict.result]
    return Judgement(verdict=verdict, queries=result.queries, exit_code=exit_code, files=files, k6=k6_numbers)


def _k6_breakdown(loaded: LoadedConfig, prom: Prometheus, record: RunRecord, run: RunDir, window,
                  flat_verdict: slo.Verdict | None = None) -> dict:
    """k6's headline (its summary file) and one row per named request (Prometheus), for every report.
    A flat run's thresholds were judged by the gate (`flat_verdict`): each request shows those grades."""
    from orchestrator.k6 import breakdown as k6_breakdown

    config = as_recorded(loaded, record).config
    ctx = gate.QueryContext(record.id, window, config.prometheus.scrape_interval, config.k6.push_interval)
    numbers = k6_breakdown.headline(run.file("summary.json"))
    rows = k6_breakdown.per_request(prom, ctx.fill, at=window.end, native_histograms=config.k6.native_histograms,
                                    summary_path=run.file("summary.json"))
    if flat_verdict is not None:
        rows = k6_breakdown.with_judged_thresholds(rows, {g.name: g.result is slo.Result.FAIL
                                                          for g in flat_verdict.grades if g.value is not None})
    return {"headline": numbers.as_dict() if numbers else None, "requests": [r.as_dict() for r in rows]}


def _k6_markdown(k6_numbers: dict) -> str:
    from orchestrator.k6 import breakdown as k6_breakdown
    from orchestrator.report import k6_tables

    numbers = k6_numbers.get("headline")
    rows = [k6_breakdown.row_from_dict(r) for r in k6_numbers.get("requests") or ()]
    return k6_tables.markdown(k6_breakdown.Headline(**numbers) if numbers else None, rows, report.md_cell)


def _traffic_grades(run: RunDir, prom: Prometheus, record: RunRecord, window, loaded: LoadedConfig) -> list[slo.Grade]:
    """k6 sent no requests at all: never a pass, whatever the objectives say (orchestrator/verdict/guards.py)."""
    sent = guards.sent_in_summary(run.file("summary.json"))
    from_summary = sent is not None
    if sent is None:
        settings = loaded.config
        ctx = gate.QueryContext(record.id, window, settings.prometheus.scrape_interval, settings.k6.push_interval)
        sent = guards.sent_in_prometheus(prom, ctx)
    grade = guards.no_traffic_grade(sent, from_summary=from_summary)
    return [grade] if grade is not None else []


def _html_report(loaded: LoadedConfig, prom: Prometheus, record: RunRecord, verdict: slo.Verdict, window, document: dict,
                 run: RunDir) -> str:
    from orchestrator.report import html as report_html

    config = as_recorded(loaded, record).config  # native histograms when the run used them
    objectives = gate.objectives_for(config, record.scenario)
    return report_html.render(
        report_html.collect(config, prom, objectives, run_id=record.id, window=window, record=record,
                            run_path=run.path),
        verdict, document,
    )


def _wait_for_drain(loaded: LoadedConfig, scenario: str, window) -> None:
    """Objectives measured after the run (kafka_lag_after's drain_seconds) need that time to pass."""
    objectives = gate.objectives_for(loaded.config, scenario)
    wait = gate.drain_deadline(objectives, window, loaded.config.prometheus.scrape_interval) - time.time()
    if wait > 0:
        console.info(f"waiting {wait:.0f}s for the drain objectives (drain_seconds after the run's end)")
        time.sleep(wait)


def _append_step_summary(markdown: str) -> None:
    # GitHub Actions shows this file on the job's page.
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(markdown + "\n")
        except OSError:
            pass
