"""Baselines that start from nothing, on real data: real k6 runs against the reference
backend into a real Prometheus, from an empty results folder.

The first run of a relative objective passes with the note, the next judges against it
(last-pass), a pinned run is the default and survives `evaluate`, and require_baseline
keeps the strict inconclusive (exit 98).
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import demo_stack, run_cli

pytestmark = pytest.mark.e2e

SHORT = ["--duration", "5s"]
NOTE = "this run can become one"
OBJECTIVES = [
    {"name": "error_ratio", "sli": "error_ratio", "pass": "< 0.01", "key": True},
    # Relative objectives: target_up is 1 in every healthy run, so ">= -10%" is a real, stable comparison.
    {"name": "up_rel", "sli": "target_up", "job": "backend", "pass": ">= -10%", "key": True},
    {"name": "rps_rel", "sli": "requests_per_second", "pass": ">= -90%"},
]


def by_name(verdict: dict) -> dict[str, dict]:
    return {o["name"]: o for o in verdict["objectives"]}


def variant(stack, name: str, *, objectives=None, gate=None):
    data = yaml.safe_load(stack.config_path.read_text())
    if objectives is not None:
        data["objectives"] = objectives
    data["gate"] = {**data.get("gate", {}), **(gate or {})}
    path = stack.workspace / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_relative_objective_works_from_the_first_run_on(tmp_path):
    with demo_stack(tmp_path) as stack:
        config = variant(stack, "relative", objectives=OBJECTIVES)

        def cli(*args, cfg=config):
            return run_cli(*args, "-c", str(cfg), cwd=stack.workspace)

        assert not (stack.workspace / "results").exists()  # from nothing
        # 1. No baseline anywhere: the relative objectives are not evaluated, the run passes on the rest.
        first = cli("run", "demo", *SHORT)
        assert first.code == 0, first.output
        run1 = stack.last_run()
        verdict1 = stack.verdict(run1)
        grades = by_name(verdict1)
        assert verdict1["result"] == "pass" and grades["error_ratio"]["result"] == "pass"
        for name in ("up_rel", "rps_rel"):
            assert grades[name]["result"] == "not-evaluated" and grades[name]["score"] == 0
            assert grades[name]["value"] is not None and NOTE in grades[name]["reason"]
        assert verdict1["max_score"] == 1  # only error_ratio weighs
        assert any("'up_rel' not evaluated" in r and NOTE in r for r in verdict1["reasons"])
        assert "NOT_EVALUATED" in first.stdout and NOTE in first.stdout
        assert NOTE in (run1 / "report.md").read_text() and NOTE in (run1 / "report.html").read_text()
        assert json.loads((run1 / "run.json").read_text())["baseline"] is None

        # 2. --baseline last-pass finds that run: now the relative objectives are judged against it.
        second = cli("run", "demo", *SHORT, "--baseline", "last-pass")
        assert second.code == 0, second.output
        run2 = stack.last_run()
        verdict2 = stack.verdict(run2)
        assert verdict2["baseline"]["runs"] == [run1.name]
        grades2 = by_name(verdict2)
        assert grades2["up_rel"]["result"] == "pass" and grades2["up_rel"]["baseline"] == 1
        assert grades2["rps_rel"]["result"] == "pass"
        assert grades2["rps_rel"]["baseline"] == pytest.approx(grades["rps_rel"]["value"])
        assert verdict2["max_score"] == 3 and not any(NOTE in r for r in verdict2["reasons"])

        # 3. A pinned run is the default baseline, and the console says so.
        pinned = cli("baseline", "pin", run1.name)
        assert pinned.code == 0, pinned.output
        third = cli("run", "demo", *SHORT)
        assert third.code == 0, third.output
        assert f"baseline: run {run1.name}, pinned for 'demo'" in third.stderr
        run3 = stack.last_run()
        verdict3 = stack.verdict(run3)
        assert verdict3["baseline"]["spec"] == "pinned" and verdict3["baseline"]["runs"] == [run1.name]
        assert by_name(verdict3)["rps_rel"]["baseline"] == pytest.approx(grades["rps_rel"]["value"])

        # 4. evaluate reuses the baseline the run recorded, whatever is pinned since.
        assert cli("baseline", "pin", run2.name).code == 0
        again = cli("evaluate", run3.name, "--json")
        assert again.code == 0, again.output
        rejudged = json.loads(again.stdout)
        assert rejudged["baseline"]["runs"] == [run1.name]
        assert by_name(rejudged)["rps_rel"]["baseline"] == by_name(verdict3)["rps_rel"]["baseline"]
        assert cli("baseline", "unpin", "demo").code == 0
        assert json.loads(cli("evaluate", run3.name, "--json").stdout)["baseline"]["runs"] == [run1.name]

        # 5. --baseline pinned with nothing pinned: exit 2 before any load (no new run folder).
        before = len(stack.runs())
        nothing = cli("run", "demo", *SHORT, "--baseline", "pinned")
        assert nothing.code == 2 and "no baseline is pinned for scenario 'demo'" in nothing.stderr
        assert len(stack.runs()) == before

        # 6. --require-baseline keeps today's strict rule: no baseline is inconclusive (98).
        strict = cli("run", "demo", *SHORT, "--require-baseline")
        assert strict.code == 98, strict.output
        verdict4 = stack.verdict(stack.last_run())
        assert verdict4["result"] == "inconclusive"
        assert by_name(verdict4)["up_rel"]["result"] == "inconclusive"
        assert "needs a baseline" in by_name(verdict4)["up_rel"]["reason"]
        # ... and it stays strict when the run is evaluated again.
        assert cli("evaluate", stack.last_run().name, "--json").code == 98

        # gate.require_baseline in perfctl.yaml: the same, here on the first run's recorded data.
        strict_config = variant(stack, "strict", objectives=OBJECTIVES, gate={"require_baseline": True})
        judged = cli("evaluate", run1.name, "--json", cfg=strict_config)
        assert judged.code == 98, judged.output
        assert by_name(json.loads(judged.stdout))["rps_rel"]["result"] == "inconclusive"

        # Only relative objectives with weight and no baseline: no score. The verdict rests on the
        # weightless rule grades that passed on data (the guards, when perfctl adds them), and
        # without any, nothing was judged: inconclusive, never a pass.
        only_relative = variant(stack, "only-relative", objectives=OBJECTIVES[1:])
        bare = cli("evaluate", run1.name, "--json", cfg=only_relative)
        verdict_bare = json.loads(bare.stdout)
        rules = [o for o in verdict_bare["objectives"] if o["weight"] == 0 and o["value"] is not None]
        if rules:
            assert bare.code == 0 and verdict_bare["reasons"][0].startswith("no score yet"), bare.output
            assert all(o["name"] in verdict_bare["reasons"][0] for o in rules)
        else:
            assert bare.code == 98, bare.output
            assert verdict_bare["reasons"][0].startswith("nothing was judged")
