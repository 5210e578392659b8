"""Figure 8, Taurus side by side: the same k6 script under Taurus (bzt, k6 executor), under
`perfctl run --script` and under plain `k6 run`, interleaved: wall, CPU and peak memory of each
process tree, and what each says when k6's thresholds fail (k6 exits 99)."""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

from bench import servers
from bench.context import BenchContext, shown
from bench.fig_overhead import managed_prometheus
from bench.machine import MachineLoad
from bench.measure import ProcessSample, run_measured
from bench.proctree import TreeRssWatch
from bench.stats import FigureResult, Headline, Row, Summary, Target, pairwise_ratios
from bench.taurus_env import (BZT_REQUIREMENT, ensure_bzt, evidence_lines, exit_codes, k6_shim, taurus_config,
                              taurus_env)
from orchestrator.k6.binary import api_address
from orchestrator.netutil import free_port

VUS = 10
SIDES = ("k6", "perfctl", "taurus")
# Ours, not the issue's: perfctl, which also runs Prometheus's gate, costs no more than Taurus.
NO_HEAVIER = Target(">=", 1.0)
PASSING = '{ http_req_failed: ["rate<0.01"] }'
FAILING = '{ http_req_failed: ["rate<0.01"], http_reqs: ["count<1"] }'  # cannot hold: k6 exits 99


def script_text(base_url: str, thresholds: str) -> str:
    """One plain k6 script for all three tools: ~10 ms think time, ~hundreds of requests/s."""
    return textwrap.dedent(f"""\
        import http from "k6/http";
        import {{ check, sleep }} from "k6";

        export const options = {{ thresholds: {thresholds} }};

        export default function () {{
          const res = http.get("{base_url}/index.html", {{ tags: {{ name: "static" }} }});
          check(res, {{ "static: status 200": (r) => r.status === 200 }});
          sleep(0.01);
        }}
        """)


def perfctl_config(base_url: str, prometheus_port: int) -> str:
    """perfctl.yaml for `perfctl run side-by-side --script ...`: nginx as target, perfctl's own Prometheus."""
    return textwrap.dedent(f"""\
        version: 1
        name: taurus-side-by-side
        target:
          base_url: {base_url}
          health_path: /health
        prometheus:
          url: http://127.0.0.1:{prometheus_port}
        scenarios:
          side-by-side:
            description: named by `perfctl run side-by-side --script`; the script sets the load
            executor: constant-vus
            vus: 1
            duration: 1s
            requests:
              - name: static
                path: /index.html
        objectives:
          - name: error_ratio
            sli: error_ratio
            pass: "< 0.01"
            key: true
        """)


class Sides:
    """How each tool runs the script; every run measured the same way (wait4 + tree RSS)."""

    def __init__(self, ctx: BenchContext, home: Path, bzt: Path, config_path: Path):
        self.ctx, self.home, self.bzt, self.config_path = ctx, home, bzt, config_path
        self.runs = 0

    def argv(self, side: str, script: Path, seconds: float, *, label: str, k6_exit_log: Path | None = None):
        """(argv, env, cwd) of one run of `side`."""
        ctx, home = self.ctx, self.home
        if side == "k6":
            env = {**os.environ, "K6_NO_USAGE_REPORT": "true"}
            return ([ctx.k6, "run", "--vus", str(VUS), "--duration", f"{seconds:g}s", "--address", api_address(),
                     str(script)], env, home)
        if side == "perfctl":
            return ([*ctx.perfctl, "run", "side-by-side", "--script", str(script), "--vus", str(VUS),
                     "--duration", f"{seconds:g}s", "-c", str(self.config_path)],
                    {**os.environ, "NO_COLOR": "1"}, self.config_path.parent)
        folder = home / "taurus" / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "taurus.yml").write_text(taurus_config(script, vus=VUS, seconds=seconds, artifacts=folder / "artifacts",
                                                         api_address=api_address()))
        shim = k6_shim(folder / "bin", ctx.k6, exit_log=k6_exit_log)
        return [str(self.bzt), "taurus.yml"], taurus_env(shim, home / "taurus-home"), folder

    def run(self, side: str, script: Path, seconds: float, *, label: str, k6_exit_log: Path | None = None,
            any_code: bool = False) -> tuple[ProcessSample, int, Path]:
        """(process sample, peak RSS of its tree in kB, its log)."""
        argv, env, cwd = self.argv(side, script, seconds, label=label, k6_exit_log=k6_exit_log)
        log = self.home / f"{label}-{side}.log"
        watch = TreeRssWatch()
        ok = tuple(range(256)) if any_code else ((0, 98, 99) if side == "perfctl" else (0,))
        sample = run_measured(argv, env=env, cwd=cwd, log=log, timeout=seconds + 180, ok_codes=ok, on_start=watch.start)
        peak = watch.stop()
        return sample, max(peak, sample.max_rss_kb), log


