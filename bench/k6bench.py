"""k6 runs for the figures: perfctl-generated scripts, a hand-written one, and their numbers."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

from orchestrator.config.load import load_config
from orchestrator.k6.binary import detect_features
from orchestrator.render.script import Overrides, render_scenario

from bench.context import BenchContext
from bench.measure import ProcessSample, run_measured

# A minimal k6 script as someone would write it by hand: the same request, tag and check
# as perfctl's generated throughput scenario, nothing else.
HAND_WRITTEN = textwrap.dedent("""\
    import http from "k6/http";
    import { check } from "k6";

    export const options = { vus: Number(__ENV.VUS), duration: __ENV.DURATION };
    const URL = `${__ENV.BASE_URL}/index.html`;

    export default function () {
      const res = http.get(URL, { tags: { name: "static" } });
      check(res, { "static: status 200": (r) => r.status === 200 });
    }
    """)


def throughput_config(base_url: str, prometheus_url: str, *, vus: int, duration: float) -> str:
    """perfctl.yaml of the HTTP throughput scenario: constant VUs, no think time, one static GET."""
    return textwrap.dedent(f"""\
        version: 1
        name: bench
        target:
          base_url: {base_url}
          health_path: /health
        prometheus:
          url: {prometheus_url}
          manage: false
        scenarios:
          throughput:
            description: raw HTTP throughput against nginx
            executor: constant-vus
            vus: {vus}
            duration: {duration:g}s
            requests:
              - name: static
                path: /index.html
                expect_status: [200]
        """)


def render_generated(ctx: BenchContext, workspace: Path, config_text: str, scenario: str,
                     overrides: Overrides = Overrides()) -> tuple[Path, Path]:
    """(perfctl.yaml, script.js) rendered by perfctl's own render path."""
    workspace.mkdir(parents=True, exist_ok=True)
    config_path = workspace / "perfctl.yaml"
    config_path.write_text(config_text)
    return config_path, write_script(ctx, config_path, scenario, workspace / f"{scenario}.js", overrides)


def write_script(ctx: BenchContext, config_path: Path, scenario: str, out: Path, overrides: Overrides = Overrides()) -> Path:
    rendered = render_scenario(load_config(config_path), scenario, detect_features(ctx.k6), overrides)
    out.write_text(rendered.text)
    return out


@dataclass(frozen=True)
class K6Result:
    process: ProcessSample
    summary: dict

    def metric(self, name: str, key: str) -> float | None:
        entry = self.summary.get("metrics", {}).get(name)
        if not isinstance(entry, dict):
            return None
        value = entry.get(key)
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def rps(self) -> float:
        rate = self.metric("http_reqs", "rate")
        if not rate:
            raise RuntimeError("k6 made no HTTP requests (see its log)")
        return rate


def run_k6(ctx: BenchContext, script: Path, *, summary: Path, env: dict, log: Path, extra: list[str] = (),
           timeout: float = 300, ok_codes: tuple[int, ...] = (0, 99)) -> K6Result:
    argv = [ctx.k6, "run", "--quiet", *extra, "--summary-export", str(summary), str(script)]
    process = run_measured(argv, env=env, log=log, timeout=timeout, ok_codes=ok_codes)
    return K6Result(process, json.loads(summary.read_text()))
