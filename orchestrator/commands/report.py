"""`perfctl report RUN --format html|md|junit|json`: a run's report, printed or written.

The latest verdict of the run is used (`verdict-<time>.json` from `perfctl evaluate`
beats the first `verdict.json`). Reports written with the verdict are returned as they
are; one that is missing (a run from before report.html existed) is rebuilt from the
verdict, and for html from Prometheus' data of the run's window.
"""

from __future__ import annotations

import sys
from pathlib import Path

from orchestrator.verdict import gate
from orchestrator.report import formats as report
from orchestrator.report import html as report_html
from orchestrator.config.load import load_config
from orchestrator.errors import LedgerError, UsageError
from orchestrator.ledger.store import Ledger, RunDir, results_root, write_output

FORMATS = {"html": ("report", ".html"), "md": ("report", ".md"), "junit": ("junit", ".xml"), "json": ("verdict", ".json")}


def latest_suffix(run: RunDir) -> str:
    """'' for verdict.json, or '-<UTC time>' of the newest re-evaluation (the names sort by time)."""
    later = sorted(p.name[len("verdict"):-len(".json")] for p in run.path.glob("verdict-*.json"))
    if later:
        return later[-1]
    if not run.file("verdict.json").exists():
        raise UsageError(f"run {run.id} has no verdict yet", hint=f"perfctl evaluate {run.id}")
    return ""


def report_cmd(config_path: Path | None, run_id: str, *, fmt: str, output: Path | None, results: Path | None) -> int:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: use one of {', '.join(FORMATS)}")
    loaded = load_config(config_path) if results is None or fmt == "html" else None
    root = results if results is not None else results_root(loaded, None)
    run = Ledger(root).get(run_id)
    suffix = latest_suffix(run)
    stem, ext = FORMATS[fmt]
    stored = run.file(f"{stem}{suffix}{ext}")
    text = stored.read_text(encoding="utf-8") if stored.exists() else _rebuild(run, suffix, fmt, loaded)
    if output is None:
        sys.stdout.write(text)
    else:
        write_output(output, text)
        print(f"wrote {output}")
    return 0


def _rebuild(run: RunDir, suffix: str, fmt: str, loaded) -> str:
    name = f"verdict{suffix}.json"
    document = run.read_json(name) or {}
    try:
        verdict = report.verdict_from_dict(document)
        run_id, scenario = document["run_id"], document["scenario"]
    except (KeyError, TypeError, ValueError):
        raise LedgerError(f"{run.file(name)}: not a perfctl verdict (schema {document.get('schema')!r})") from None
    seconds = float(document.get("window", {}).get("seconds") or 0.0)
    if fmt == "md":
        return report.markdown(verdict, run_id=run_id, scenario=scenario, window_seconds=seconds, results_path=str(run.path))
    if fmt == "junit":
        return report.junit_xml(verdict, run_id=run_id, scenario=scenario, duration_seconds=seconds)
    # html: the charts need the run's series from Prometheus.
    from orchestrator.k6.memory import as_recorded
    from orchestrator.monitoring.select import for_config

    record = run.record()
    stack = for_config(loaded)
    stack.ensure()  # the configured runtime's Prometheus, with the run's data
    config = as_recorded(loaded, record).config  # native histograms when the run used them
    window = gate.Window(start=record.start, end=record.end)
    data = report_html.collect(
        config, stack.client(), gate.objectives_for(config, scenario), run_id=run_id, window=window,
        record=record, run_path=run.path,
    )
    return report_html.render(data, verdict, document)
