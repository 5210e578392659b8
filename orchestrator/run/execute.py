"""One run after its checks: the run folder and its record, k6 under its runtime, the live
gate and view, how k6 ended, then the one end of a run (run/finish.py).

run.json is written four times along a run, plus once when rollback actions ran: created,
k6 started (its processes), k6 ended (window, exit code, the live gate's stop, dropped
iterations: one write), the verdict (run/finish.py), the rollback's outcome.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from orchestrator import __version__, console
from orchestrator.config.model import LoadedConfig
from orchestrator.config.env import redact_url
from orchestrator.k6.binary import RemoteWrite, describe_exit, run_argv, run_env
from orchestrator.ledger.record import Identity, K6End, K6Run, LoadPlan, RunRecord, Window
from orchestrator.ledger.store import (
    EVALUATING, FAILED_INCOMPLETE, FINISHED, INTERRUPTED, RUNNING, Ledger, RunDir, iso, new_run_id, results_root,
    write_atomic,
)
from orchestrator.monitoring import access as prometheus_access
from orchestrator.monitoring.select import for_config
from orchestrator.pids import ProcessRef
from orchestrator.report.plan_summary import describe_plan
from orchestrator.run.detach import detached_session
from orchestrator.run.finish import finish, print_verdict
from orchestrator.interrupts import recorded_signals
from orchestrator.run.options import RunOptions
from orchestrator.run.prepare import Prepared
from orchestrator.runtimes import chosen, make_runtime
from orchestrator.runtimes.base import RunContext


def execute(prepared: Prepared, opts: RunOptions, *, started_prometheus: bool = False, stack=None) -> int:
    """`stack`: the run's monitoring stack (monitoring/select.py), whose one client serves the whole run."""
    loaded, script = prepared.loaded, prepared.script
    stack = stack or for_config(loaded)
    ledger = Ledger(results_root(loaded, opts.results))
    run_id = opts.run_id if opts.run_id is not None else new_run_id(opts.scenario)
    baseline = _resolve_baseline(loaded, ledger, opts, run_id)
    run = ledger.create(run_id, RunRecord(
        id=run_id,
        status=RUNNING,
        identity=Identity(
            scenario=opts.scenario, created=iso(time.time()), config=str(loaded.path), config_digest=loaded.digest,
            perfctl_version=__version__, k6_version=prepared.k6_version, runtime=opts.runtime,
            prometheus_url=redact_url(loaded.config.prometheus.url),
            script=str(script.source) if script.source else None, instances=opts.instances,
            k6_native_histograms=loaded.config.k6.native_histograms,
            k6_memory=prepared.memory.as_dict(),
            overrides={k: v for k, v in vars(opts.overrides).items() if v is not None},
            started_prometheus=started_prometheus,
        ),
        # The reports' settings: executor and shape per part.
        plan=LoadPlan(script.expected_seconds, tuple(describe_plan(script.plan)), script.has_thresholds),
        perfctl=ProcessRef.of(os.getpid()),
        tmux=detached_session(run_id),
        baseline=baseline,
        require_baseline=opts.require_baseline or loaded.config.gate.require_baseline,
    ))
    write_atomic(run.file("script.js"), script.text)
    console.info(f"run {run_id}: {opts.scenario}, ~{script.expected_seconds:g}s, results in {run.path}")
    if prepared.memory.flat:
        console.info(prepared.memory.describe())
    # From here to the verdict, signals are noted, never raised: while k6 runs the runtime
    # passes them on to k6 (graceful, then forced); a signal that lands after k6 has ended
    # (a second Ctrl-C a moment too late) must not tear the run's record or its verdict,
    # which are seconds away.
    with recorded_signals():
        outcome, start, end, live_stop = _run_k6(prepared, opts, run, stack.client())
        return _end_of_run(prepared, opts, run, outcome, Window(start, end), live_stop, stack)


# What the verdict needs, imported while k6 runs (see _warm_up) rather than after it.
VERDICT_MODULES = ("orchestrator.verdict.gate", "orchestrator.verdict.settle", "orchestrator.run.judge",
                   "orchestrator.report.formats", "orchestrator.report.html", "orchestrator.run.rollback",
                   "orchestrator.k6.summary")


def _end_of_run(prepared: Prepared, opts: RunOptions, run: RunDir, outcome, window: Window,
                live_stop: dict | None, stack) -> int:
    from orchestrator.k6.summary import merge_instance_summaries
    from orchestrator.run.finish import write_flat_summary

    if prepared.memory.flat:
        # No k6 wrote a summary: one for the whole run, from Prometheus, before anything reads it.
        write_flat_summary(prepared.loaded, run, run.id, window, stack.client())
    elif (opts.instances > 1 or opts.hosts) and opts.runtime == "local":
        for problem in merge_instance_summaries(run, opts.instances):
            console.info(f"summary of {problem}")
    record = _record_k6_end(run, outcome, window, live_stop=live_stop, dropped=_dropped_iterations(run))
    ending = finish(
        prepared.loaded, run, record, has_thresholds=prepared.script.has_thresholds, status=record.k6_end.final_status,
        show=lambda judgement: print_verdict(judgement, run, opts.json_output), rollback=opts.rollback,
        # What k6 recorded stays; the run waits in `evaluating` for `perfctl recover` / `evaluate`.
        hint=f"when Prometheus is back: perfctl evaluate {run.id}", stack=stack,
    )
    return ending.exit_code


