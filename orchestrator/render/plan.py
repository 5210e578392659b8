"""The PLAN a k6 script interprets: one scenario's parts (executor options, requests, auth,
data pools, thresholds, custom metrics, system tags) as plain data, built in Python.

Everything here becomes JSON inside the script (render/script.py); nothing here writes code.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from orchestrator.config.k6_terms import Threshold
from orchestrator.config.model import Config
from orchestrator.config.scenario import Scenario
from orchestrator.config.durations import k6_duration
from orchestrator.errors import ConfigError

ARRIVAL_RATE = ("constant-arrival-rate", "ramping-arrival-rate")


@dataclass(frozen=True)
class Part:
    name: str
    exec: str
    protocol: str
    executor: str
    scenario: Scenario


def exec_name(name: str, used: set[str]) -> str:
    base = "run_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}_{n}", n + 1
    used.add(candidate)
    return candidate


def build_plan(config: Config, parts: list[Part], config_dir: Path) -> dict:
    thresholds = _thresholds(parts)
    return {
        # As written: `${VAR}` in them is filled in by the script from k6's environment.
        "base_url": config.target.base_url,
        "ws_base_url": config.target.ws_base_url,
        "headers": config.target.headers,
        "scenarios": {p.name: executor_options(p) for p in parts},
        "thresholds": thresholds,
        "system_tags": system_tags(config.k6.system_tags, thresholds),
        "metrics": _metrics(parts),
        "parts": {p.name: _part_data(p, config_dir) for p in parts},
    }


# The system tags perfctl reads: the gate (status, expected_response, name, check, scenario),
# reports and dashboards (method, group, error_code). k6's default set adds url (one series per
# distinct URL), error (free text), proto, subproto, tls_version and service: with them, the
# remote-write output cost a plain HTTP test 2-13% more of its requests in three bench runs
# (bench/, figure 4; noisy, never less).
LEAN_SYSTEM_TAGS = ("status", "method", "name", "group", "check", "error_code", "scenario", "expected_response")


def system_tags(configured: list[str] | None, thresholds: dict[str, list]) -> list[str]:
    """k6.system_tags (or the lean set), plus every system tag a threshold selects on, so a
    threshold such as `http_req_duration{url:...}` still sees its samples."""
    from typing import get_args

    from orchestrator.config.k6_terms import K6SystemTag

    known = set(get_args(K6SystemTag))
    tags = list(configured if configured is not None else LEAN_SYSTEM_TAGS)
    for key in thresholds:
        inner = key.partition("{")[2].rpartition("}")[0]
        for tag in re.findall(r"(?:^|,)\s*([A-Za-z_][A-Za-z0-9_]*)\s*:", inner):
            if tag in known and tag not in tags:
                tags.append(tag)
    return tags


def _thresholds(parts: list[Part]) -> dict[str, list]:
    """Every part's thresholds and its requests' (as `metric{name:request}`), in k6's form."""
    merged: dict[str, list] = {}

    def add(metric: str, items) -> None:
        bucket = merged.setdefault(metric, [])
        for item in items:
            k6_item = _k6_threshold(item)
            if k6_item not in bucket:
                bucket.append(k6_item)

    for part in parts:
        for metric, items in part.scenario.thresholds.items():
            add(metric, items)
        for request in part.scenario.requests:
            for metric, items in request.thresholds.items():
                add(_with_tag(metric, "name", request.name), items)
    return merged


def _k6_threshold(item: str | Threshold):
    if isinstance(item, str):
        return item
    out: dict = {"threshold": item.threshold, "abortOnFail": item.abort_on_fail}
    if item.delay_abort_eval is not None:
        out["delayAbortEval"] = k6_duration(item.delay_abort_eval)
    return out


def _with_tag(metric: str, key: str, value: str) -> str:
    """`http_req_duration` -> `http_req_duration{name:x}`; an existing filter gains the tag."""
    if metric.endswith("}") and "{" in metric:
        return f"{metric[:-1]},{key}:{value}}}"
    return f"{metric}{{{key}:{value}}}"


# Metrics k6 or perfctl's own template define; a custom metric may not reuse their names.
RESERVED_METRICS = frozenset({
    "checks", "data_received", "data_sent", "dropped_iterations", "iteration_duration", "iterations", "vus", "vus_max",
    "http_req_blocked", "http_req_connecting", "http_req_duration", "http_req_failed", "http_req_receiving",
    "http_req_sending", "http_req_tls_handshaking", "http_req_waiting", "http_reqs", "ws_connecting", "ws_msgs_received",
    "ws_msgs_sent", "ws_ping", "ws_session_duration", "ws_sessions", "ws_connect_success", "ws_reply_success",
    "ws_first_chunk_time", "ws_reply_time",
})


def _metrics(parts: list[Part]) -> dict[str, dict]:
    """Custom metrics of all parts: name -> {type, time}. A Trend fed with durations is a time Trend."""
    declared: dict[str, dict] = {}
    for part in parts:
        s = part.scenario
        timed = {m for r in _all_requests(s) for m, what in r.feeds.items() if what == "duration"}
        for metric, kind in s.metrics.items():
            where = f"scenarios.{part.name}.metrics.{metric}"
            if metric in RESERVED_METRICS:
                raise ConfigError(f"{where}: '{metric}' is a metric k6 or perfctl already defines; pick another name")
            entry = {"type": kind, "time": kind == "trend" and metric in timed}
            if metric in declared and declared[metric]["type"] != kind:
                raise ConfigError(f"{where}: declared as {kind} here and as {declared[metric]['type']} in another part")
            declared[metric] = {**entry, "time": entry["time"] or declared.get(metric, {}).get("time", False)}
        for request in _all_requests(s):
            for metric in request.feeds:
                if metric not in s.metrics:
                    raise ConfigError(f"scenarios.{part.name}: request '{request.name}' feeds '{metric}', "
                                      "which is not declared under metrics")
    return declared


