"""`${VAR}` / `${VAR:-default}` in perfctl.yaml: the one substitution rule and its messages.

Interpolation happens at load time everywhere except in what the k6 script sends
(`target.base_url`, `target.ws_base_url`, `target.headers` and everything under
`scenarios`): there `${VAR}` stays in the config and the generated script reads it from
k6's environment at run time, so a secret never lands in a script, a log or a results
folder. perfctl's own requests to the target (health gate, doctor) expand the URL in
memory with `expand_env`. `$${` writes a literal `${`.
"""

from __future__ import annotations

import os
import re
from typing import Any

from pydantic import BaseModel

from orchestrator.errors import ConfigError

# ${NAME} or ${NAME:-default}; `$${` escapes. Anything else (`${a.b}`, `${1+1}`) is literal text.
ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# Subtrees the k6 script sends: `${VAR}` there is resolved by k6 from its environment.
RUNTIME_SUBTREES = (("target", "base_url"), ("target", "ws_base_url"), ("target", "headers"), ("scenarios",))

# Prometheus credentials: `${VAR}` stays in the config, filled in in memory when a client or
# k6's environment is made (orchestrator/monitoring/access.py).
PROMETHEUS_SECRET_FIELDS = (("prometheus", "headers"), ("prometheus", "bearer_token"))


def is_runtime(loc: tuple) -> bool:
    """Whether the field at `loc` keeps its `${VAR}` in the config (k6, or perfctl in memory, fills it in)."""
    return any(loc[: len(prefix)] == prefix for prefix in RUNTIME_SUBTREES + PROMETHEUS_SECRET_FIELDS)


def fill(text: str, environ, on_missing) -> str:
    """The one substitution rule: `$${` is a literal `${`; `${NAME}` from `environ`, else its
    `:-default`, else whatever `on_missing(NAME)` says (or raises)."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        return on_missing(name)

    return ENV_REF.sub(replace, text)


def unset_message(field: str, name: str) -> str:
    return f"{field}: environment variable {name} is not set (or give ${{{name}:-default}})"


def expand_env(text: str, environ: dict[str, str] | None = None, *, field: str = "value") -> str:
    """`${VAR}` / `${VAR:-default}` in `text` filled in from `environ` (default: os.environ), for
    perfctl's own use in memory; never write the result anywhere. ConfigError naming `field`
    when a variable without default is not set."""
    environ = os.environ if environ is None else environ

    def missing(name: str) -> str:
        raise ConfigError(unset_message(field, name))

    return fill(text, environ, missing)


def shape_text(text: str, environ: dict[str, str] | None) -> str:
    """`text` with its variables filled in where known, for checking a URL's shape only."""
    try:
        return expand_env(text, environ)
    except ConfigError:
        return text  # reported on its own (load_config); the shape check sees the reference


def redact_url(url: str) -> str:
    """A URL fit for results and logs: a password in it becomes `***` (`http://user:***@host`)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def runtime_env_refs(config: BaseModel, scenarios: list[str] | None = None) -> dict[str, str | None]:
    """Every `${VAR}` the k6 script will read from its environment -> its default (None: required).
    `scenarios`: only what these scenarios (and the parts they include) send. `config` is a
    Config (orchestrator/config/model.py, which sits above this module)."""
    found: dict[str, str | None] = {}
    dumped = config.model_dump(by_alias=True, mode="json")
    if scenarios is not None:
        wanted = set(scenarios)
        for name in scenarios:
            wanted.update(config.scenarios[name].include if name in config.scenarios else [])
        dumped["scenarios"] = {k: v for k, v in dumped["scenarios"].items() if k in wanted}
    for scenario in dumped["scenarios"].values():
        # A description is text for people (a comment in the script): `${x}` there is not read from k6's environment.
        scenario.pop("description", None)
    for subtree in RUNTIME_SUBTREES:
        node: Any = dumped
        for key in subtree:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        for text in _strings(node):
            for match in ENV_REF.finditer(text):
                name, default = match.group(1), match.group(2)
                if not name:
                    continue  # `$${`, a literal
                # One reference without a default makes the variable required.
                found[name] = None if (name in found and found[name] is None) else default
    return found


def missing_runtime_env(
    config: BaseModel, environ: dict[str, str] | None = None, scenarios: list[str] | None = None
) -> list[str]:
    environ = os.environ if environ is None else environ
    refs = runtime_env_refs(config, scenarios)
    return sorted(n for n, default in refs.items() if default is None and n not in environ)


def _strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