def _run_k6(prepared: Prepared, opts: RunOptions, run: RunDir, prom):
    """k6 under its runtime; (outcome, start, end, the live gate's stop or None)."""
    loaded = prepared.loaded
    k6 = loaded.config.k6
    remote_write = RemoteWrite(loaded.config.prometheus.url, k6.push_interval, tuple(k6.trend_stats), k6.native_histograms)
    argv = run_argv(
        prepared.k6_binary,
        prepared.script.source or run.file("script.js"),  # a hand-written script runs where its imports are
        run_id=run.id,
        summary=None if prepared.memory.flat else run.file("summary.json"),
        extra=list(k6.extra_args) + list(prepared.script.k6_args) + list(prepared.k6_flags),
        tags=opts.tags,
    )
    start = time.time()
    runtime, started = _pick_runtime(prepared, opts, run, argv, start)
    env = run_env(remote_write, dashboard_export=run.file("dashboard.html"))
    env.update(prometheus_access.k6_env(loaded.config.prometheus))  # headers, token, TLS: k6's environment only
    live = _live_gate(loaded, run, opts.scenario, start, prom)
    watch = {"watch": live} if live else {}  # asked every gate.live_interval
    _warm_up(VERDICT_MODULES)
    with _live_view(prepared, opts, run, start, argv, prom) as view:
        outcome = runtime.run(argv, env, run.file("k6.log"), cwd=run.path, on_started=started, progress=view, **watch)
    start, end = runtime.window(start, time.time())  # e.g. a container's own start/exit, without its set-up
    live_stop = None
    if live and live.stopped is not None:
        console.info(f"live gate stopped k6: {live.stopped.reason}")
        live_stop = live.stopped.as_dict()  # recorded with k6's end (_record_k6_end)
    return outcome, start, end, live_stop


def _pick_runtime(prepared: Prepared, opts: RunOptions, run: RunDir, argv: list[str], start: float):
    """The runtime for this run, and what it records in run.json once k6 has started."""
    name = chosen(opts.runtime, instances=opts.instances, hosts=opts.hosts)
    context = RunContext(loaded=prepared.loaded, run=run, scenario=opts.scenario, script_text=prepared.script.text,
                         instances=opts.instances, hosts=opts.hosts)
    # The docker runtime prepare built (features, inspect) runs k6 too: built once per run.
    runtime = prepared.runtime if prepared.runtime is not None and name == opts.runtime else make_runtime(name, context)

    def started(facts: dict) -> None:
        k6_run = K6Run.from_facts(runtime.record_key, facts)
        run.write(lambda record: replace(record, k6=k6_run, window=Window(start, record.end)))

    return runtime, started


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


def _dropped_iterations(run: RunDir) -> float | None:
    """Arrival-rate executors drop iterations when they run out of VUs: said, never hidden."""
    from orchestrator.k6.binary import read_summary

    summary = read_summary(run.file("summary.json"))
    dropped = summary.dropped_iterations if summary else None
    if dropped:
        console.info(f"k6 dropped {dropped:g} iterations: the arrival rate needed more VUs than maxVUs allowed")
    return dropped or None


def _record_k6_end(run: RunDir, outcome, window: Window, *, live_stop: dict | None,
                   dropped: float | None) -> RunRecord:
    """Record how k6 ended, in one write; the run stays `evaluating` until its verdict is written."""
    # A run the live gate stopped ended as perfctl meant it to (k6 says 105, "stopped from outside").
    stopped_by_gate = bool(getattr(outcome, "stopped_by", None))
    finished_normally = (outcome.exit_code in (0, 99) or stopped_by_gate) and not outcome.interrupted_by
    final = FINISHED if finished_normally else (INTERRUPTED if outcome.interrupted_by else FAILED_INCOMPLETE)
    if not finished_normally:
        console.info(f"{describe_exit(outcome.exit_code)} (code {outcome.exit_code}); see {run.file('k6.log')}")
    k6_end = K6End(exit_code=outcome.exit_code, interrupted_by=outcome.interrupted_by, final_status=final)
    return run.write(lambda record: replace(
        record, status=EVALUATING, window=window, k6_end=k6_end,
        live_gate=live_stop if live_stop is not None else record.live_gate,
        dropped_iterations=dropped if dropped is not None else record.dropped_iterations,
    ))
