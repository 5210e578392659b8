"""`perfctl run SCENARIO`: the checks before any load (inputs, health gate, Prometheus, the
objectives' queries, readiness), then the run itself (orchestrator/run/execute.py)."""

from __future__ import annotations

from orchestrator import console
from orchestrator.config.env import redact_url
from orchestrator.config.load import load_config
from orchestrator.config.model import LoadedConfig
from orchestrator.errors import UsageError
from orchestrator.run.health import wait_healthy
from orchestrator.k6.native_histograms import with_native_histograms
from orchestrator.ledger.store import Ledger, results_root
from orchestrator.monitoring.select import for_config
from orchestrator.run.execute import execute
from orchestrator.run.options import RunOptions
from orchestrator.run.prepare import prepare
from orchestrator.monitoring.readiness import wait_ready
from orchestrator.runtimes import check_choice


def run(opts: RunOptions) -> int:
    check_choice(opts.runtime)
    loaded = load_config(opts.config)
    opts = _with_hosts(opts, loaded)
    _check_inputs(opts, loaded)  # run id, instances, results folder: before the health gate, Prometheus and load
    if opts.instances > 1 or (opts.runtime == "k8s" and loaded.config.k8s.parallelism > 1):
        loaded = with_native_histograms(loaded)  # exact merged percentiles across instances / k8s runners
    if opts.runtime == "docker" and opts.instances > 1:
        raise UsageError("--instances: not available with --runtime docker yet")
    prepared = prepare(loaded, opts.scenario, opts.overrides, runtime=opts.runtime, script_path=opts.script)
    loaded = prepared.loaded  # as the run is judged: a flat run's k6 thresholds are objectives (k6/memory.py)
    stack = for_config(loaded)  # this run's Prometheus: its one client, from the checks to the verdict
    queries_parsed = _check_queries(loaded, opts, stack.client())
    from orchestrator.verdict.baseline import check_spec, default_spec

    # A bad --baseline is exit 2 now, not after the load.
    ledger = Ledger(results_root(loaded, opts.results))
    baseline_spec = opts.baseline or default_spec(ledger, opts.scenario)  # a pinned run is the default
    if baseline_spec is not None:
        check_spec(ledger, baseline_spec, scenario=opts.scenario)
    if opts.detach:
        # Checked above (config, k6, script) before anything starts; the rest happens inside tmux.
        from orchestrator.run.detach import start_detached

        return start_detached(opts, loaded, results_root(loaded, opts.results))
    # The health gate first: a target that is down must not leave a Prometheus started for nothing.
    checked = wait_healthy(loaded.config.target)
    if checked:
        console.info(f"health gate: {checked} answered")
    started_prometheus = stack.ensure()  # a local process or a container: prometheus.runtime
    if started_prometheus:
        console.info(f"started Prometheus at {redact_url(loaded.config.prometheus.url)} (it keeps running; "
                     "`perfctl stop-monitoring` ends it)")
    if not queries_parsed:
        _check_queries(loaded, opts, stack.client(), again=True)  # Prometheus answers now; still before any load
    # Every scrape the objectives need, and the remote-write receiver, before k6 starts (runners
    # in a cluster write to k8s.prometheus_url, which may not be reachable from here).
    wait_ready(loaded.config, scenario=opts.scenario, remote_write=opts.runtime != "k8s", prom=stack.client())
    return execute(prepared, opts, started_prometheus=started_prometheus, stack=stack)


def _check_queries(loaded: LoadedConfig, opts: RunOptions, prom, *, again: bool = False) -> bool:
    """The custom objectives' PromQL before any load (orchestrator/verdict/query_check.py); True once
    Prometheus has parsed them (it may not answer yet: perfctl starts it after the health gate)."""
    from orchestrator.verdict.query_check import check_queries, check_syntax_now

    if again:
        check_syntax_now(loaded.config, prom, scenario=opts.scenario)
        return True
    return check_queries(loaded.config, prom, scenario=opts.scenario, own_metrics=opts.script is not None)


def _check_inputs(opts: RunOptions, loaded: LoadedConfig) -> None:
    """What the user chose for this run, checked before anything starts or is sent (exit 2)."""
    from orchestrator.ledger.store import check_results_root, check_run_id
    from orchestrator.config.limits import MAX_INSTANCES, MAX_K8S_RUNNERS

    if opts.run_id is not None:
        check_run_id(opts.run_id)
    most = MAX_K8S_RUNNERS if opts.runtime == "k8s" else MAX_INSTANCES
    if not 1 <= opts.instances <= most:
        where = "k6-operator runner pods" if opts.runtime == "k8s" else "k6 processes on this machine"
        raise UsageError(f"--instances {opts.instances}: must be 1-{most} ({where})")
    source = "--results" if opts.results is not None else "results_dir"
    root = check_results_root(results_root(loaded, opts.results), source=source, create=True)
    if opts.run_id is not None and (root / opts.run_id).exists():
        raise UsageError(f"run id '{opts.run_id}' exists already in {root}; results are never overwritten")


def _with_hosts(opts: RunOptions, loaded: LoadedConfig) -> RunOptions:
    """--hosts h1,h2 means --instances 2, one per host, on the local runtime only."""
    if not opts.hosts:
        return opts
    import dataclasses

    from orchestrator.config.env import runtime_env_refs

    if opts.runtime != "local":
        raise UsageError(f"--hosts: runs k6 over ssh; not with --runtime {opts.runtime}")
    if opts.instances not in (1, len(opts.hosts)):
        raise UsageError(f"--hosts names {len(opts.hosts)} host(s) but --instances is {opts.instances}")
    if opts.script is not None or opts.detach:
        raise UsageError("--hosts: not with --script or --detach yet")
    required = sorted(n for n, default in runtime_env_refs(loaded.config).items() if default is None)
    if required:
        # Secrets stay on this machine: perfctl does not copy environment variables to other hosts.
        raise UsageError(f"--hosts: the scenarios read {', '.join(required)} from the environment, "
                         "which perfctl does not send to other hosts")
    return dataclasses.replace(opts, instances=len(opts.hosts))
