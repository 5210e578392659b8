"""The memory-per-VU figure's pure parts: its scenarios render, its hand-written scripts are
k6-valid and match the generated scripts' checks, and `--merge` splices one figure into
results.md without touching the others. No timing here (that is `bench/run --only vu_memory`)."""

from __future__ import annotations

import json
import re
import subprocess

from bench import results_merge, vu_scenarios
from bench.results import render_markdown
from bench.stats import FigureResult, Headline, Summary, Target
from orchestrator.config.load import load_config
from orchestrator.k6.binary import find_k6
from orchestrator.k6.features import K6Features
from orchestrator.render.script import render_scenario

BASE = "http://127.0.0.1:18080"


def _rendered(tmp_path):
    config = tmp_path / "perfctl.yaml"
    config.write_text(vu_scenarios.config_text(BASE, vus=10, duration=2, rate=5))
    loaded = load_config(config)
    return {kind: render_scenario(loaded, kind, K6Features((1, 1, 0))) for kind in vu_scenarios.KINDS}


def test_each_kind_renders_and_hand_written_scripts_check_the_same_names(tmp_path):
    rendered = _rendered(tmp_path)
    for kind, script in rendered.items():
        hand = vu_scenarios.hand_written(kind)
        path = tmp_path / f"hand-{kind}.js"
        path.write_text(hand)
        env = [f"--env={k}={v}" for k, v in vu_scenarios.hand_env(BASE, vus=10, duration=2, rate=5).items()]
        done = subprocess.run([find_k6(), "inspect", *env, str(path)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["scenarios"], kind
        # The hand-written checks are named as perfctl's template names them: the same checks count.
        assert set(re.findall(r'"([a-z_/]+: [^"]+)": \(', hand)) == _generated_check_names(script.plan), kind


def _generated_check_names(plan: dict) -> set[str]:
    """The check names the template builds (requestChecks, streamConversation), from the plan."""
    names = set()
    for part in plan["parts"].values():
        if part["protocol"] == "websocket":
            flow = part["websocket"]
            names |= {f"{flow['path']}: connected", f"{flow['path']}: reply done within {flow['reply_timeout_ms']} ms"}
            continue
        auth = part["auth"] or {}
        for req in [auth.get("register"), auth.get("login"), *part["requests"]]:
            if req is None:
                continue
            status = "/".join(map(str, req["expect_status"]))
            names.add(f"{req['name']}: status in {status}" if status else f"{req['name']}: status 2xx/3xx")
            names |= {f"{req['name']}: json has {field}" for field in req["expect_json"]}
            names |= {f"{req['name']}: captures {name}" for name in req["capture"]}
    return names


def test_scripts_define_only_what_their_scenario_uses(tmp_path):
    rendered = _rendered(tmp_path)
    mix, sequence, ws = rendered["http-mix"].text, rendered["http-sequence"].text, rendered["websocket"].text
    assert "k6/execution" not in mix and "k6/ws" not in mix and "websockets" not in mix and "SharedArray" not in mix
    assert "const login0 = " not in mix and "const login0 = " in sequence
    assert 'from "k6/http"' not in ws and "const jsonField = " not in ws
    for text in (script.text for script in rendered.values()):
        assert "new Map(" not in text and "new Set(" not in text
        assert not re.search(r"^(async )?function ", text, re.M), "top-level declarations cost each VU a prototype"
        # No regex runs: the first one makes each VU build RegExp's prototype (~18 KB).
        assert not re.search(r"\.(replace|match|test|split)\(/", text) and "RegExp" not in text


def _figures(value: float, key: str = "vu_memory", label: str = "rss ratio") -> list[FigureResult]:
    return [FigureResult(key, "Memory per VU", headlines=[Headline(label, Summary.of([value]), Target("<=", 1.05))])]


def test_merge_replaces_only_that_figure_and_its_summary_rows():
    existing = render_markdown(
        [FigureResult("a", "First", headlines=[Headline("a ratio", Summary.of([1.0]), Target("<=", 2))]),
         FigureResult("b", "Second", headlines=[Headline("b ratio", Summary.of([3.0]), Target("<=", 2))])],
        {"date": "old"}, "bench/run")
    merged = results_merge.render_merged(existing, _figures(1.5, "b", "b ratio"), {"date": "new"}, "bench/run --only b", {"b": 2})
    assert "| 1 | a ratio | 1.000 | <= 2 | met |" in merged
    assert "| 2 | b ratio | 1.500 | <= 1.05 | MISSED |" in merged and "3.000" not in merged
    assert merged.count("## 2. Memory per VU") == 1 and "## 1. First" in merged and "Second" not in merged
    assert "## 2. Memory per VU\n\nMeasured new with `bench/run --only b` (merged" in merged
    # A figure the file does not have yet is appended, its summary rows after the others.
    added = results_merge.render_merged(merged, _figures(1.01), {"date": "new"}, "bench/run", {"vu_memory": 8})
    assert added.index("| 2 | b ratio") < added.index("| 8 | rss ratio | 1.010") < added.index("## 1. First")
    assert added.rstrip().endswith("```") or "## 8. Memory per VU" in added.split("## 2. ")[1]


def test_merge_json_replaces_by_key():
    merged = results_merge.merge_json({"figures": [{"key": "a", "v": 1}, {"key": "b", "v": 2}]},
                                      {"figures": [{"key": "b", "v": 3}, {"key": "c", "v": 4}]})
    assert merged["figures"] == [{"key": "a", "v": 1}, {"key": "b", "v": 3}, {"key": "c", "v": 4}]