HTTP_REQS_LINE = re.compile(r"^\s*http_reqs\.*:\s*([0-9]+)", re.MULTILINE)


def http_reqs_in(text: str) -> int | None:
    """Requests k6 made, from its end-of-test summary (`http_reqs......: 9022   450.9/s`)."""
    found = HTTP_REQS_LINE.findall(text)
    return int(found[-1]) if found else None


def requests_made(side: str, log: Path, sides: "Sides", label: str) -> int | None:
    """What k6 did under each tool: its summary in our log (k6), in Taurus's k6.out, in perfctl's summary.json."""
    if side == "k6":
        return http_reqs_in(log.read_text(errors="replace"))
    if side == "taurus":
        outs = sorted((sides.home / "taurus" / label / "artifacts").glob("*/k6.out"))
        return http_reqs_in(outs[-1].read_text(errors="replace")) if outs else None
    summary = json.loads((latest_run_dir(sides.config_path.parent) / "summary.json").read_text())
    return int(summary["metrics"]["http_reqs"]["count"])


def latest_run_dir(workspace: Path) -> Path:
    return max((workspace / "results").iterdir(), key=lambda p: p.stat().st_mtime)


def run(ctx: BenchContext) -> FigureResult:
    seconds = ctx.seconds(20, 5)
    fig = FigureResult("taurus", f"Taurus side by side: the same k6 script under bzt, perfctl run --script and k6 run ({seconds:g} s)")
    home = ctx.dir("taurus")
    bzt, install_seconds = ensure_bzt(ctx.workdir, ctx.python, home / "install.log")
    load = MachineLoad()
    with servers.nginx(home / "nginx") as nginx:
        ok_script, fail_script = home / "side-by-side.js", home / "side-by-side-fail.js"
        ok_script.write_text(script_text(nginx.base_url, PASSING))
        fail_script.write_text(script_text(nginx.base_url, FAILING))
        workspace = home / "ws"
        workspace.mkdir(exist_ok=True)
        config_path = workspace / "perfctl.yaml"
        config_path.write_text(perfctl_config(nginx.base_url, free_port()))
        sides = Sides(ctx, home, bzt, config_path)
        samples: dict[str, list[ProcessSample]] = {s: [] for s in SIDES}
        peaks: dict[str, list[float]] = {s: [] for s in SIDES}
        requests: dict[str, list[int | None]] = {s: [] for s in SIDES}
        perfctl_codes = []
        with managed_prometheus(config_path):
            # Unmeasured warm-up of each: Taurus writes ~/.bzt-rc and compiles its modules, perfctl
            # remembers k6's version and inspects the script once, Prometheus takes its first write.
            for side in SIDES:
                sides.run(side, ok_script, 2, label="warmup")
            for rep in range(ctx.reps(3)):
                order = SIDES[rep % 3:] + SIDES[:rep % 3]  # each tool goes first, second and last once
                for side in order:
                    sample, peak, log = sides.run(side, ok_script, seconds, label=f"rep{rep}")
                    samples[side].append(sample)
                    requests[side].append(requests_made(side, log, sides, f"rep{rep}"))
                    peaks[side].append(peak / 1024)
                    if side == "perfctl":
                        perfctl_codes.append(sample.code)
            failing = failing_thresholds(sides, fail_script, ctx.seconds(5, 3), workspace)

    def ratios(metric, a: str, b: str) -> Summary:
        return Summary.of(pairwise_ratios([metric(s) for s in samples[a]], [metric(s) for s in samples[b]]))

    wall, cpu = (lambda s: s.wall), (lambda s: s.cpu)
    fig.headlines += [
        Headline("wall: bzt / perfctl run", ratios(wall, "taurus", "perfctl"), NO_HEAVIER),
        Headline("CPU (process tree): bzt / perfctl run", ratios(cpu, "taurus", "perfctl"), NO_HEAVIER),
        Headline("peak RSS (process tree): bzt / perfctl run",
                 Summary.of(pairwise_ratios(peaks["taurus"], peaks["perfctl"])), NO_HEAVIER),
    ]
    for side, name in (("taurus", "bzt"), ("perfctl", "perfctl run")):
        fig.rows += [
            Row(f"wall: {name} / k6 run", ratios(wall, side, "k6"), "×"),
            Row(f"CPU: {name} / k6 run", ratios(cpu, side, "k6"), "×"),
            Row(f"peak RSS: {name} / k6 run", Summary.of(pairwise_ratios(peaks[side], peaks["k6"])), "×"),
        ]
    for side, name in (("k6", "k6 run"), ("perfctl", "perfctl run"), ("taurus", "bzt")):
        fig.rows += [
            Row(f"{name}: wall", Summary.of([s.wall for s in samples[side]]), "s"),
            Row(f"{name}: CPU (user+sys, with children)", Summary.of([s.cpu for s in samples[side]]), "s"),
            Row(f"{name}: peak RSS of the process tree", Summary.of(peaks[side]), "MB"),
        ]
    if all(n for values in requests.values() for n in values):
        per_k = {side: [1000 * s.cpu / n for s, n in zip(samples[side], requests[side])] for side in SIDES}
        fig.rows += [Row(f"{name}: requests/s k6 made", Summary.of([n / seconds for n in requests[side]]), "req/s")
                     for side, name in (("k6", "k6 run"), ("perfctl", "perfctl run"), ("taurus", "bzt"))]
        fig.rows.append(Row("CPU per 1,000 requests: bzt / perfctl run",
                            Summary.of(pairwise_ratios(per_k["taurus"], per_k["perfctl"])), "×"))
    else:
        fig.notes.append(f"Requests per run not found in every log: {requests}")
    fig.extra["k6_thresholds_failed"] = failing["table"]
    fig.extra["taurus_output_on_failed_thresholds"] = [{"line": line} for line in failing["taurus_lines"]]
    fig.extra["perfctl_output_on_failed_thresholds"] = [{"line": line} for line in failing["perfctl_lines"]]
    installed = (f"installed with pip in {install_seconds:.0f} s" if install_seconds is not None
                 else "installed earlier in this bench run")
    fig.notes += [
        f"The same script ({VUS} VUs, `sleep(0.01)` per iteration, one GET of nginx's static file on 127.0.0.1, "
        f"{seconds:g} s): `--vus {VUS} --duration {seconds:g}s` for k6 and perfctl, Taurus's `concurrency: {VUS}` and "
        f"`hold-for: {seconds:g}s`, which it turns into the same k6 flags. Sides rotate each repetition "
        "(k6, perfctl, bzt / perfctl, bzt, k6 / ...); one unmeasured 2 s warm-up run of each before.",
        f"Taurus: {BZT_REQUIREMENT} ({installed}) in the bench's own virtualenv, HOME in the scratch dir, "
        "PATH = a folder holding only our k6, `settings.check-updates: false` (no request to gettaurus.org), "
        "default reporters (console, final-stats) and its default local monitoring service. It adds "
        "`--out csv=kpi.csv` to k6 and reads that file back (its own results).",
        "perfctl: `perfctl run side-by-side --script` with its Prometheus started once before (not counted: "
        "a running service, as in figure 1); k6 remote-writes to it and the gate queries it at the end. "
        f"perfctl exit codes: {perfctl_codes}.",
        "CPU is wait4's user+sys of the tool and the children it waited for (k6). Peak memory is the largest "
        "sum of RSS over the tool's process tree, sampled every 0.2 s from /proc (bench/proctree.py).",
        load.note("2 cores shared with other work: the rotation keeps ratios fair"),
        failing["verdict"],
    ]
    fig.commands += [
        shown([ctx.k6, "run", "--vus", str(VUS), "--duration", f"{seconds:g}s", "side-by-side.js"]),
        shown([*ctx.perfctl, "run", "side-by-side", "--script", "side-by-side.js", "--vus", str(VUS), "--duration",
               f"{seconds:g}s", "-c", "perfctl.yaml"]),
        shown(["bzt", "taurus.yml"], {"HOME": "scratch", "PATH": "dir-with-k6-only"}, ("HOME", "PATH"))
        + "  # taurus.yml: executor: k6, concurrency, hold-for, script; settings.check-updates: false",
    ]
    return fig


