"""The benchmark's pure helpers (bench/): statistics, rendering, parsing. No timing here:
the benchmark itself is `bench/run`, never a test."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from bench import importtime, results
from bench.fig_overhead import k6_argv_of
from bench.fig_taurus import http_reqs_in
from bench.fig_websocket import replies_and_errors
from bench.machine import cpu_ticks, steal_percent
from bench.proctree import descendants
from bench.stats import FigureResult, Headline, Row, Summary, Target, bracketed_ratios, median, pairwise_ratios
from bench.synthetic_ledger import write_ledger
from bench.synthetic_tsdb import Series, openmetrics_lines
from bench.taurus_env import evidence_lines, exit_codes, k6_shim, taurus_config, taurus_env
from orchestrator.ledger.store import Ledger


def test_median_and_spread():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    summary = Summary.of([1.0, 1.1, 0.9, 1.0])
    assert (summary.median, summary.low, summary.high, summary.n) == (1.0, 0.9, 1.1, 4)
    assert summary.spread_percent == pytest.approx(10.0)
    with pytest.raises(ValueError):
        median([])


def test_pairwise_ratios_pair_each_candidate_with_its_own_baseline():
    assert pairwise_ratios([2.0, 3.0], [1.0, 2.0]) == [2.0, 1.5]
    with pytest.raises(ValueError):
        pairwise_ratios([1.0], [1.0, 2.0])


def test_targets_and_headlines_decide_met():
    assert Target("<=", 1.05).met_by(1.05) and not Target("<=", 1.05).met_by(1.06)
    assert Target(">=", 0.95).met_by(0.97) and not Target(">=", 0.95).met_by(0.9)
    assert Target("<", 150, "ms").text == "< 150 ms"
    fig = FigureResult("x", "X", headlines=[Headline("a", Summary.of([1.0]), Target("<=", 2)),
                                            Headline("b", Summary.of([3.0]), Target("<=", 2))])
    assert fig.met is False
    assert FigureResult("y", "Y", error="boom").met is None


def test_results_markdown_has_every_figure_machine_and_commands():
    figures = [
        FigureResult("overhead", "Orchestration overhead", headlines=[Headline("wall ratio", Summary.of([1.02, 1.04, 1.03]), Target("<=", 1.05))],
                     rows=[Row("perfctl run: wall", Summary.of([20.5, 20.7]), "s")], notes=["a note"],
                     commands=["perfctl run chat-http --duration 20s"], extra={"levels": [{"VUs": 1000, "held": True}]}),
        FigureResult("gate", "Gate speed", error="RuntimeError: no promtool"),
    ]
    text = results.render_markdown(figures, {"date": "2026-11-27T14:00:00Z", "nproc": 2, "k6": "k6 v1.1.0"}, "bench/run")
    assert "## 1. Orchestration overhead" in text and "## 2. Gate speed" in text
    assert "| 1 | wall ratio | 1.030 | <= 1.05 | met |" in text
    assert "Not measured: RuntimeError: no promtool" in text
    assert "| nproc | 2 |" in text and "k6 v1.1.0" in text
    assert "perfctl run chat-http --duration 20s" in text and "- a note" in text
    assert "| 1000 | True |" in text
    data = json.loads(results.render_json(figures, {"nproc": 2}, "bench/run"))
    assert data["figures"][0]["headlines"][0]["median"] == pytest.approx(1.03)
    assert data["figures"][0]["met"] is True and data["figures"][1]["met"] is None


def test_importtime_parsing_keeps_nesting():
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |     json.decoder\n"
        "import time:       200 |        300 |   json\n"
        "import time:      1000 |       1500 | orchestrator.cli\n"
        "import time:        50 |         50 | site\n"
    )
    entries = importtime.parse(stderr)
    assert [(e.module, e.depth) for e in entries] == [("json.decoder", 2), ("json", 1), ("orchestrator.cli", 0), ("site", 0)]
    assert [e.module for e in importtime.top_level(entries)] == ["orchestrator.cli", "site"]
    assert importtime.total_us(entries) == 1550


def test_openmetrics_families_are_contiguous_and_end_with_eof():
    series = [Series("a", {"x": "1"}, lambda i: i), Series("b", {}, lambda i: 1.0), Series("a", {"x": "2"}, lambda i: 2 * i)]
    lines = list(openmetrics_lines(series, start=1000, seconds=2))
    assert lines[-1] == "# EOF\n"
    assert lines[:3] == ["# TYPE a gauge\n", 'a{x="1"} 0 1000\n', 'a{x="1"} 1 1001\n']
    assert lines.count("# TYPE a gauge\n") == 1  # both `a` series under one family header


def test_synthetic_ledger_is_readable_by_perfctl(tmp_path):
    ids = write_ledger(tmp_path / "results", 25)
    runs = Ledger(tmp_path / "results").runs()
    assert [r.id for r in runs] == ids == sorted(ids)
    assert runs[0].run_record()["status"] == "finished"


def test_k6_argv_of_reuses_perfctl_argv_with_new_testid_and_summary(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"k6": {"argv": [
        "run", "--tag", "testid=abc", "-o", "experimental-prometheus-rw", "--summary-export", "/r/abc/summary.json", "/r/abc/script.js"]}}))
    argv = k6_argv_of(tmp_path, "/bin/k6", "bench-1", tmp_path / "s.json")
    assert argv == ["/bin/k6", "run", "--tag", "testid=bench-1", "-o", "experimental-prometheus-rw",
                    "--summary-export", str(tmp_path / "s.json"), "/r/abc/script.js"]


def test_websocket_errors_count_failed_replies_and_connects():
    summary = {"metrics": {"ws_reply_success": {"passes": 990, "fails": 5}, "ws_connect_success": {"passes": 500, "fails": 5},
                           "ws_sessions": {"rate": 12.5}}}
    replies, error, sessions = replies_and_errors(summary)
    assert replies == 990 and error == pytest.approx(10 / 1000) and sessions == 12.5
    assert replies_and_errors({})[1] is None


def test_bracketed_ratios_divide_each_candidate_by_the_baselines_beside_it():
    runs = [("B", 100.0), ("V1", 90.0), ("B", 80.0), ("V2", 80.0), ("B", 120.0), ("V1", 50.0)]
    ratios = bracketed_ratios(runs, "B")
    assert ratios["V1"] == [pytest.approx(90 / 90), pytest.approx(50 / 120)]  # the last has one neighbour
    assert ratios["V2"] == [pytest.approx(80 / 100)]
    with pytest.raises(ValueError, match="no baseline"):
        bracketed_ratios([("B", 1.0), ("V1", 1.0), ("V2", 1.0)], "B")


def test_process_tree_walks_every_descendant_once():
    children = {1: [2, 3], 2: [4], 4: [5], 3: [], 9: [10]}
    assert sorted(descendants(children, 1)) == [1, 2, 3, 4, 5]
    assert descendants(children, 5) == [5]
    assert descendants({1: [2], 2: [1]}, 1) == [1, 2]  # a loop (pid reuse while walking) ends


def test_taurus_config_runs_our_script_with_our_load_and_no_update_check(tmp_path):
    data = yaml.safe_load(taurus_config(tmp_path / "s.js", vus=10, seconds=20, artifacts=tmp_path / "a",
                                        api_address="127.0.0.1:7000"))
    assert data["settings"]["check-updates"] is False
    assert data["settings"]["artifacts-dir"].startswith(str(tmp_path / "a"))
    (execution,) = data["execution"]
    assert execution == {"executor": "k6", "concurrency": 10, "hold-for": "20s", "scenario": "side-by-side"}
    assert data["scenarios"]["side-by-side"]["script"] == str(tmp_path / "s.js")
    assert data["modules"]["k6"]["cmdline"] == "--address 127.0.0.1:7000"


def test_k6_shim_puts_only_our_k6_on_path_and_records_run_exit_codes(tmp_path):
    fake_k6 = tmp_path / "fake-k6"
    fake_k6.write_text("#!/bin/sh\n[ \"$1\" = run ] && exit 99\nexit 0\n")
    fake_k6.chmod(0o755)
    plain = k6_shim(tmp_path / "plain", str(fake_k6))
    assert sorted(p.name for p in plain.iterdir()) == ["k6"] and (plain / "k6").resolve() == fake_k6
    log = tmp_path / "exits.log"
    wrapped = k6_shim(tmp_path / "wrapped", str(fake_k6), exit_log=log)
    assert subprocess.run([str(wrapped / "k6"), "version"]).returncode == 0
    assert subprocess.run([str(wrapped / "k6"), "run", "--vus", "1", "s.js"]).returncode == 99
    assert exit_codes(log) == [99]  # `k6 version` is not a run
    assert exit_codes(tmp_path / "missing.log") == []
    env = taurus_env(plain, tmp_path / "home", base={"PATH": "/elsewhere", "X": "1"})
    assert env["PATH"].split(":")[0] == str(plain) and "/elsewhere" not in env["PATH"]
    assert env["HOME"] == str(tmp_path / "home") and env["X"] == "1"


def test_evidence_lines_pick_the_lines_about_thresholds_and_exit():
    text = "INFO: Starting...\nlevel=error msg=\"thresholds on metrics 'http_reqs' have been crossed\"\n" \
           "INFO: Samples count: 58\nINFO: Done performing with code: 0\n"
    assert evidence_lines(text) == ["level=error msg=\"thresholds on metrics 'http_reqs' have been crossed\"",
                                    "INFO: Done performing with code: 0"]


def test_http_reqs_come_from_the_last_k6_summary_line():
    text = ("     http_req_waiting...............: avg=1ms\n"
            "    http_reqs......................................................: 9022   450.925857/s\n"
            "    iterations.....................................................: 9022   450.925857/s\n")
    assert http_reqs_in(text) == 9022
    assert http_reqs_in("no summary here") is None


def test_scale_shape_ramps_to_a_fifth_a_half_and_the_peak_and_holds_it():
    from bench.fig_scale import HOLD_SECONDS, chat4all_shape, hold_seconds, plateau, stage_args

    stages = chat4all_shape(10000)
    assert [t for _, t in stages] == [2000, 2000, 5000, 5000, 10000, 10000, 0]
    assert hold_seconds(stages, 10000) == HOLD_SECONDS
    assert hold_seconds(plateau(1000, 30), 1000) == 30
    assert sum(d for d, _ in stages) < 240  # the whole run stays short
    assert stage_args([(10, 5), (60, 0)]) == ["--stage", "10s:5", "--stage", "60s:0"]


def test_scale_config_is_valid_and_keeps_chat4all_weights(tmp_path):
    from bench.fig_scale import SCENARIO, config_text
    from orchestrator.config.load import load_config

    path = tmp_path / "perfctl.yaml"
    path.write_text(config_text(18080, 19090, think=5))
    scenario = load_config(path).config.scenarios[SCENARIO]
    assert [(r.name, r.weight) for r in scenario.requests] == [("send_message", 40), ("whatsapp_webhook", 30), ("history", 20)]
    assert scenario.idle_weight == 10 and scenario.think_time == 5


def test_busiest_window_finds_the_largest_cpu_rate():
    from bench.fig_scale import busiest_window

    # 0.5 cores for 10 s, then 2 cores for 5 s.
    samples = [(t, 0.5 * t) for t in range(11)] + [(10 + t, 5 + 2 * t) for t in range(1, 6)]
    assert busiest_window(samples, window=5) == pytest.approx(2.0)
    assert busiest_window(samples[:3], window=5) is None


def test_scale_summary_numbers_and_verdict_text():
    from bench.fig_scale import summary_numbers, verdict_of

    summary = {"metrics": {"vus": {"max": 9800}, "vus_max": {"max": 10000}, "http_reqs": {"count": 200, "rate": 20.5},
                           "http_req_failed": {"passes": 3, "fails": 197, "value": 0.015},
                           "http_req_duration": {"p(95)": 812.0}}}
    assert summary_numbers(summary) == (9800, 200, 0.015, 20.5, 812.0)
    assert summary_numbers({}) == (None, 0, None, None, None)
    verdict = {"result": "fail", "objectives": [{"name": "error_ratio", "value": 0.015}, {"name": "p95", "value": None}]}
    assert verdict_of(verdict, 99) == "fail (error_ratio 0.015)"
    assert verdict_of({}, 98) == "inconclusive"


def test_scale_runs_only_when_named():
    from bench.__main__ import parse_args

    assert "scale" not in parse_args([]).figures
    assert parse_args(["--only", "scale"]).figures == ["scale"]


def test_scale_ceiling_note_names_the_saturated_process():
    from bench.fig_scale import Level, ceiling_note, chat4all_shape

    def level(peak, error, k6_peak, backend_peak):
        return Level("chat4all", peak, tuple(chat4all_shape(peak)), 5.0, peak, peak, 100, error, 10.0, 20.0, 5.0,
                     100.0, 0.5, k6_peak, 0.3, backend_peak, 1.0, 50.0, 10, 10, 0, "pass", 1.0)

    assert "k6 at 1.94 cores" in ceiling_note([level(10000, 0.0, 1.94, 0.5)])
    note = ceiling_note([level(5000, 0.0, 0.5, 0.4), level(10000, 0.2, 0.5, 0.99)])
    assert note.startswith("Ceiling: 10,000 VUs did not hold") and "backend" in note


def test_soak_runs_only_when_named_and_reads_minutes_from_its_samples():
    from bench.__main__ import parse_args
    from bench.fig_soak import RssTrace, _growth_per_million, config_text, plan

    assert "soak" not in parse_args([]).figures and parse_args(["--only", "soak"]).figures == ["soak"]
    full = plan(quick=False)
    assert full.soak_minutes * 60 > 600 and full.early == 5 and full.late == 30  # long enough for auto to go flat
    trace = RssTrace(samples=[(t, 100.0 + t / 60) for t in range(0, 1900, 10)])
    assert trace.at(5) == 105.0 and trace.at(30) == 130.0 and trace.at(40) is None
    # 1 MB a minute at 1,000 req/s: 16.7 MB per million requests.
    summary = {"metrics": {"http_reqs": {"count": 1.9e6, "rate": 1000.0}}}
    assert _growth_per_million(trace, summary, start_minute=5) == pytest.approx(1e6 / 60_000)
    assert _growth_per_million(RssTrace(), summary) is None
    assert "memory: auto" in config_text("http://127.0.0.1:1", 2, memory="auto")


def test_median_interval_narrows_with_repetitions_and_is_the_range_when_too_few():
    from bench.stats import interval_percent, median_interval

    # Five values cannot give 95 % (P(all five on one side) = 1/16): the whole range.
    assert median_interval([5, 1, 4, 2, 3]) == (1, 5)
    # Order statistics: n = 9 -> 2nd and 8th, n = 15 -> 4th and 12th (P(Binomial(n, 1/2) < k) <= 2.5 %).
    assert median_interval(list(range(1, 10))) == (2, 8)
    assert median_interval(list(range(15, 0, -1))) == (4, 12)
    # The same swing of single runs, more of them: the figure's ± shrinks, the range does not.
    few = [0.90, 1.00, 0.95, 0.93, 0.97]
    many = few * 3
    assert interval_percent(many) < interval_percent(few)
    with pytest.raises(ValueError):
        median_interval([])


def test_a_broken_figure_does_not_merge_over_what_was_measured(tmp_path, monkeypatch):
    # Seen: a pipeline run stopped midway put "not measured" over the figure measured before it.
    import bench.__main__ as bench_main
    from bench import results

    measured = FigureResult("pipeline", "Metrics pipeline cost",
                            headlines=[Headline("ratio", Summary.of([0.9, 0.95, 1.0]), Target(">=", 0.95))])
    about = {"date": "2026-12-01T00:00:00Z"}
    (tmp_path / "results.md").write_text(results.render_markdown([measured], about, "bench/run"))
    (tmp_path / "results.json").write_text(results.render_json([measured], about, "bench/run"))
    before = (tmp_path / "results.md").read_text(), (tmp_path / "results.json").read_text()
    monkeypatch.setattr(bench_main.machine, "describe", lambda k6, python: about)
    monkeypatch.setattr(bench_main, "measure", lambda key, ctx: FigureResult(key, key, error="RuntimeError: k6 killed"))
    bench_main.main(["--only", "pipeline", "--merge", "--out", str(tmp_path)])
    assert ((tmp_path / "results.md").read_text(), (tmp_path / "results.json").read_text()) == before


def test_steal_is_the_share_of_all_ticks_between_two_readings_of_proc_stat():
    before = cpu_ticks("cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
    after = cpu_ticks("cpu  150 0 70 900 10 0 5 65 20 0\n")
    assert before == [100, 0, 50, 800, 10, 0, 5, 35]  # guest (in user already) is left out
    assert steal_percent(before, after) == pytest.approx(100 * 30 / 200)
    assert steal_percent(before, before) is None  # no time passed: no share
    assert cpu_ticks("intr 1 2 3\n") is None and cpu_ticks("") is None
    assert steal_percent(None, after) is None
