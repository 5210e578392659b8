"""What is checked before any load is sent: k6 found (or the docker image's k6), the script
rendered (or the hand-written one read) and inspected by k6 itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestrator.config.model import LoadedConfig
from orchestrator.config.env import missing_runtime_env
from orchestrator.errors import UsageError
from orchestrator.k6 import memo as k6_memo
from orchestrator.k6 import memory as k6_memory
from orchestrator.k6.binary import find_k6
from orchestrator.render.script import Overrides, RenderedScript, render_scenario


@dataclass(frozen=True)
class Prepared:
    """Everything checked before any load is sent."""

    loaded: LoadedConfig
    k6_binary: str
    script: RenderedScript
    k6_version: str
    runtime: object | None = None  # the runtime prepare built (docker: features, inspect), reused for the run
    memory: k6_memory.MemoryMode = k6_memory.MemoryMode(k6_memory.EXACT, "not decided")
    k6_flags: tuple[str, ...] = ()  # what the memory mode adds to `k6 run` (--no-thresholds, no summary)


def _with_memory(prepared: Prepared, runtime: str, summary_off: list[str]) -> Prepared:
    """The run's memory mode (k6/memory.py), and the config it is judged with when flat."""
    from dataclasses import replace

    from orchestrator.runtimes import runtime_class

    memory = k6_memory.decide(prepared.loaded.config.k6, prepared.script, runtime=runtime,
                              runtime_can=runtime_class(runtime).flat_memory)
    return replace(prepared, loaded=k6_memory.flat_config(prepared.loaded, prepared.script.scenario, memory),
                   memory=memory, k6_flags=tuple(k6_memory.k6_flags(memory, summary_off)))


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
        prepared = Prepared(loaded=loaded, k6_binary="k6", script=script, k6_version=features.text, runtime=container)
        return _with_memory(prepared, runtime, features.summary_off_args)
    binary = find_k6(loaded.config.k6.binary)
    features = k6_memo.features(binary)
    script = render_scenario(loaded, scenario, features, overrides)
    k6_memo.inspect(binary, script.text)
    prepared = Prepared(loaded=loaded, k6_binary=binary, script=script, k6_version=features.text)
    return _with_memory(prepared, runtime, features.summary_off_args)


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
    prepared = Prepared(loaded=loaded, k6_binary=binary, script=script, k6_version=features.text)
    return _with_memory(prepared, runtime, features.summary_off_args)

