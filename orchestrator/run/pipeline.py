"""One run, from checked inputs to a recorded verdict: the library under `perfctl run`, `demo`,
`recover` and `evaluate`.

- prepare: what is checked before any load (k6 found, the script rendered and inspected);
- execute: the run folder, k6 under its runtime, the live gate and view;
- finish: the end of a run, written once (Prometheus, the last scrapes, the gate, the verdict
  in run.json, rollback); `run`, `recover` and `evaluate` differ only in its parameters.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from orchestrator import __version__, console
from orchestrator.k6 import memo as k6_memo
from orchestrator.config.model import LoadedConfig, missing_runtime_env, redact_url
from orchestrator.run.detach import detached_session
from orchestrator.errors import ExitCode, PerfctlError, UsageError
from orchestrator.run.interrupts import recorded_signals
from orchestrator.k6.binary import RemoteWrite, describe_exit, find_k6, run_argv, run_env
from orchestrator.ledger.store import (
    EVALUATING, FAILED_INCOMPLETE, FINISHED, INTERRUPTED, RUNNING, Ledger, RunDir, iso, new_run_id, results_root,
    write_atomic,
)
from orchestrator.monitoring import access as prometheus_access
from orchestrator.monitoring.select import for_config
from orchestrator.pids import ProcessRef
from orchestrator.report.plan_summary import describe_plan
from orchestrator.render.script import Overrides, RenderedScript, render_scenario
from orchestrator.runtimes import chosen, make_runtime
from orchestrator.runtimes.base import RunContext

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
    baseline: str | None = None  # a run id, "last-pass" or "pinned": feeds relative criteria
    require_baseline: bool = False  # relative criteria without a baseline: inconclusive, not "not evaluated"
    detach: bool = False  # run inside a tmux session and return at once
    rollback: bool = True  # run the configured rollback actions on a failed/inconclusive gate
    instances: int = 1  # split the test over N k6 processes (execution segments)
    hosts: tuple[str, ...] = ()  # --hosts: instance i runs on host i over ssh, inside tmux
    script: Path | None = None  # a hand-written k6 script instead of a generated one


@dataclass(frozen=True)
class Prepared:
    """Everything checked before any load is sent."""

    loaded: LoadedConfig
    k6_binary: str
    script: RenderedScript
    k6_version: str
    runtime: object | None = None  # the runtime prepare built (docker: features, inspect), reused for the run


def prepare(
    loaded: LoadedConfig, scenario: str, overrides: Overrides, *, runtime: str = "local", script_path: Path | None = None
) -> Prepared:
    if script_path is not None:
        return _prepare_hand_written(loaded, scenario, overrides, script_path, runtime=runtime)
    missing = missing_runtime_env(loaded.config, scenarios=[scenario])
    if missing:
        raise UsageError(
            f"scenario '{scenario}' uses environment variables that are not set: " + ", ".join(missing),
            hint="export them (secrets stay in the environment; perfctl never writes them to disk)",
        )
    if runtime == "docker":
        # The image's k6 decides the rendering, and inspects the script itself.
        from orchestrator.runtimes.docker import DockerRuntime

        container = DockerRuntime.for_config(loaded)
        features = container.features()
        script = render_scenario(loaded, scenario, features, overrides)
        from orchestrator.render.script import data_files

        if data_files(script):
            raise UsageError(
                f"scenario '{scenario}' reads data files ({', '.join(data_files(script))}): "
                "not available with --runtime docker yet",
                hint="use --runtime local, or inline values (data: {pool: {values: [...]}})",
            )
        container.inspect(script.text)
        return Prepared(loaded=loaded, k6_binary="k6", script=script, k6_version=features.text, runtime=container)
    binary = find_k6(loaded.config.k6.binary)
    features = k6_memo.features(binary)
    script = render_scenario(loaded, scenario, features, overrides)
    k6_memo.inspect(binary, script.text)
    return Prepared(loaded=loaded, k6_binary=binary, script=script, k6_version=features.text)


def _prepare_hand_written(loaded: LoadedConfig, scenario: str, overrides: Overrides, path: Path, *, runtime: str) -> Prepared:
    """`--script path.js`: the user's own k6 script, inspected where it lies; `scenario` names the run."""
    import re

    from orchestrator.k6.binary import inspect_file
    from orchestrator.render.script import hand_written

    if runtime != "local":
        raise UsageError(f"--script: only with --runtime local for now (not {runtime})")
    if overrides.rate is not None:
        raise UsageError("--rate: not available with --script (k6 has no such flag; set the rate in the script)")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", scenario):
        raise UsageError(f"'{scenario}': with --script, SCENARIO names the run (letters, digits, '_', '.', '-')")
    from orchestrator.config.source import read_data_text

    text = read_data_text(path, label=f"--script {path}")
    binary = find_k6(loaded.config.k6.binary)
    features = k6_memo.features(binary)
    script = hand_written(scenario, path, text, inspect_file(binary, path), overrides)
    return Prepared(loaded=loaded, k6_binary=binary, script=script, k6_version=features.text)


