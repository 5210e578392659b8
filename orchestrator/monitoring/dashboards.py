"""The Grafana dashboard of a config's objectives: one panel per objective, showing the
gate's own series query with the objective's pass and warning bounds as thresholds.

Generated, not static: the bounds are the loaded perfctl.yaml's, so a changed objective
shows up in Grafana without editing JSON. The docker stack writes it into its state dir
(monitoring/stack.py); `perfctl stack compose` writes the compose copy from the demo
example. The static dashboards of monitoring/grafana/dashboards/ carry no objectives.
"""

from __future__ import annotations

import json

from orchestrator import units
from orchestrator import criteria
from orchestrator.config.model import Config
from orchestrator.config.objectives import Objective
from orchestrator.monitoring.grafana import OBJECTIVES_DASHBOARD_UID as OBJECTIVES_UID
from orchestrator.sli import SLIS

OBJECTIVES_FILE = "objectives.json"
DATASOURCE = {"type": "prometheus", "uid": "perfctl-prometheus"}

# The gate's placeholders as Grafana spells them, over the dashboard's time range instead of
# the run window (`$job` is the objective's own, filled like the gate does).
GRAFANA_PLACEHOLDERS = {
    "$testid": "$testid",
    "$window": "$__range",
    "$seconds": "$__range_s",
    "$start": "${__from:date:seconds}",
    "$end": "${__to:date:seconds}",
    "$rate_range": "$__rate_interval",
    "$push_range": "$__rate_interval",
    "$step": "$__interval",
}
# perfctl's units (orchestrator/units.py, one per SLI and `unit:` on custom objectives) as Grafana's unit ids.
GRAFANA_UNITS = {
    "s": "s", "ms": "ms", "ratio": "percentunit", "percent": "percent", "req/s": "reqps", "Hz": "hertz",
    "bytes": "decbytes", "messages": "short", "iterations": "short", "requests": "short", "count": "short", "none": "none",
}
PASS, WARNING, FAIL = "green", "orange", "red"


def grafana_query(obj: Objective) -> str:
    """The objective's series as a Grafana query: native histograms when the run sent them
    (`--instances`, k8s), k6's trend stats otherwise; `or` keeps one panel right for both."""
    if obj.query is not None:
        # As the report charts a custom query: over a trailing range instead of the whole window.
        forms = [obj.query.replace("$window", "$push_range")]
    else:
        record = SLIS[obj.sli]
        forms = [record.series] if record.native_series is None else [record.native_series, record.series]
    expr = " or ".join(f"({form})" if len(forms) > 1 else form for form in forms)
    values = {**GRAFANA_PLACEHOLDERS, "$job": obj.job or ""}
    # Longest first, so `$start` is never eaten by a shorter name (as in gate.QueryContext.fill).
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(name, values[name])
    return expr


def _absolute_parts(text: str | None) -> list[criteria.Criterion]:
    # Relative parts (`<= +10%`) depend on a baseline run: no fixed line to draw.
    return [] if text is None else [p for p in criteria.parse_criteria(text).parts if not p.relative]


def threshold_steps(obj: Objective) -> list[dict]:
    """Grafana threshold steps (a colour from each value upwards) that grade like the gate:
    each stretch between two bounds takes the grade of a point inside it."""
    passing, warning = _absolute_parts(obj.pass_), _absolute_parts(obj.warning)
    bounds = sorted({b for part in passing + warning for b in (part.value, part.high) if b is not None})
    if not bounds:
        return [{"color": "blue", "value": None}]

    def grade(value: float) -> str:
        if all(criteria.criterion_holds(p, value, None) for p in passing):
            return PASS
        if warning and all(criteria.criterion_holds(p, value, None) for p in warning):
            return WARNING
        return FAIL

    # A point inside each stretch: below the first bound, between two, above the last.
    span = max(bounds[-1] - bounds[0], max(abs(b) for b in bounds), 1.0)
    inside = [bounds[0] - span] + [(a + b) / 2 for a, b in zip(bounds, bounds[1:])] + [bounds[-1] + span]
    steps = [{"color": grade(inside[0]), "value": None}]
    for bound, point in zip(bounds, inside[1:]):
        color = grade(point)
        if color != steps[-1]["color"]:
            steps.append({"color": color, "value": int(bound) if bound.is_integer() else bound})
    return steps


def _title(obj: Objective) -> str:
    title = f"{obj.name}: pass {obj.pass_}"
    return title + (f", warning {obj.warning}" if obj.warning else "")


def _description(obj: Objective) -> str:
    what = f"built-in SLI {obj.sli}" if obj.sli else "custom query"
    where = ", ".join(obj.scenarios) if obj.scenarios else "every scenario"
    key = " A key objective: failing it fails the run." if obj.key else ""
    return (f"{what}, for {where}. The gate grades its value over the run window; this is the "
            f"same quantity at each moment.{key}")


def objective_panel(obj: Objective, index: int) -> dict:
    defaults: dict = {
        "thresholds": {"mode": "absolute", "steps": threshold_steps(obj)},
        "color": {"mode": "thresholds"},
        "custom": {"thresholdsStyle": {"mode": "line+area"}},
    }
    unit = units.sli_unit(obj.sli, obj.unit)
    if unit != "none":
        defaults["unit"] = GRAFANA_UNITS[unit]
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": _title(obj),
        "description": _description(obj),
        "datasource": DATASOURCE,
        "gridPos": {"x": 12 * (index % 2), "y": 8 * (index // 2), "w": 12, "h": 8},
        "targets": [{
            "datasource": DATASOURCE,
            "expr": grafana_query(obj),
            "legendFormat": obj.name,
            "refId": "A",
            "range": True,
        }],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {},
    }


def objectives_dashboard(config: Config) -> dict:
    return {
        "uid": OBJECTIVES_UID,
        "title": f"perfctl objectives: {config.name}",
        "description": "Generated by perfctl from perfctl.yaml: each objective with its pass and warning bounds.",
        "tags": ["perfctl", "slo"],
        "editable": False,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "timezone": "",
        "templating": {"list": [{
            "name": "testid",
            "label": "test id",
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": "label_values(k6_vus, testid)", "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "definition": "label_values(k6_vus, testid)",
            "refresh": 2,
            "sort": 2,
            "includeAll": False,
            "multi": False,
            "current": {},
        }]},
        "annotations": {"list": []},
        "links": [{"title": "perfctl dashboards", "type": "dashboards", "tags": ["perfctl"],
                   "asDropdown": False, "includeVars": True, "keepTime": True}],
        "panels": [objective_panel(obj, i) for i, obj in enumerate(config.objectives)],
    }


def objectives_dashboard_text(config: Config) -> str:
    return json.dumps(objectives_dashboard(config), indent=2) + "\n"

