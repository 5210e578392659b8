"""Figure 3, generated script efficiency: requests/s of perfctl's generated HTTP throughput
scenario against a minimal hand-written k6 script, same request, VUs and outputs, against nginx."""

from __future__ import annotations

import os

from bench import servers
from bench.context import BenchContext, shown
from bench.k6bench import HAND_WRITTEN, render_generated, run_k6, throughput_config
from bench.stats import FigureResult, Headline, Row, Summary, Target, pairwise_ratios

VUS = 10
TARGET = Target(">=", 0.95)


def run(ctx: BenchContext) -> FigureResult:
    duration = ctx.seconds(10, 4)
    fig = FigureResult("script", "Generated script efficiency: perfctl's throughput scenario against a hand-written k6 script")
    home = ctx.dir("script")
    with servers.nginx(home / "nginx") as nginx:
        _, generated = render_generated(
            ctx, home / "generated", throughput_config(nginx.base_url, "http://127.0.0.1:9", vus=VUS, duration=duration),
            "throughput")
        hand = home / "hand-written.js"
        hand.write_text(HAND_WRITTEN)
        env = {**os.environ, "K6_NO_USAGE_REPORT": "true", "VUS": str(VUS), "DURATION": f"{duration:g}s",
               "BASE_URL": nginx.base_url}
        rps = {"generated": [], "hand": []}
        cpu_per_k = {"generated": [], "hand": []}
        for rep in range(ctx.reps(5)):  # five: nginx and k6 share two cores, single runs vary by ±10%
            order = [("generated", generated), ("hand", hand)]
            for name, script in order if rep % 2 == 0 else reversed(order):  # alternate who goes first
                result = run_k6(ctx, script, summary=home / f"{name}-{rep}.json", env=env, log=home / f"{name}.log")
                rps[name].append(result.rps)
                cpu_per_k[name].append(1000 * result.process.cpu / result.metric("http_reqs", "count"))
    fig.headlines.append(Headline("requests/s generated / hand-written", Summary.of(pairwise_ratios(rps["generated"], rps["hand"])), TARGET))
    fig.rows += [
        Row("perfctl-generated script: requests/s", Summary.of(rps["generated"]), "req/s"),
        Row("hand-written script: requests/s", Summary.of(rps["hand"]), "req/s"),
        Row("k6 CPU per 1,000 requests, generated", Summary.of(cpu_per_k["generated"]), "s"),
        Row("k6 CPU per 1,000 requests, hand-written", Summary.of(cpu_per_k["hand"]), "s"),
    ]
    fig.notes.append(f"{VUS} VUs, {duration:g} s each, no think time; GET of a 230-byte static file from nginx "
                     "(one worker) on 127.0.0.1; both with --summary-export only (the output's cost is figure 4).")
    shown_env = {"VUS": str(VUS), "DURATION": f"{duration:g}s", "BASE_URL": "http://127.0.0.1:PORT"}
    fig.commands += [
        "python -c 'bench.k6bench.render_generated(...)'  # perfctl's render path: scenario `throughput` of bench/k6bench.py",
        shown([ctx.k6, "run", "--quiet", "--summary-export", "generated.json", "throughput.js"]),
        shown([ctx.k6, "run", "--quiet", "--summary-export", "hand.json", "hand-written.js"], shown_env, tuple(shown_env)),
    ]
    return fig