def execute(prepared: Prepared, opts: RunOptions, *, started_prometheus: bool = False, stack=None) -> int:
    """`stack`: the run's monitoring stack (monitoring/select.py), whose client serves the whole run."""
    loaded, script = prepared.loaded, prepared.script
    stack = stack or for_config(loaded)
    ledger = Ledger(results_root(loaded, opts.results))
    run_id = opts.run_id if opts.run_id is not None else new_run_id(opts.scenario)
    baseline = _resolve_baseline(loaded, ledger, opts, run_id)
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
            "prometheus_url": redact_url(loaded.config.prometheus.url),
            "expected_seconds": script.expected_seconds,
            "load": describe_plan(script.plan),  # the reports' settings: executor and shape per part
            "overrides": {k: v for k, v in vars(opts.overrides).items() if v is not None},
            "started": {"prometheus": started_prometheus},
            "instances": opts.instances,
            "k6_native_histograms": loaded.config.k6.native_histograms,
            "perfctl": ProcessRef.of(os.getpid()).as_dict(),
            "has_thresholds": script.has_thresholds,
            "script": str(script.source) if script.source else None,
            "tmux": detached_session(run_id),
            "baseline": baseline.as_dict() if baseline is not None else None,
            "require_baseline": opts.require_baseline or loaded.config.gate.require_baseline,
        },
    )
    write_atomic(run.file("script.js"), script.text)
    console.info(f"run {run_id}: {opts.scenario}, ~{script.expected_seconds:g}s, results in {run.path}")
    # From here to the verdict, signals are noted, never raised: while k6 runs the runtime
    # passes them on to k6 (graceful, then forced); a signal that lands after k6 has ended
    # (a second Ctrl-C a moment too late) must not tear the run's record or its verdict,
    # which are seconds away.
    with recorded_signals():
        outcome, start, end = _run_k6(prepared, opts, run, stack.client())
        return _end_of_run(prepared, opts, run, outcome, start, end, stack)


# What the verdict needs, imported while k6 runs (see _warm_up) rather than after it.
VERDICT_MODULES = ("orchestrator.verdict.gate", "orchestrator.verdict.judge", "orchestrator.report.formats", "orchestrator.report.html",
                   "orchestrator.run.rollback", "orchestrator.run.instances")


