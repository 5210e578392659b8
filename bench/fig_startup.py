"""Figure 2, start-up: `perfctl --help` and `perfctl --version` against `python -c pass`."""

from __future__ import annotations

import subprocess

from bench import importtime
from bench.context import BenchContext, shown
from bench.measure import run_measured
from bench.stats import FigureResult, Headline, Row, Summary, Target, pairwise_ratios

TARGET_MS = Target("<=", 130, "ms")  # issue 15, item 5


def run(ctx: BenchContext) -> FigureResult:
    fig = FigureResult("startup", "Start-up: perfctl --help / --version against python -c pass")
    commands = {
        "python -c pass": [ctx.python, "-c", "pass"],
        "perfctl --help": [*ctx.perfctl, "--help"],
        "perfctl --version": [*ctx.perfctl, "--version"],
    }
    env = {"NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    for argv in commands.values():  # warm the page cache and .pyc files first
        run_measured(argv, env=env, timeout=60)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(ctx.reps(15, 3)):
        for name, argv in commands.items():  # alternating, so drifts hit every command alike
            walls[name].append(run_measured(argv, env=env, timeout=60).wall * 1000)
    # The first --help after an install or an upgrade renders with Typer (cli/help_cache.py keeps
    # the text for the calls after it): measured with an empty cache each time.
    scratch = ctx.dir("startup")
    first = [run_measured(commands["perfctl --help"], env={**env, "XDG_CACHE_HOME": str(scratch / f"empty-{i}")},
                          timeout=60).wall * 1000 for i in range(ctx.reps(15, 3))]
    fig.rows.append(Row("perfctl --help, first call (empty cache: Typer renders the page)", Summary.of(first), "ms"))
    base = walls["python -c pass"]
    fig.rows.append(Row("python -c pass: wall", Summary.of(base), "ms"))
    for name in ("perfctl --help", "perfctl --version"):
        fig.headlines.append(Headline(f"{name}: wall", Summary.of(walls[name]), TARGET_MS, "ms"))
        fig.rows.append(Row(f"{name} / python -c pass", Summary.of(pairwise_ratios(walls[name], base)), "×"))
    fig.commands += [shown(argv) for argv in commands.values()]
    # The same program under -X importtime: the console script, or `-m orchestrator`.
    program = ctx.perfctl if len(ctx.perfctl) == 1 else ctx.perfctl[1:]
    profile_argv = [ctx.python, "-X", "importtime", *program, "--help"]
    out = subprocess.run(profile_argv, capture_output=True, text=True, env=env, timeout=60)
    entries = importtime.parse(out.stderr)
    fig.extra["importtime_top_level"] = [
        {"module": e.module, "cumulative_ms": round(e.cumulative_us / 1000, 1), "self_ms": round(e.self_us / 1000, 1)}
        for e in importtime.top_level(entries)
    ]
    fig.extra["importtime_heaviest_modules_self"] = [
        {"module": e.module, "self_ms": round(e.self_us / 1000, 1), "depth": e.depth} for e in importtime.top_self(entries)
    ]
    fig.extra["importtime_total_ms"] = round(importtime.total_us(entries) / 1000, 1)
    fig.commands.append(shown(profile_argv) + "  # import profile")
    return fig