def source_line(bzt: Path) -> str:
    """Where the installed Taurus looks at k6's exit code: the line itself, quoted with its number."""
    found = sorted((bzt.parent.parent / "lib").glob("python*/site-packages/bzt/modules/k6.py"))
    if not found:
        return "bzt/modules/k6.py: not found"
    lines = found[0].read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if "exited with non-zero code" in line:
            raised = line.strip().startswith("raise")
            return (f"bzt/modules/k6.py line {number}: `{line.strip()}`: "
                    + ("raised." if raised else "an exception built and never raised, so k6's code is dropped; "
                       "without passfail criteria nothing else fails the run."))
    return "bzt/modules/k6.py: no check of k6's exit code found"


def failing_thresholds(sides: Sides, script: Path, seconds: float, workspace: Path) -> dict:
    """Each tool once on the script whose threshold cannot hold: its exit code and k6's."""
    table = []
    k6_sample, _, k6_log = sides.run("k6", script, seconds, label="fail", any_code=True)
    table.append({"tool": "k6 run", "exit code": k6_sample.code, "k6's exit code": k6_sample.code,
                  "reports the failure": k6_sample.code != 0})
    p_sample, _, p_log = sides.run("perfctl", script, seconds, label="fail", any_code=True)
    record = json.loads((latest_run_dir(workspace) / "run.json").read_text())
    p_k6 = record.get("k6_exit_code")
    table.append({"tool": "perfctl run --script", "exit code": p_sample.code, "k6's exit code": p_k6,
                  "reports the failure": p_sample.code != 0})
    exit_log = sides.home / "taurus-k6-exit.log"
    t_sample, _, t_log = sides.run("taurus", script, seconds, label="fail", k6_exit_log=exit_log, any_code=True)
    t_k6 = exit_codes(exit_log)
    table.append({"tool": "bzt (Taurus, k6 executor)", "exit code": t_sample.code,
                  "k6's exit code": t_k6[-1] if t_k6 else None, "reports the failure": t_sample.code != 0})
    artifacts = sides.home / "taurus" / "fail" / "artifacts"
    k6_err = next(iter(sorted(artifacts.glob("*/k6.err"))), None)
    taurus_lines = [f"bzt: {line}" for line in evidence_lines(t_log.read_text(errors="replace"))]
    if k6_err is not None:
        taurus_lines += [f"k6.err (Taurus's artifact): {line}" for line in evidence_lines(k6_err.read_text(errors="replace"))]
    perfctl_lines = evidence_lines(p_log.read_text(errors="replace"), ("crossed", "FAIL", "key objective", "exit code"))[:8]
    said = {0: "exits 0 (a pass)"}.get(t_sample.code, f"exits {t_sample.code}")
    verdict = (f"k6's threshold `http_reqs: count<1` fails (k6 run exits {k6_sample.code}). Under Taurus k6 exited "
               f"{t_k6[-1] if t_k6 else 'unknown'} (recorded by a wrapper on PATH) and bzt {said}; perfctl exits "
               f"{p_sample.code} (k6 exited {p_k6}). Taurus's K6Executor.check(), in the installed "
               f"{source_line(sides.bzt)}")
    return {"table": table, "taurus_lines": taurus_lines, "perfctl_lines": perfctl_lines, "verdict": verdict}
