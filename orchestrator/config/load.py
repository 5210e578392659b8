"""perfctl.yaml -> a LoadedConfig: the one way in.

`load_config` reads the file, interpolates `${VAR}` / `${VAR:-default}` from the environment
(the rule and where it applies: orchestrator/config/env.py), applies the machine's overrides,
validates everything at once and raises a ConfigError whose lines name each invalid field
(`scenarios.chat.vus: must be > 0`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrator.config.env import ENV_REF, expand_env, fill, is_runtime, unset_message
from orchestrator.config.messages import describe, dotted
from orchestrator.config.model import Config, LoadedConfig
from orchestrator.config.source import parse_yaml, read_config_bytes
from orchestrator.errors import ConfigError

DEFAULT_CONFIG_NAME = "perfctl.yaml"

# Target URLs perfctl itself also requests (health gate, doctor): their variables must be set
# when the config loads, and are filled in only in memory (expand_env).
TARGET_URLS = ("base_url", "ws_base_url")


def load_config(path: str | Path | None = None, *, environ: dict[str, str] | None = None) -> LoadedConfig:
    path = Path(path or DEFAULT_CONFIG_NAME)
    environ = dict(os.environ if environ is None else environ)
    raw_bytes = read_config_bytes(path)  # a regular file within the size cap (config_source)
    data = parse_yaml(path, raw_bytes)
    problems: list[str] = _env_refs_in_extra_args(data)
    data = _interpolate(data, environ, (), problems)
    data = _machine_overrides(data, environ)
    problems += _unset_in_target_urls(data, environ)
    if problems:
        raise ConfigError(f"{path}: {len(problems)} problem(s)", lines=problems)
    config = validate_data(data, source=str(path), environ=environ)
    from orchestrator.secret_mask import register

    register(config, environ)  # what this config reads as secrets is masked in every output from here on
    return LoadedConfig(config=config, path=path.resolve(), digest=hashlib.sha256(raw_bytes).hexdigest())


# Settings that belong to the machine rather than the suite (a CI runner's Prometheus):
# environment variable -> (section, key). Validated like the file's own value.
MACHINE_OVERRIDES = {"PERFCTL_PROMETHEUS_URL": ("prometheus", "url")}


def _machine_overrides(data: dict, environ: dict[str, str]) -> dict:
    for variable, (section, key) in MACHINE_OVERRIDES.items():
        value = environ.get(variable)
        if value and isinstance(data.get(section, {}), dict):
            data = {**data, section: {**data.get(section, {}), key: value}}
    return data


def validate_data(data: Any, *, source: str = "config", environ: dict[str, str] | None = None) -> Config:
    try:
        return Config.model_validate(data, context={"environ": environ})
    except ValidationError as exc:
        lines = [line for err in exc.errors() for line in describe(err)]
        raise ConfigError(f"{source}: {len(lines)} problem(s)", lines=lines) from None


def _interpolate(node: Any, environ: dict[str, str], loc: tuple, problems: list[str]) -> Any:
    if isinstance(node, dict):
        return {k: _interpolate(v, environ, loc + (str(k),), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, environ, loc + (f"[{i}]",), problems) for i, v in enumerate(node)]
    if not isinstance(node, str) or is_runtime(loc):
        return node

    def missing(name: str) -> str:
        problems.append(unset_message(dotted(loc), name))
        return ""  # every missing variable of the file is reported, then loading stops

    return fill(node, environ, missing)


def _env_refs_in_extra_args(data: dict) -> list[str]:
    """k6.extra_args end up on k6's command line (seen by `ps`) and in run.json: no `${VAR}` there."""
    k6 = data.get("k6")
    args = k6.get("extra_args") if isinstance(k6, dict) else None
    if not isinstance(args, list):
        return []
    problems = []
    for i, arg in enumerate(args):
        if isinstance(arg, str) and any(m.group(1) for m in ENV_REF.finditer(arg)):
            problems.append(
                f"k6.extra_args[{i}]: ${{...}} is not allowed here (the value would be on k6's command line and in "
                "run.json); use ${VAR} in target.headers or the scenarios' requests, which k6 reads from its environment"
            )
            args[i] = ""  # reported once, not again as an unset variable
    return problems


def _unset_in_target_urls(data: dict, environ: dict[str, str]) -> list[str]:
    target = data.get("target")
    if not isinstance(target, dict):
        return []
    problems = []
    for field in TARGET_URLS:
        if isinstance(target.get(field), str):
            try:
                expand_env(target[field], environ, field=f"target.{field}")
            except ConfigError as exc:
                problems.append(exc.message)
    return problems
