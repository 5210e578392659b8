"""Guards: no run that failed wholesale can pass.

A config whose objectives watch only latency and backend health would pass a run in
which every request failed (a 500 answers fast). So when no objective of a scenario
watches its errors, the gate adds key guard objectives (`gate.guards`): failed HTTP
requests below 5 % for scenarios that send HTTP, WebSocket message success of at least
95 % for WebSocket ones. They weigh nothing (they must not lift or dilute the user's
score) and act as key objectives: a failed guard fails the gate. Switching them off is
the user's explicit choice, and the verdict says so.

Separately, and whatever the guards say: a run in which k6 sent no requests at all is
never a pass (`no_traffic_grade`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from orchestrator import criteria
from orchestrator.verdict import slo
from orchestrator.config.model import Config
from orchestrator.config.objectives import Objective
from orchestrator.sli import SLIS

HTTP_GUARD = "guard:errors"  # ':' cannot occur in a user's objective name, so a guard never clashes with one
WS_GUARD = "guard:ws_messages"
OFF_NOTE = "guards off: the user's choice (gate.guards.enabled: false)"

# What watches errors: built-in SLIs (their watches_errors_of), and k6's failure metrics in custom queries.
_HTTP_QUERY = re.compile(r"k6_http_req_failed|k6_checks|k6_http_reqs\w*\{[^}]*expected_response")
_WS_QUERY = re.compile(r"k6_ws_reply_success|k6_ws_connect_success|k6_checks")


def sends(config: Config, scenario: str) -> set[str]:
    """What the scenario's k6 parts send: {"http", "websocket"}. A hand-written script
    (`run --script`, not a config scenario) is judged on HTTP, k6's own failure metric."""
    if scenario not in config.scenarios:
        return {"http"}
    names = config.scenarios[scenario].include or [scenario]
    return {config.scenarios[n].protocol for n in names if n in config.scenarios}


def watched(objectives: list[Objective]) -> set[str]:
    """The kinds of traffic whose errors some objective already watches."""
    kinds = set()
    for obj in objectives:
        if obj.sli is not None:
            kinds.update(SLIS[obj.sli].watches_errors_of)
            continue
        if _HTTP_QUERY.search(obj.query or ""):
            kinds.add("http")
        if _WS_QUERY.search(obj.query or ""):
            kinds.add("websocket")
    return kinds


def unguarded(config: Config, scenario: str) -> set[str]:
    """Kinds of traffic the scenario sends that no objective watches. With no objectives at
    all the verdict is inconclusive anyway ("no objectives configured"): nothing to guard."""
    objectives = [o for o in config.objectives if o.applies_to(scenario)]
    if not objectives:
        return set()
    return sends(config, scenario) - watched(objectives)


def guard_objectives(config: Config, scenario: str) -> list[Objective]:
    settings = config.gate.guards
    if not settings.enabled:
        return []
    kinds = unguarded(config, scenario)
    guards = []
    if "http" in kinds:
        guards.append(_guard(HTTP_GUARD, "error_ratio", f"< {settings.http_failed_max:g}"))
    if "websocket" in kinds:
        guards.append(_guard(WS_GUARD, None, f">= {settings.ws_success_min:g}", query=WS_GUARD_QUERY))
    return guards


# The worse of connect success and reply success: a session that never connects sends no
# message, so ws_message_success alone would have no data when every connect fails.
# label_replace keeps the two apart (the *_over_time functions drop the metric name).
WS_GUARD_QUERY = (
    'min(label_replace(last_over_time(k6_ws_reply_success_rate{testid="$testid"}[$window]), "guard", "reply", "", "")'
    ' or label_replace(last_over_time(k6_ws_connect_success_rate{testid="$testid"}[$window]), "guard", "connect", "", ""))'
)


def _guard(name: str, sli: str | None, criterion: str, *, query: str | None = None) -> Objective:
    # Validated as any objective, then given the guard's name and weight, which a user's
    # objective cannot have (no ':' in names, weight > 0).
    obj = Objective(name="guard", sli=sli, query=query, pass_=criterion, key=True)
    return obj.model_copy(update={"name": name, "weight": 0.0})


def note(config: Config, scenario: str) -> str | None:
    """The verdict's word on guards switched off where they would have applied."""
    if config.gate.guards.enabled or not unguarded(config, scenario):
        return None
    return OFF_NOTE


def explain(verdict: slo.Verdict) -> str | None:
    """A line for a verdict a guard did not pass: where the objective the user never wrote comes from."""
    names = [g.name for g in verdict.grades if g.name in (HTTP_GUARD, WS_GUARD) and g.result is not slo.Result.PASS]
    if not names:
        return None
    return f"{', '.join(names)}: perfctl's guard, added because no objective watches errors (gate.guards)"


def describe(config: Config, scenario: str) -> str | None:
    """One line for `perfctl validate`: the guards this scenario gets, or that they are off."""
    off = note(config, scenario)
    if off:
        return off
    guards = guard_objectives(config, scenario)
    if not guards:
        return None
    meaning = {HTTP_GUARD: "failed HTTP requests", WS_GUARD: "WebSocket connect and message success"}
    shown = ", ".join(f"{g.name} ({meaning[g.name]} {g.pass_}, key)" for g in guards)
    return f"guards: {shown} - no objective watches errors"


# ---- k6 sent nothing ------------------------------------------------------------------------------

# Counters of what k6 sent, in its end-of-test summary. A failed request still counts (a
# refused connection is an HTTP request with status 0); data_sent covers any protocol.
_SENT_METRICS = {"http_reqs": "HTTP requests", "ws_sessions": "WebSocket sessions", "grpc_streams": "gRPC streams",
                 "data_sent": "bytes sent"}


def sent_in_summary(path: Path) -> float | None:
    """Nonzero when k6's summary shows that it sent anything (the sum of those counters);
    None without a readable summary. k6 leaves a metric out when it never got a sample."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    metrics = data.get("metrics") if isinstance(data, dict) else None
    if not isinstance(metrics, dict):
        return None
    total = 0.0
    for name in _SENT_METRICS:
        entry = metrics.get(name)
        if isinstance(entry, dict):
            values = entry.get("values") if isinstance(entry.get("values"), dict) else entry
            count = values.get("count")
            total += float(count) if isinstance(count, (int, float)) else 0.0
    return total


def sent_in_prometheus(prom, ctx) -> float | None:
    """The same from k6's remote-write counters (a run without a summary, e.g. on k8s): the
    first that exists; None when Prometheus has none of them: nothing proves k6 sent anything."""
    parts = [f'sum(last_over_time(k6_{m}_total{{testid="$testid"}}[$window]))' for m in _SENT_METRICS]
    return prom.scalar(ctx.fill(" or ".join(parts)), at=ctx.window.end)


def no_traffic_grade(sent: float | None, *, from_summary: bool) -> slo.Grade | None:
    """An inconclusive grade when k6 sent nothing; None when it did."""
    if sent is not None and sent > 0:
        return None
    if from_summary:
        reason = "k6 sent no requests (its summary counts no " + ", no ".join(_SENT_METRICS.values()) + ")"
    else:
        reason = "k6 sent no requests (no summary, and no request counters of this run in Prometheus)"
    spec = slo.ObjectiveSpec(name="k6_requests", pass_criteria=criteria.parse_criteria("> 0"), weight=0.0)
    return slo.grade(spec, None, missing_reason=reason)
