"""The pure parts of `--instances N`: k6's segment arguments, per-instance argv and files,
exit codes, and the merge of per-instance summaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.k6.binary import segment_argv
from orchestrator.runtimes.segments import combined_exit_code, instance_argv, instance_env
from orchestrator.k6.summary import load_summaries, merge_summaries


def test_segments_of_two_and_three():
    assert segment_argv(0, 2) == ["--execution-segment", "0:1/2", "--execution-segment-sequence", "0,1/2,1"]
    assert segment_argv(1, 2) == ["--execution-segment", "1/2:1", "--execution-segment-sequence", "0,1/2,1"]
    assert [segment_argv(i, 3)[1] for i in range(3)] == ["0:1/3", "1/3:2/3", "2/3:1"]
    with pytest.raises(ValueError):
        segment_argv(2, 2)


def test_instance_argv_keeps_the_testid_and_separates_files():
    argv = ["k6", "run", "--tag", "testid=r1", "-o", "experimental-prometheus-rw", "--summary-export",
            "/res/r1/summary.json", "--out", "json=samples.json", "/res/r1/script.js"]
    out = instance_argv(argv, 1, 2)
    assert out[:8] == ["k6", "run", "--execution-segment", "1/2:1", "--execution-segment-sequence", "0,1/2,1",
                       "--tag", "instance=1"]
    assert "testid=r1" in out and out[-1] == "/res/r1/script.js"
    assert out[out.index("--summary-export") + 1] == "/res/r1/summary-1.json"
    assert "json=samples-1.json" in out and "experimental-prometheus-rw" in out


def test_instance_env_gives_each_dashboard_export_its_own_file():
    env = {"K6_WEB_DASHBOARD_EXPORT": "/res/r1/dashboard.html", "A": "b"}
    assert instance_env(env, 0)["K6_WEB_DASHBOARD_EXPORT"] == "/res/r1/dashboard-0.html"
    assert instance_env({"A": "b"}, 3) == {"A": "b"}


@pytest.mark.parametrize(
    ("codes", "expected"), [([0, 0], 0), ([0, 99], 99), ([99, 107], 107), ([-9, 0], -9), ([105, 99, 0], 105)]
)
def test_combined_exit_code(codes, expected):
    assert combined_exit_code(codes) == expected


def _summary(iterations, seconds, passes, fails, p95, vus_max):
    return {
        "metrics": {
            "iterations": {"count": iterations, "rate": iterations / seconds},
            "checks": {"passes": passes, "fails": fails, "value": passes / (passes + fails)},
            "http_req_duration": {"min": 1.0, "max": 9.0 + p95, "avg": 3.0, "med": 2.0, "p(95)": p95},
            "vus_max": {"value": vus_max, "min": vus_max, "max": vus_max},
            "queue_depth": {"value": 4, "min": 1, "max": 7},
        }
    }


def test_merge_sums_counts_recomputes_rates_and_refuses_to_average_percentiles():
    merged = merge_summaries([_summary(60, 3.0, 58, 2, 5.0, 3), _summary(30, 2.0, 30, 0, 50.0, 2)])
    m = merged["metrics"]
    assert m["iterations"]["count"] == 90
    assert m["iterations"]["rate"] == pytest.approx(90 / 3.0)  # over the longest instance, not a sum of rates
    assert m["checks"] == {"passes": 88, "fails": 2, "value": pytest.approx(88 / 90)}
    assert m["vus_max"] == {"value": 5, "min": 5, "max": 5}
    assert m["http_req_duration"]["min"] == 1.0 and m["http_req_duration"]["max"] == 59.0
    # Neither 27.5 (the mean) nor 50 (the max) is the p95 of the whole test: none is given.
    for key in ("p(95)", "avg", "med"):
        assert m["http_req_duration"][key] is None
        assert f"http_req_duration.{key}" in merged["perfctl"]["unavailable"]
    assert m["queue_depth"]["value"] is None and m["queue_depth"]["max"] == 7
    assert merged["perfctl"]["merged_instances"] == 2


def test_missing_instance_summary_is_reported(tmp_path: Path):
    (tmp_path / "summary-0.json").write_text('{"metrics": {}}')
    (tmp_path / "summary-2.json").write_text("{not json")
    summaries, problems = load_summaries([tmp_path / f"summary-{i}.json" for i in range(3)])
    assert len(summaries) == 1
    assert problems[0].startswith("summary-1.json: missing") and problems[1].startswith("summary-2.json: unreadable")
