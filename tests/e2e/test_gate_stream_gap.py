"""The gate's check of k6's metric stream, against a real Prometheus holding VU samples with
holes of known length (backfilled with promtool): holes longer than the limit make every k6
objective inconclusive and are named; a whole stream, or holes within the limit, pass."""

from __future__ import annotations

import time

import pytest

from bench import servers
from bench.synthetic_tsdb import Series, backfill
from orchestrator.verdict import gate
from orchestrator.config.model import Config
from orchestrator.monitoring.prometheus import Prometheus

SECONDS = 120  # one VU sample a second, like k6
LIMIT = 5  # push interval 1 s: max(3 pushes, 5 s)


def vus(testid: str, missing=range(0), *, last: int = SECONDS - 1, instance: str | None = None) -> Series:
    labels = {"testid": testid, **({"instance": instance} if instance else {})}
    return Series("k6_vus", labels, lambda i: None if i in missing or i > last else 10.0)


STREAMS = {
    "whole": [vus("whole")],
    "hole-4s": [vus("hole-4s", range(41, 44))],  # samples at 40 and 44: 4 s apart, within the limit
    "hole-6s": [vus("hole-6s", range(41, 46))],  # 40 and 46: 6 s
    "hole-21s": [vus("hole-21s", range(40, 60))],
    "tail-30s": [vus("tail-30s", last=89)],  # the stream stopped 30 s before the run's end
    "split": [vus("split", instance="runner-a"), vus("split", range(50, 70), instance="runner-b")],
}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    home = tmp_path_factory.mktemp("stream-gap")
    start = int(time.time()) - SECONDS - 600  # well in the past: all in backfilled blocks
    series = [s for streams in STREAMS.values() for s in streams]
    series.append(Series("k6_iterations_total", {"testid": "counters-only"}, lambda i: float(i)))
    backfill(home / "data", home, series, start=start, seconds=SECONDS)
    with servers.prometheus(home, data=home / "data") as server:
        yield server.base_url, gate.Window(start, start + SECONDS - 1)


def coverage(prometheus, testid: str) -> str:
    url, window = prometheus
    config = Config.model_validate({
        "name": "gap", "prometheus": {"url": url, "manage": False}, "k6": {"push_interval": "1s"},
        "scenarios": {"s": {"vus": 1, "duration": "2m", "requests": [{"name": "h", "path": "/"}]}},
        "objectives": [{"name": "peak_vus", "query": 'max(max_over_time(k6_vus{testid="$testid"}[$window]))', "pass": "> 0"}],
    })
    result = gate.evaluate(config, Prometheus(url), run_id=testid, scenario="s", window=window)
    return result.coverage.get("peak_vus", "")


@pytest.mark.parametrize("testid", ["whole", "hole-4s"])
def test_a_whole_stream_or_holes_within_the_limit_pass(prometheus, testid):
    assert coverage(prometheus, testid) == ""


@pytest.mark.parametrize(("testid", "seconds"), [("hole-6s", 6), ("hole-21s", 21), ("tail-30s", 30)])
def test_a_hole_longer_than_the_limit_is_named_with_its_length(prometheus, testid, seconds):
    reason = coverage(prometheus, testid)
    assert "k6's metric stream has a gap of" in reason and "pushes were lost" in reason, reason
    measured = int(reason.split("gap of ")[1].split("s")[0])
    assert seconds <= measured <= seconds + 1, reason  # measured at 1 s steps, rounded up, never short


def test_the_instance_with_the_hole_is_named(prometheus):
    assert "(instance runner-b)" in coverage(prometheus, "split")


def test_no_vu_samples_or_no_metrics_at_all_are_gaps_too(prometheus):
    assert coverage(prometheus, "counters-only") == "k6's metric stream has gaps: no VU samples arrived"
    assert "remote write did not arrive" in coverage(prometheus, "never-ran")
