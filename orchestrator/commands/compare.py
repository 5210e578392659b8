"""`perfctl compare A B`: two runs side by side, every objective and k6 summary metric,
with absolute and relative deltas; a change for the worse beyond the tolerance is a regression.

"Worse" comes from the objective's criterion (for `<` criteria higher is worse, for `>`
lower is) and, for k6's own metrics, from what the metric measures (durations and
failures: higher is worse; throughput and check rates: lower is worse). Metrics without
a direction are shown but never marked.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from orchestrator import slo
from orchestrator.commands.run import results_root
from orchestrator.config import load_config
from orchestrator.errors import ExitCode, UsageError
from orchestrator.ledger import Ledger, RunDir

LOWER_IS_BETTER = "lower"
HIGHER_IS_BETTER = "higher"

# k6 metric name patterns -> direction (first match wins); stats of a trend share its direction.
_K6_DIRECTIONS = (
    (re.compile(r"(^|_)(duration|connecting|waiting|blocked|sending|receiving|tls_handshaking|latency)($|_)"), LOWER_IS_BETTER),
    (re.compile(r"^http_req_failed$"), LOWER_IS_BETTER),
    (re.compile(r"^dropped_iterations$"), LOWER_IS_BETTER),
    (re.compile(r"^(http_reqs|iterations)$"), HIGHER_IS_BETTER),
)
# Stats that say nothing good or bad on their own (a count of checks is the amount of work).
_NEUTRAL_STATS = {"min"}


@dataclass(frozen=True)
class Row:
    kind: str  # objective | k6
    name: str
    a: float | None
    b: float | None
    delta: float | None
    delta_percent: float | None
    better: str | None  # lower | higher | None
    regression: bool
    improvement: bool
    result_a: str | None = None
    result_b: str | None = None


def compare(config_path: Path | None, run_a: str, run_b: str, *, results: Path | None, tolerance: float,
            json_output: bool, fail_on_regression: bool) -> int:
    if not 0 <= tolerance < float("inf"):  # nan and inf too: no change is beyond them
        raise UsageError("--tolerance: must be a finite number >= 0")
    root = results if results is not None else results_root(load_config(config_path), None)
    ledger = Ledger(root)
    a, b = ledger.get(run_a), ledger.get(run_b)
    verdict_a, verdict_b = _verdict(a), _verdict(b)
    rows = objective_rows(verdict_a, verdict_b, tolerance) + k6_rows(_summary(a), _summary(b), tolerance)
    regressions = [r for r in rows if r.regression]
    if json_output:
        print(json.dumps({
            "a": {"run_id": a.id, "result": verdict_a.get("result"), "percent": verdict_a.get("percent")},
            "b": {"run_id": b.id, "result": verdict_b.get("result"), "percent": verdict_b.get("percent")},
            "tolerance_percent": tolerance,
            "regressions": len(regressions),
            "rows": [asdict(r) for r in rows],
        }, indent=2))
    else:
        print(table(rows, a.id, b.id, verdict_a, verdict_b))
        print(f"{len(regressions)} regression(s) beyond {slo.format_value(tolerance)}%"
              + (": " + ", ".join(r.name for r in regressions) if regressions else ""))
    return int(ExitCode.GATE_FAILED) if fail_on_regression and regressions else 0


def _verdict(run: RunDir) -> dict:
    verdict = run.read_json("verdict.json")
    if verdict is None:
        raise UsageError(f"run {run.id} has no verdict.json", hint=f"perfctl evaluate {run.id}")
    return verdict


def _summary(run: RunDir) -> dict:
    try:
        data = json.loads(run.file("summary.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data.get("metrics", {}) if isinstance(data, dict) else {}


def objective_rows(verdict_a: dict, verdict_b: dict, tolerance: float) -> list[Row]:
    by_a = {o["name"]: o for o in verdict_a.get("objectives", [])}
    by_b = {o["name"]: o for o in verdict_b.get("objectives", [])}
    names = list(by_b) + [n for n in by_a if n not in by_b]
    rows = []
    for name in names:
        oa, ob = by_a.get(name, {}), by_b.get(name, {})
        better = criterion_direction(ob.get("criterion") or oa.get("criterion") or "")
        rows.append(_row("objective", name, _num(oa.get("value")), _num(ob.get("value")), better, tolerance,
                         result_a=oa.get("result"), result_b=ob.get("result")))
    return rows


def k6_rows(metrics_a: dict, metrics_b: dict, tolerance: float) -> list[Row]:
    flat_a, flat_b = flatten_summary(metrics_a), flatten_summary(metrics_b)
    rows = []
    for name in sorted(set(flat_a) | set(flat_b)):
        metric, _, stat = name.partition(".")
        better = None if stat in _NEUTRAL_STATS else k6_direction(metric, stat)
        rows.append(_row("k6", name, flat_a.get(name), flat_b.get(name), better, tolerance))
    return rows


def flatten_summary(metrics: dict) -> dict[str, float]:
    """`{"http_req_duration": {"p(95)": 12.3}}` -> `{"http_req_duration.p(95)": 12.3}` (numbers only)."""
    flat = {}
    for metric, stats in metrics.items():
        if not isinstance(stats, dict):
            continue
        values = stats.get("values") if isinstance(stats.get("values"), dict) else stats
        for stat, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                flat[f"{metric}.{stat}"] = float(value)
    return flat


def k6_direction(metric: str, stat: str) -> str | None:
    if metric == "checks" or metric.endswith("_success") or metric.endswith("_success_rate"):
        return {"value": HIGHER_IS_BETTER, "rate": HIGHER_IS_BETTER, "passes": None, "fails": LOWER_IS_BETTER}.get(stat)
    for pattern, direction in _K6_DIRECTIONS:
        if pattern.search(metric):
            return direction
    return None


def criterion_direction(text: str) -> str | None:
    """`< 0.01` -> lower is better, `>= 95` -> higher; `between`, `==` have no direction."""
    try:
        parts = slo.parse_criteria(text).parts
    except ValueError:
        return None
    ops = {p.op for p in parts}
    if ops and ops <= {"<", "<="}:
        return LOWER_IS_BETTER
    if ops and ops <= {">", ">="}:
        return HIGHER_IS_BETTER
    return None


def _row(kind: str, name: str, a: float | None, b: float | None, better: str | None, tolerance: float, **results) -> Row:
    delta = b - a if a is not None and b is not None else None
    percent = 100.0 * delta / abs(a) if delta is not None and a != 0 else None
    worse = improved = False
    if delta is not None and delta != 0 and better is not None:
        got_worse = delta > 0 if better == LOWER_IS_BETTER else delta < 0
        # From 0 any change is beyond every tolerance; otherwise the relative change decides.
        beyond = percent is None or abs(percent) > tolerance
        worse, improved = got_worse and beyond, (not got_worse) and beyond
    elif a is not None and b is None and kind == "objective":
        worse = True  # B lost a value A had: not knowing is never "no regression"
    return Row(kind, name, a, b, delta, percent, better, worse, improved, **results)


def _num(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def table(rows: list[Row], id_a: str, id_b: str, verdict_a: dict, verdict_b: dict) -> str:
    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v:+.1f}%"

    def delta(v: float | None) -> str:
        return "—" if v is None else ("+" if v > 0 else "") + slo.format_value(v)

    header = ("", "name", "A", "B", "delta", "delta %", "")
    lines = [header]
    for r in rows:
        mark = "REGRESSION" if r.regression else ("better" if r.improvement else "")
        if r.kind == "objective" and r.result_a != r.result_b:
            mark = (mark + f" ({r.result_a or '—'} -> {r.result_b or '—'})").strip()
        lines.append((r.kind, r.name, slo.format_value(r.a), slo.format_value(r.b), delta(r.delta), pct(r.delta_percent), mark))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = [
        f"A: {id_a} ({verdict_a.get('result')}, {_score(verdict_a)})",
        f"B: {id_b} ({verdict_b.get('result')}, {_score(verdict_b)})",
    ]
    for line in lines:
        cells = [str(c).rjust(w) if i in (2, 3, 4, 5) else str(c).ljust(w) for i, (c, w) in enumerate(zip(line, widths))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def _score(verdict: dict) -> str:
    percent = verdict.get("percent")
    return "score —" if not isinstance(percent, (int, float)) else f"score {percent:.1f}%"
