"""`perfctl validate`: config, then every scenario rendered and `k6 inspect`ed. No load."""

from __future__ import annotations

from pathlib import Path

from orchestrator import console
from orchestrator.config.env import missing_runtime_env
from orchestrator.config.load import load_config
from orchestrator.errors import ConfigError, PerfctlError
from orchestrator.k6 import memory as k6_memory
from orchestrator.verdict.guards import describe as describe_guards
from orchestrator.k6.binary import detect_features, find_k6, inspect_script
from orchestrator.render.script import describe_part, render_scenario


def validate(config_path: Path | None) -> int:
    loaded = load_config(config_path)
    binary = find_k6(loaded.config.k6.binary)
    features = detect_features(binary)
    problems = []
    for name in loaded.config.scenarios:
        try:
            script = render_scenario(loaded, name, features)
            inspect_script(binary, script.text)
            # As `perfctl run` decides it (local runtime): a flat run's thresholds must become objectives.
            memory = k6_memory.decide(loaded.config.k6, script)
            k6_memory.flat_config(loaded, name, memory)
        except PerfctlError as exc:
            problems.append(f"scenarios.{name}: {exc.message}")
            continue
        console.info(f"ok  {name}: {len(script.parts)} part(s), ~{script.expected_seconds:g}s")
        for part in script.parts:
            console.info(f"      {describe_part(part)}")
        if memory.flat:
            console.info(f"      {memory.describe()}")
        guards_line = describe_guards(loaded.config, name)
        if guards_line:
            console.info(f"      {guards_line}")
    missing = missing_runtime_env(loaded.config)
    if missing:
        console.info("note: set these before a run: " + ", ".join(missing))
    if problems:
        raise ConfigError(f"{loaded.path}: {len(problems)} scenario(s) do not render", lines=problems)
    _check_queries(loaded)
    console.info(f"{loaded.path}: valid ({len(loaded.config.scenarios)} scenarios, k6 {features.text})")
    return 0


def _check_queries(loaded) -> None:
    """Custom objectives' PromQL: names k6 will send, and the syntax by Prometheus when it answers."""
    from orchestrator.config.env import redact_url
    from orchestrator.monitoring.select import for_config
    from orchestrator.verdict.query_check import check_queries, custom_objectives

    if not custom_objectives(loaded.config):
        return
    # Only asked, never started: validate sends nothing and leaves nothing running.
    if check_queries(loaded.config, for_config(loaded).client()):  # a managed store's headers and TLS too
        console.info("custom queries: Prometheus parsed every one")
    else:
        console.info(f"note: Prometheus does not answer at {redact_url(loaded.config.prometheus.url)}: "
                     "the custom queries' syntax is not checked "
                     "(`perfctl run` checks it before the load)")
