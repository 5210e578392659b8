"""`perfctl run SCENARIO`: render, health gate, k6, gate, ledger, report."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import __version__, console, report
from orchestrator.config import LoadedConfig, load_config, missing_runtime_env
from orchestrator.errors import ExitCode, PerfctlError, UsageError
from orchestrator.gate import await_last_scrapes, objectives_for
from orchestrator.health import wait_healthy
from orchestrator.judge import judge_run
from orchestrator.k6 import RemoteWrite, detect_features, describe_exit, find_k6, inspect_script, run_argv, run_env
from orchestrator.ledger import EVALUATING, FAILED_INCOMPLETE, FINISHED, INTERRUPTED, RUNNING, Ledger, RunDir, iso, new_run_id, write_atomic
from orchestrator.local_prometheus import LocalPrometheus
from orchestrator.render import Overrides, RenderedScript, render_scenario
from orchestrator.runtimes.local import LocalRuntime

RUNTIMES = ("local",)


@dataclass(frozen=True)
class RunOptions:
    scenario: str
    config: Path | None = None
    overrides: Overrides = field(default_factory=Overrides)
    run_id: str | None = None
    results: Path | None = None
    runtime: str = "local"
    json_output: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    baseline: str | None = None  # a run id, or "last-pass": feeds relative criteria
    detach: bool = False  # run inside a tmux session and return at once
    rollback: bool = True  # run the configured rollback actions on a failed/inconclusive gate
    instances: int = 1  # split the test over N k6 processes (execution segments)
    script: Path | None = None  # a hand-written k6 script instead of a generated one


@dataclass(frozen=True)
class Prepared:
    """Everything checked before any load is sent."""

    loaded: LoadedConfig
    k6_binary: str
    script: RenderedScript
    k6_version: str


def results_root(loaded: LoadedConfig, override: Path | None) -> Path:
    if override is not None:
        return override
    root = Path(loaded.config.results_dir)
    return root if root.is_absolute() else loaded.path.parent / root


def prepare(loaded: LoadedConfig, scenario: str, overrides: Overrides) -> Prepared:
    missing = missing_runtime_env(loaded.config)
    if missing:
        raise UsageError(
            "the scenarios use environment variables that are not set: " + ", ".join(missing),
            hint="export them (secrets stay in the environment; perfctl never writes them to disk)",
        )
    binary = find_k6(loaded.config.k6.binary)
    features = detect_features(binary)
    script = render_scenario(loaded, scenario, features, overrides)
    inspect_script(binary, script.text)
    return Prepared(loaded=loaded, k6_binary=binary, script=script, k6_version=features.text)


def _refuse_unavailable(opts: RunOptions) -> None:
    # Options of the CLI contract whose machinery is not built yet say so, instead of being ignored.
    unavailable = {
        "--baseline": opts.baseline is not None,
        "--detach": opts.detach,
        "--instances": opts.instances != 1,
        "--script": opts.script is not None,
        "--rate": opts.overrides.rate is not None,
        "--stage": opts.overrides.stages is not None,
    }
    for flag, used in unavailable.items():
        if used:
            raise UsageError(f"{flag}: not available in this version yet")


def run(opts: RunOptions) -> int:
    if opts.runtime not in RUNTIMES:
        raise UsageError(f"--runtime {opts.runtime}: not available in this version (available: {', '.join(RUNTIMES)})")
    _refuse_unavailable(opts)
    loaded = load_config(opts.config)
    prepared = prepare(loaded, opts.scenario, opts.overrides)
    prometheus = LocalPrometheus.for_config(loaded.config, loaded.path)
    started_prometheus = prometheus.ensure()
    if started_prometheus:
        console.info(f"started Prometheus at {prometheus.url} (it keeps running; `perfctl stop-monitoring` ends it)")
    checked = wait_healthy(loaded.config.target)
    if checked:
        console.info(f"health gate: {checked} answered")
    return execute(prepared, opts, started_prometheus=started_prometheus)


def execute(prepared: Prepared, opts: RunOptions, *, started_prometheus: bool = False) -> int:
    loaded, script = prepared.loaded, prepared.script
    ledger = Ledger(results_root(loaded, opts.results))
    run_id = opts.run_id or new_run_id(opts.scenario)
    run = ledger.create(
        run_id,
        {
            "scenario": opts.scenario,
            "status": RUNNING,
            "created": iso(time.time()),
            "config": str(loaded.path),
            "config_digest": loaded.digest,
            "perfctl_version": __version__,
            "k6_version": prepared.k6_version,
            "runtime": opts.runtime,
            "prometheus_url": loaded.config.prometheus.url,
            "expected_seconds": script.expected_seconds,
            "overrides": {k: v for k, v in vars(opts.overrides).items() if v is not None},
            "started": {"prometheus": started_prometheus},
            "perfctl": {"pid": os.getpid()},
        },
    )
    write_atomic(run.file("script.js"), script.text)
    console.info(f"run {run_id}: {opts.scenario}, ~{script.expected_seconds:g}s, results in {run.path}")
    outcome, start, end = _run_k6(prepared, opts, run)
    record, final_status = _record_k6_end(run, outcome, start, end)
    prom = LocalPrometheus.for_config(loaded.config, loaded.path).client()
    await_last_scrapes(prom, objectives_for(loaded.config, opts.scenario), end=end, timeout=loaded.config.prometheus.settle)
    try:
        judgement = judge_run(
            loaded, run, prom, record=record, has_thresholds=any(p.scenario.thresholds for p in script.parts)
        )
    except PerfctlError as exc:
        # What k6 recorded stays; the run waits in `evaluating` for `perfctl recover` / `evaluate`.
        exc.hint = exc.hint or f"when Prometheus is back: perfctl evaluate {run.id}"
        raise
    run.update(
        status=final_status,
        result=judgement.verdict.result.value,
        score=round(judgement.verdict.percent, 2),
        exit_code=int(judgement.exit_code),
        finished=iso(time.time()),
    )
    _print_verdict(judgement, run, opts.json_output)
    return int(judgement.exit_code)


def _run_k6(prepared: Prepared, opts: RunOptions, run: RunDir):
    loaded = prepared.loaded
    k6 = loaded.config.k6
    remote_write = RemoteWrite(loaded.config.prometheus.url, k6.push_interval, tuple(k6.trend_stats), k6.native_histograms)
    argv = run_argv(
        prepared.k6_binary,
        run.file("script.js"),
        run_id=run.id,
        summary=run.file("summary.json"),
        extra=list(k6.extra_args),
        tags=opts.tags,
    )
    start = time.time()

    def on_started(ref):
        run.update(k6={"pid": ref.pid, "start": ref.start, "argv": argv[1:]}, start=start)

    progress = console.Progress()
    outcome = LocalRuntime().run(
        argv, run_env(remote_write), run.file("k6.log"), cwd=run.path, on_started=on_started, progress=progress
    )
    return outcome, start, time.time()


def _record_k6_end(run: RunDir, outcome, start: float, end: float) -> tuple[dict, str]:
    """Record how k6 ended; the run stays `evaluating` until its verdict is written."""
    finished_normally = outcome.exit_code in (0, 99) and not outcome.interrupted_by
    final = FINISHED if finished_normally else (INTERRUPTED if outcome.interrupted_by else FAILED_INCOMPLETE)
    if not finished_normally:
        console.info(f"{describe_exit(outcome.exit_code)} (code {outcome.exit_code}); see {run.file('k6.log')}")
    record = run.update(
        status=EVALUATING, start=start, end=end, k6_exit_code=outcome.exit_code,
        interrupted_by=outcome.interrupted_by, final_status=final,
    )
    return record, final


def _print_verdict(judgement, run: RunDir, json_output: bool) -> None:
    if json_output:
        print(run.file("verdict.json").read_text(), end="")
        return
    print(report.terminal_table(judgement.verdict, color=console.use_color()))
    print(f"results: {run.path}")
    sys.stdout.flush()
    if judgement.exit_code == ExitCode.INCONCLUSIVE:
        console.info("inconclusive: perfctl does not call a run good without the data to show it")


def load_and_prepare(config: Path | None, scenario: str, overrides: Overrides) -> Prepared:
    return prepare(load_config(config), scenario, overrides)


def dump(obj) -> str:
    return json.dumps(obj, indent=2)
