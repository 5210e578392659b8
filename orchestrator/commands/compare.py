"""`perfctl compare A B`: two runs side by side, every objective and k6 summary metric,
with absolute and relative deltas; a change for the worse beyond both the relative tolerance
and its unit's noise floor (orchestrator/verdict/noise.py) is a regression, and a smaller one is noise.

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

from orchestrator.units import format_value
from orchestrator.verdict import noise
from orchestrator import criteria
from orchestrator.config.load import DEFAULT_CONFIG_NAME, load_config
from orchestrator.config.objectives import CompareSettings
from orchestrator.errors import ExitCode, UsageError
from orchestrator.ledger.store import Ledger, RunDir, results_root
from orchestrator.verdict.noise import Floors
from orchestrator.percent import percent_text

LOWER_IS_BETTER = "lower"
HIGHER_IS_BETTER = "higher"

# k6 metric name patterns -> direction (first match wins); stats of a trend share its direction.
_K6_TIME = re.compile(rf"(^|_)({noise.TIME_WORDS})($|_|{{)")
_K6_DIRECTIONS = (
    (_K6_TIME, LOWER_IS_BETTER),
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
    unit: str | None = None  # noise.MILLISECONDS, SECONDS, RATIO, COUNT; None: unknown (no floor)
    noise: bool = False  # it moved, for better or worse, but within the tolerance or the floor


def compare(config_path: Path | None, run_a: str, run_b: str, *, results: Path | None, tolerance: float | None,
            json_output: bool, fail_on_regression: bool, duration_floor: float | None = None,
            ratio_floor: float | None = None, count_floor: float | None = None, html: Path | None = None) -> int:
    for flag, value in (("--tolerance", tolerance), ("--duration-floor", duration_floor),
                        ("--ratio-floor", ratio_floor), ("--count-floor", count_floor)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UsageError(f"{flag}: must be a number >= 0")
    root, settings = _root_and_settings(config_path, results)
    tolerance = settings.tolerance if tolerance is None else tolerance
    floors = Floors(
        duration_ms=settings.duration_floor_ms if duration_floor is None else duration_floor,
        ratio_points=settings.ratio_floor_points if ratio_floor is None else ratio_floor,
        count=settings.count_floor if count_floor is None else count_floor,
    )
    ledger = Ledger(root)
    a, b = ledger.get(run_a), ledger.get(run_b)
    verdict_a, verdict_b = _verdict(a), _verdict(b)
    rows = objective_rows(verdict_a, verdict_b, tolerance, floors) + k6_rows(_summary(a), _summary(b), tolerance, floors)
    regressions = [r for r in rows if r.regression]
    noisy = [r for r in rows if r.noise]
    if json_output:
        print(json.dumps({
            "a": {"run_id": a.id, "result": verdict_a.get("result"), "percent": verdict_a.get("percent")},
            "b": {"run_id": b.id, "result": verdict_b.get("result"), "percent": verdict_b.get("percent")},
            "tolerance_percent": tolerance,
            "floors": {"duration_ms": floors.duration_ms, "ratio_points": floors.ratio_points, "count": floors.count},
            "regressions": len(regressions),
            "within_noise": len(noisy),
            "rows": [asdict(r) for r in rows],
        }, indent=2))
    else:
        print(table(rows, a.id, b.id, verdict_a, verdict_b, tolerance))
        print(f"{len(regressions)} regression(s) beyond {format_value(tolerance)}% and the noise floors "
              f"({floors.describe()})" + (": " + ", ".join(r.name for r in regressions) if regressions else ""))
        if noisy:
            print(f"{len(noisy)} moved within noise (~): " + ", ".join(r.name for r in noisy))
    if html is not None:
        from orchestrator.report import compare_html
        from orchestrator.ledger.store import write_output

        write_output(html, compare_html.render(rows, a.id, b.id, verdict_a, verdict_b, tolerance=tolerance,
                                               floors=floors.describe()))
        if not json_output:
            print(f"side by side: {html}")
    return int(ExitCode.GATE_FAILED) if fail_on_regression and regressions else 0


def _root_and_settings(config_path: Path | None, results: Path | None) -> tuple[Path, CompareSettings]:
    """The results folder and gate.compare; with --results and no perfctl.yaml here, the defaults."""
    if results is not None and config_path is None and not Path(DEFAULT_CONFIG_NAME).exists():
        return results, CompareSettings()
    loaded = load_config(config_path)
    return (results if results is not None else results_root(loaded, None)), loaded.config.gate.compare


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


def objective_rows(verdict_a: dict, verdict_b: dict, tolerance: float, floors: Floors | None = None) -> list[Row]:
    by_a = {o["name"]: o for o in verdict_a.get("objectives", [])}
    by_b = {o["name"]: o for o in verdict_b.get("objectives", [])}
    names = list(by_b) + [n for n in by_a if n not in by_b]
    rows = []
    for name in names:
        oa, ob = by_a.get(name, {}), by_b.get(name, {})
        better = criterion_direction(ob.get("criterion") or oa.get("criterion") or "")
        unit = noise.objective_unit(ob) or noise.objective_unit(oa)
        rows.append(_row("objective", name, _num(oa.get("value")), _num(ob.get("value")), better, tolerance,
                         (floors or Floors()).of(unit), unit=unit, result_a=oa.get("result"), result_b=ob.get("result")))
    return rows


def k6_rows(metrics_a: dict, metrics_b: dict, tolerance: float, floors: Floors | None = None) -> list[Row]:
    flat_a, flat_b = flatten_summary(metrics_a), flatten_summary(metrics_b)
    stats: dict[str, set[str]] = {}
    for name in set(flat_a) | set(flat_b):
        metric, stat = split_name(name)
        stats.setdefault(metric, set()).add(stat)
    rows = []
    for name in sorted(set(flat_a) | set(flat_b)):
        metric, stat = split_name(name)
        better = None if stat in _NEUTRAL_STATS else k6_direction(metric, stat)
        unit = noise.k6_unit(metric, stat, stats[metric])
        rows.append(_row("k6", name, flat_a.get(name), flat_b.get(name), better, tolerance, (floors or Floors()).of(unit),
                         unit=unit))
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


# A stat is a word or a percentile (`p(99.9)` has a dot); a tagged metric name may have dots too.
_STAT = re.compile(r"^(.*)\.([A-Za-z_]+|p\([\d.]+\))$")


def split_name(name: str) -> tuple[str, str]:
    """`http_req_duration{name:api.v1}.p(99.9)` -> (`http_req_duration{name:api.v1}`, `p(99.9)`)."""
    m = _STAT.match(name)
    if m is None:
        metric, _, stat = name.partition(".")
        return metric, stat
    return m.group(1), m.group(2)


def k6_direction(metric: str, stat: str) -> str | None:
    if metric == "checks" or metric.endswith("_success") or metric.endswith("_success_rate"):
        return {"value": HIGHER_IS_BETTER, "rate": HIGHER_IS_BETTER, "passes": None, "fails": LOWER_IS_BETTER}.get(stat)
    if metric == "http_req_failed":
        # A k6 Rate of failures: its `passes` are failed requests, its `fails` the good ones (the amount of work).
        return {"value": LOWER_IS_BETTER, "rate": LOWER_IS_BETTER, "passes": LOWER_IS_BETTER}.get(stat)
    if stat == "count" and _K6_TIME.search(metric):
        return None  # how many samples a time trend has is the amount of work, not its speed
    for pattern, direction in _K6_DIRECTIONS:
        if pattern.search(metric):
            return direction
    return None


def criterion_direction(text: str) -> str | None:
    """`< 0.01` -> lower is better, `>= 95` -> higher; `between`, `==` have no direction."""
    try:
        parts = criteria.parse_criteria(text).parts
    except ValueError:
        return None
    ops = {p.op for p in parts}
    if ops and ops <= {"<", "<="}:
        return LOWER_IS_BETTER
    if ops and ops <= {">", ">="}:
        return HIGHER_IS_BETTER
    return None


def _row(kind: str, name: str, a: float | None, b: float | None, better: str | None, tolerance: float,
         floor: float = 0.0, **fields) -> Row:
    delta = b - a if a is not None and b is not None else None
    percent = 100.0 * delta / abs(a) if delta is not None and a != 0 else None
    worse = improved = quiet = False
    if delta is not None and delta != 0 and better is not None:
        got_worse = delta > 0 if better == LOWER_IS_BETTER else delta < 0
        # Beyond both the relative tolerance and the unit's floor; from 0 only the floor applies.
        quiet = noise.within_noise(delta, percent, tolerance=tolerance, floor=floor)
        worse, improved = got_worse and not quiet, (not got_worse) and not quiet
    elif a is not None and b is None and kind == "objective":
        worse = True  # B lost a value A had: not knowing is never "no regression"
    return Row(kind, name, a, b, delta, percent, better, worse, improved, noise=quiet, **fields)


def _num(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def table(rows: list[Row], id_a: str, id_b: str, verdict_a: dict, verdict_b: dict, tolerance: float | None = None) -> str:
    def pct(v: float | None) -> str:
        # Beside the tolerance: +5.04% beyond 5% must not read "+5%".
        threshold = None if tolerance is None or v is None else (tolerance if v >= 0 else -tolerance)
        return percent_text(v, signed=True, threshold=threshold)

    def delta(v: float | None) -> str:
        return "—" if v is None else ("+" if v > 0 else "") + format_value(v)

    header = ("", "name", "A", "B", "delta", "delta %", "")
    lines = [header]
    for r in rows:
        mark = "REGRESSION" if r.regression else ("better" if r.improvement else ("~ noise" if r.noise else ""))
        if r.kind == "objective" and r.result_a != r.result_b:
            mark = (mark + f" ({r.result_a or '—'} -> {r.result_b or '—'})").strip()
        lines.append((r.kind, r.name, format_value(r.a), format_value(r.b), delta(r.delta), pct(r.delta_percent), mark))
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
    return "score —" if not isinstance(percent, (int, float)) else f"score {percent_text(percent)}"
