"""`python -m bench [--only a,b] [--quick]`: measure the figures, write results.md and results.json."""

from __future__ import annotations

import argparse
import importlib
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import machine, results
from bench.context import BenchContext
from bench.stats import FigureResult

# key -> module (bench/fig_<module>.py), in the order.
FIGURES = {
    "overhead": "fig_overhead",
    "startup": "fig_startup",
    "script": "fig_script",
    "pipeline": "fig_pipeline",
    "websocket": "fig_websocket",
    "gate": "fig_gate",
    "ledger": "fig_ledger",
    "taurus": "fig_taurus",
    "vu_memory": "fig_vu_memory",
    "scale": "fig_scale",
    "soak": "fig_soak",
}
# Figures that take many minutes and load the whole machine: measured only when --only names them.
ONLY_WHEN_ASKED = {"scale", "soak"}
BENCH_DIR = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", help=f"comma-separated figures ({','.join(FIGURES)}); "
                                       f"default: all but {','.join(sorted(ONLY_WHEN_ASKED))}")
    parser.add_argument("--quick", action="store_true", help="short tests, 2 repetitions: to develop the benchmark")
    parser.add_argument("--out", type=Path, help="where results.md/json go (default: bench/, or a temp dir with --quick)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, k6 summaries)")
    parser.add_argument("--merge", action="store_true",
                        help="put the measured figures into the existing results.md/json instead of replacing them")
    args = parser.parse_args(argv)
    default = ",".join(k for k in FIGURES if k not in ONLY_WHEN_ASKED)
    chosen = [k.strip() for k in (args.only or default).split(",") if k.strip()]
    unknown = [k for k in chosen if k not in FIGURES]
    if unknown:
        parser.error(f"--only: unknown figure(s) {', '.join(unknown)} (known: {', '.join(FIGURES)})")
    args.figures = chosen
    return args


def measure(key: str, ctx: BenchContext) -> FigureResult:
    module = importlib.import_module(f"bench.{FIGURES[key]}")
    started = time.monotonic()
    print(f"bench: {key} ...", file=sys.stderr, flush=True)
    try:
        figure = module.run(ctx)
    except Exception as exc:  # one broken figure must not cost the others
        traceback.print_exc()
        figure = FigureResult(key, key, error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    figure.extra_seconds = time.monotonic() - started  # type: ignore[attr-defined]
    print(f"bench: {key} done in {figure.extra_seconds:.0f}s: {results.status(figure.met)}", file=sys.stderr, flush=True)
    return figure


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="perfctl-bench-"))
    workdir.chmod(0o755)
    ctx = BenchContext(workdir=workdir, quick=args.quick)
    invocation = ("bench/run " + shlex.join(sys.argv[1:] if argv is None else argv)).strip()
    try:
        about = machine.describe(ctx.k6, ctx.python)
        figures = [measure(key, ctx) for key in args.figures]
    finally:
        if args.keep:
            print(f"bench: scratch kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    out = args.out or (Path(tempfile.gettempdir()) / "perfctl-bench-quick" if args.quick else BENCH_DIR)
    out.mkdir(parents=True, exist_ok=True)
    if args.merge and (out / "results.md").exists() and (out / "results.json").exists():
        import json

        from bench import results_merge

        # A figure that broke (or was stopped) keeps what it measured last time: merging its
        # empty result would put "not measured" over recorded numbers.
        for figure in figures:
            if figure.error is not None:
                print(f"bench: {figure.key} not merged ({figure.error}); its earlier results stay", file=sys.stderr)
        measured = [figure for figure in figures if figure.error is None]
        numbers = {figure.key: list(FIGURES).index(figure.key) + 1 for figure in measured}
        (out / "results.md").write_text(
            results_merge.render_merged((out / "results.md").read_text(), measured, about, invocation, numbers))
        merged = results_merge.merge_json(json.loads((out / "results.json").read_text()),
                                          json.loads(results.render_json(measured, about, invocation)))
        (out / "results.json").write_text(json.dumps(merged, indent=2) + "\n")
    else:
        (out / "results.md").write_text(results.render_markdown(figures, about, invocation))
        (out / "results.json").write_text(results.render_json(figures, about, invocation))
    print(f"bench: wrote {out / 'results.md'} and {out / 'results.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
