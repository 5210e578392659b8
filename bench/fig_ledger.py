"""Figure 7, ledger scale: `perfctl history` and `perfctl compare` with 10,000 runs."""

from __future__ import annotations

import subprocess

from bench.context import BenchContext, shown
from bench.measure import run_measured
from bench.stats import FigureResult, Headline, Row, Summary, Target
from bench.synthetic_ledger import write_ledger

RUNS = 10_000
TARGET = Target("<", 1000, "ms")


def compare_available(ctx: BenchContext) -> bool:
    out = subprocess.run([*ctx.perfctl, "compare", "--help"], capture_output=True, timeout=60)
    return out.returncode == 0


def run(ctx: BenchContext) -> FigureResult:
    fig = FigureResult("ledger", f"Ledger scale: history and compare with {RUNS:,} runs")
    root = ctx.dir("ledger") / "results"
    ids = write_ledger(root, RUNS)
    env = {"NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    commands = {
        "perfctl --version (start-up only)": [*ctx.perfctl, "--version"],
        "perfctl history": [*ctx.perfctl, "history", "--results", str(root)],
        f"perfctl history --limit {RUNS} --json": [*ctx.perfctl, "history", "--results", str(root), "--limit", str(RUNS), "--json"],
        "perfctl history --scenario health": [*ctx.perfctl, "history", "--results", str(root), "--scenario", "health"],
    }
    if compare_available(ctx):
        # The oldest against the newest: the farthest apart two runs can be.
        commands["perfctl compare"] = [*ctx.perfctl, "compare", ids[0], ids[-1], "--results", str(root)]
    else:
        fig.notes.append("`perfctl compare` does not exist in this version yet: only history was measured.")
    log = ctx.dir("ledger") / "cli.log"
    for argv in commands.values():  # warm-up: page cache, .pyc
        run_measured(argv, env=env, log=log, timeout=120)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(ctx.reps(5, 2)):
        for name, argv in commands.items():
            walls[name].append(run_measured(argv, env=env, log=log, timeout=120).wall * 1000)
    startup = walls["perfctl --version (start-up only)"]
    fig.rows.append(Row("perfctl --version (start-up only)", Summary.of(startup), "ms"))
    for name in list(commands)[1:]:
        if "--json" in name:  # every run read and printed: shown, but the target is about the listing users see
            fig.rows.append(Row(f"{name}: wall (reads all {RUNS:,} runs)", Summary.of(walls[name]), "ms"))
        else:
            fig.headlines.append(Headline(f"{name}: wall", Summary.of(walls[name]), TARGET, "ms"))
        fig.rows.append(Row(f"{name} − start-up", Summary.of([w - s for w, s in zip(walls[name], startup)]), "ms"))
    fig.commands += [shown(argv) for argv in commands.values()]
    return fig