def _all_requests(s: Scenario) -> list:
    steps = [s.auth.register_step, s.auth.login] if s.auth else []
    return [r for r in steps if r is not None] + list(s.requests)


def executor_options(part: Part) -> dict:
    s = part.scenario
    opts: dict = {"executor": s.executor, "exec": part.exec, "gracefulStop": "10s"}
    if s.start_time:
        opts["startTime"] = k6_duration(s.start_time)
    if s.tags:
        opts["tags"] = dict(s.tags)
    stages = [{"duration": k6_duration(st.duration), "target": st.target} for st in s.stages]
    vus = s.vus or 1
    if s.executor == "constant-vus":
        opts.update(vus=vus, duration=k6_duration(s.duration or 0))
    elif s.executor == "ramping-vus":
        opts.update(startVUs=s.start_vus or 0, stages=stages, gracefulRampDown="10s")
    elif s.executor in ARRIVAL_RATE:
        pre = s.pre_allocated_vus or max(1, s.vus or 10)
        opts.update(timeUnit=k6_duration(s.time_unit), preAllocatedVUs=pre, maxVUs=max(pre, s.max_vus or pre * 2))
        if s.executor == "constant-arrival-rate":
            opts.update(rate=s.rate, duration=k6_duration(s.duration or 0))
        else:
            opts.update(startRate=s.rate or 0, stages=stages)
    else:  # per-vu-iterations, shared-iterations
        opts.update(vus=vus, iterations=s.iterations)
        if s.duration:
            opts["maxDuration"] = k6_duration(s.duration)
    return opts


def _part_data(part: Part, config_dir: Path) -> dict:
    s = part.scenario
    data: dict = {
        "name": part.name,
        "protocol": s.protocol,
        "think_time": s.think_time,
        "flow": s.flow,
        "data": {name: _pool(part.name, name, pool, config_dir) for name, pool in s.data.items()},
        "auth": _auth(s),
    }
    if s.protocol == "http":
        requests = [_request(r, s) for r in s.requests]
        total, cumulative = 0.0, []
        for r in s.requests:
            total += r.weight
            cumulative.append(total)
        data.update(requests=requests, cumulative_weights=cumulative, total_weight=total + s.idle_weight)
    else:
        flow = s.websocket or _default_websocket()
        data["websocket"] = {
            "path": flow.path,
            "messages": flow.messages,
            "done_type": flow.done_type,
            "reply_timeout_ms": round(flow.reply_timeout * 1000),
            "headers": flow.headers,
        }
    return data


def _request(request, scenario: Scenario) -> dict:
    data = request.model_dump(by_alias=True, mode="json", exclude={"thresholds", "feeds"})
    data["feeds"] = [
        {"metric": metric, "type": scenario.metrics[metric], "what": what} for metric, what in request.feeds.items()
        if metric in scenario.metrics
    ]
    return data


def _auth(s: Scenario) -> dict | None:
    if s.auth is None:
        return None
    a = s.auth
    return {
        "mode": "env" if a.token is not None else a.mode,
        "token": a.token,
        "register": _request(a.register_step, s) if a.register_step else None,
        "login": _request(a.login, s) if a.login else None,
        "token_path": a.token_path,
        "header": a.header,
        "scheme": a.scheme,
    }


def _pool(part: str, name: str, pool, config_dir: Path) -> dict:
    """Inline values travel in PLAN; a file is checked here and read by k6 at start (never copied)."""
    if pool.values is not None:
        return {"source": "inline", "values": pool.values, "order": pool.order}
    path = Path(pool.file)
    path = path if path.is_absolute() else (config_dir / path)
    where = f"scenarios.{part}.data.{name}.file"
    from orchestrator.config.source import read_data_text

    if not path.exists():
        raise ConfigError(f"{where}: {path} does not exist")
    text = read_data_text(path, label=f"{where}: {path}")
    kind = "csv" if path.suffix.lower() == ".csv" else "json"
    rows = _count_rows(text, kind, where)
    if rows == 0:
        raise ConfigError(f"{where}: {path} has no rows")
    return {"source": kind, "path": str(path.resolve()), "order": pool.order, "key": f"{part}:{name}"}


def _count_rows(text: str, kind: str, where: str) -> int:
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(data, list):
            raise ConfigError(f"{where}: the JSON file must hold an array of rows")
        return len(data)
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if not rows:
        return 0
    header = rows[0]
    if any(not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", h.strip()) for h in header):
        raise ConfigError(f"{where}: the first CSV row must name the fields (letters, digits, _): {header}")
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ConfigError(f"{where}: CSV row {i} has {len(row)} fields, the header has {len(header)}")
    return len(rows) - 1


def _default_websocket():
    from orchestrator.config.scenario import WebSocketFlow

    return WebSocketFlow()