def _end_of_run(prepared: Prepared, opts: RunOptions, run: RunDir, outcome, start: float, end: float, stack) -> int:
    from orchestrator.run.instances import merge_instance_summaries

    if (opts.instances > 1 or opts.hosts) and opts.runtime == "local":
        for problem in merge_instance_summaries(run, opts.instances):
            console.info(f"summary of {problem}")
    record, final_status = _record_k6_end(run, outcome, start, end)
    _say_dropped_iterations(run)
    ending = finish(
        prepared.loaded, run, record, has_thresholds=prepared.script.has_thresholds, status=final_status,
        show=lambda judgement: _print_verdict(judgement, run, opts.json_output), rollback=opts.rollback,
        # What k6 recorded stays; the run waits in `evaluating` for `perfctl recover` / `evaluate`.
        hint=f"when Prometheus is back: perfctl evaluate {run.id}", stack=stack,
    )
    return ending.exit_code


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
    record: dict,
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
    """The end of a run over its recorded window (record["start"] .. record["end"]), in this order:

    ensure    start Prometheus when it is down (recover, evaluate); told its url when it started now
    settle    wait for the scrapes due after k6's end (run, recover; evaluate judges long after)
    keep_written  a verdict.json written before perfctl died stands, not judged again (recover)
    beside_first  a second verdict goes beside the first as verdict-<UTC time>.json (evaluate)
    status    record the verdict in run.json with this final status, plus `extra(ending)`
              (recover's note); None leaves run.json as it is (evaluate)
    show      print the verdict (after it is recorded, before rollback)
    rollback  run the configured rollback actions for the result
    hint      said with a gate that cannot be evaluated (Prometheus gone)
    stack     the monitoring stack (monitoring/select.py) the caller holds; else the config's
    """
    from orchestrator.verdict.gate import await_last_scrapes, objectives_for
    from orchestrator.verdict.judge import RESULT_EXIT, judge_run
    from orchestrator.run.rollback import run_rollback

    stack = stack or for_config(loaded)
    if ensure is not None:
        if stack.ensure():  # a local process or the docker stack, as prometheus.runtime says
            ensure(redact_url(loaded.config.prometheus.url.rstrip("/")))
    written = run.read_json("verdict.json") if keep_written else None
    if written is not None and written.get("result"):
        # perfctl died after writing the verdict and before recording it: the verdict stands.
        result, score = written["result"], written.get("percent")
        exit_code = int(ExitCode.INTERRUPTED) if record.get("interrupted_by") else int(
            RESULT_EXIT.get(_result(result), ExitCode.INCONCLUSIVE))
        ending = Ending(result, score, exit_code, None)
    else:
        prom = stack.client()
        if settle:
            # Right after k6 ended the last scrapes may still be due; long after, this returns at once.
            await_last_scrapes(prom, objectives_for(loaded.config, record["scenario"]), end=record["end"],
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
        run.update(
            status=status, result=ending.result, score=round(ending.score, 2) if ending.score is not None else None,
            exit_code=ending.exit_code, finished=iso(time.time()), **(extra(ending) if extra else {}),
        )
    if show is not None and ending.judgement is not None:
        show(ending.judgement)
    if rollback:
        done = run_rollback(loaded, run, ending.result, interrupted=bool(record.get("interrupted_by")))
        ending = Ending(ending.result, ending.score, ending.exit_code, ending.judgement, done)
    return ending


def _result(value: str):
    from orchestrator.verdict import slo

    try:
        return slo.Result(value)
    except ValueError:
        return None


def _run_k6(prepared: Prepared, opts: RunOptions, run: RunDir, prom):
    loaded = prepared.loaded
    k6 = loaded.config.k6
    remote_write = RemoteWrite(loaded.config.prometheus.url, k6.push_interval, tuple(k6.trend_stats), k6.native_histograms)
    argv = run_argv(
        prepared.k6_binary,
        prepared.script.source or run.file("script.js"),  # a hand-written script runs where its imports are
        run_id=run.id,
        summary=run.file("summary.json"),
        extra=list(k6.extra_args) + list(prepared.script.k6_args),
        tags=opts.tags,
    )
    start = time.time()
    runtime, started = _pick_runtime(prepared, opts, run, argv, start)
    env = run_env(remote_write, dashboard_export=run.file("dashboard.html"))
    env.update(prometheus_access.k6_env(loaded.config.prometheus))  # headers, token, TLS: k6's environment only
    live = _live_gate(loaded, run, opts.scenario, start, prom)
    watch = {"watch": live.poll} if live else {}
    _warm_up(VERDICT_MODULES)
    with _live_view(prepared, opts, run, start, argv, prom) as view:
        outcome = runtime.run(argv, env, run.file("k6.log"), cwd=run.path, on_started=started, progress=view, **watch)
    start, end = runtime.window(start, time.time())  # e.g. a container's own start/exit, without its set-up
    if live and live.stopped is not None:
        console.info(f"live gate stopped k6: {live.stopped.reason}")
        run.update(live_gate=live.stopped.as_dict())
    return outcome, start, end


def _pick_runtime(prepared: Prepared, opts: RunOptions, run: RunDir, argv: list[str], start: float):
    """The runtime for this run, and what it records in run.json once k6 has started."""
    name = chosen(opts.runtime, instances=opts.instances, hosts=opts.hosts)
    context = RunContext(loaded=prepared.loaded, run=run, scenario=opts.scenario, script_text=prepared.script.text,
                         instances=opts.instances, hosts=opts.hosts)
    # The docker runtime prepare built (features, inspect) runs k6 too: built once per run.
    runtime = prepared.runtime if prepared.runtime is not None and name == opts.runtime else make_runtime(name, context)
    return runtime, lambda facts: run.update(**{runtime.record_key: facts}, start=start)


def _live_view(prepared: Prepared, opts: RunOptions, run: RunDir, start: float, argv: list[str], prom):
    """The panel a person watches while k6 runs (plain lines in a CI log)."""
    from orchestrator.verdict import gate
    from orchestrator.run import live_view

    loaded = prepared.loaded
    return live_view.for_run(
        loaded.config, prom, gate.objectives_for(loaded.config, opts.scenario), run_id=run.id, start=start,
        planned=prepared.script.expected_seconds, plan=prepared.script.plan,
        # k6's REST API answers on this run's own port; with several k6 processes the panel reads their pushes.
        k6_address=_flag_value(argv, "--address") if opts.instances == 1 and opts.runtime == "local" else None,
    )


def _flag_value(argv: list[str], flag: str) -> str | None:
    for index, arg in enumerate(argv[:-1]):
        if arg == flag:
            return argv[index + 1]
    return None


def _live_gate(loaded: LoadedConfig, run: RunDir, scenario: str, start: float, prom):
    live = [o for o in loaded.config.objectives if o.live and o.applies_to(scenario)]
    if not live:
        return None
    from orchestrator.verdict.live_gate import LiveGate

    return LiveGate(loaded.config, prom, live, run_id=run.id, start=start)


def _warm_up(modules: tuple[str, ...]) -> None:
    """Imports `modules` in a background thread while k6 runs and perfctl only waits: ~40 ms
    less between k6's end and the verdict (bench/, figure 1). Any failure is left for the
    import that needs the module, which reports it properly."""
    import importlib
    import threading

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the real import reports it
                return

    threading.Thread(target=load, name="perfctl-warm-up", daemon=True).start()


def _resolve_baseline(loaded: LoadedConfig, ledger: Ledger, opts: RunOptions, run_id: str):
    """--baseline RUN|last-pass|pinned (default: pinned, while a run is pinned for the scenario),
    resolved before any load is sent (a bad run id is exit 2)."""
    from orchestrator.verdict.baseline import PINNED, default_spec, resolve

    spec = opts.baseline or default_spec(ledger, opts.scenario)
    if spec is None:
        return None
    baseline = resolve(ledger, spec, scenario=opts.scenario, runs_wanted=loaded.config.gate.baseline_runs, exclude=run_id)
    if not baseline.runs:
        strict = opts.require_baseline or loaded.config.gate.require_baseline
        console.info(f"baseline {spec}: no passing run of '{opts.scenario}' yet; relative criteria are "
                     + ("inconclusive (require_baseline)" if strict else "not evaluated: this run can become the baseline"))
    elif spec == PINNED and opts.baseline is None:
        console.info(f"baseline: run {baseline.runs[0]}, pinned for '{opts.scenario}' "
                     f"(`perfctl baseline unpin {opts.scenario}` to stop; --baseline RUN|last-pass for another)")
    else:
        console.info(f"baseline {spec}: {', '.join(baseline.runs)}")
    return baseline


def _say_dropped_iterations(run: RunDir) -> None:
    """Arrival-rate executors drop iterations when they run out of VUs: said, never hidden."""
    from orchestrator.k6.binary import read_summary

    summary = read_summary(run.file("summary.json"))
    dropped = summary.dropped_iterations if summary else None
    if dropped:
        run.update(dropped_iterations=dropped)
        console.info(f"k6 dropped {dropped:g} iterations: the arrival rate needed more VUs than maxVUs allowed")


def _record_k6_end(run: RunDir, outcome, start: float, end: float) -> tuple[dict, str]:
    """Record how k6 ended; the run stays `evaluating` until its verdict is written."""
    # A run the live gate stopped ended as perfctl meant it to (k6 says 105, "stopped from outside").
    stopped_by_gate = bool(getattr(outcome, "stopped_by", None))
    finished_normally = (outcome.exit_code in (0, 99) or stopped_by_gate) and not outcome.interrupted_by
    final = FINISHED if finished_normally else (INTERRUPTED if outcome.interrupted_by else FAILED_INCOMPLETE)
    if not finished_normally:
        console.info(f"{describe_exit(outcome.exit_code)} (code {outcome.exit_code}); see {run.file('k6.log')}")
    record = run.update(
        status=EVALUATING, start=start, end=end, k6_exit_code=outcome.exit_code,
        interrupted_by=outcome.interrupted_by, final_status=final,
    )
    return record, final


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


def _print_verdict(judgement, run: RunDir, json_output: bool) -> None:
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
