"""The wait after k6 ends (orchestrator/verdict/settle.py): the next scrape predicted from a
target's own stamps, and, against a real Prometheus scraping the reference backend, the wait
returning with every sample stamped up to the end in place, without waiting for a scrape after it."""

from __future__ import annotations

import random
import time

import pytest

from orchestrator.monitoring.select import for_config
from orchestrator.config.load import load_config
from orchestrator.verdict.gate import objectives_for
from orchestrator.verdict.settle import DUE_MARGIN, await_last_scrapes, next_scrape_due


def grid(phase: float, interval: float, count: int) -> list[float]:
    return [1_700_000_000.0 + phase + i * interval for i in range(count)]


def test_the_next_scrape_is_one_interval_after_a_stamp_on_its_tick():
    times = grid(0.123, 0.5, 10)
    assert next_scrape_due(times, 1.0) == pytest.approx(times[-1] + 0.5)  # the stamps' interval, not the default


def test_a_late_last_stamp_does_not_delay_the_next_tick():
    times = grid(0.2, 1.0, 8)
    times[-1] += 0.07  # Prometheus stamps a late tick with the time it ran
    assert next_scrape_due(times, 1.0) == pytest.approx(times[-1] - 0.07 + 1.0)


def test_a_missed_scrape_does_not_double_the_interval():
    times = grid(0.0, 1.0, 9)
    del times[4]
    assert next_scrape_due(times, 1.0) == pytest.approx(times[-1] + 1.0)


def test_one_stamp_takes_the_configured_interval():
    assert next_scrape_due([100.25], 2.0) == pytest.approx(102.25)


@pytest.mark.e2e
def test_the_wait_ends_with_the_samples_up_to_the_end_and_before_the_next_scrape(stack):
    """A fresh Prometheus scraping the backend every 0.5 s. For ends at random points of the
    scrape cycle, some of them ahead: when the wait returns, Prometheus already holds every sample stamped up to
    the end (the same stamps as two intervals later), and in most cycles the wait returned
    before a scrape stamped after the end existed (the old wait's half an interval)."""
    loaded = load_config(stack.config_path)
    interval = loaded.config.prometheus.scrape_interval
    prom = for_config(loaded).client()
    objectives = objectives_for(loaded.config, "chat-http")  # the demo's: the loop and the lag read job backend
    assert {o.job for o in objectives if o.job} == {"backend"}
    selector = f'up{{job="backend"}}[{int(30 * interval)}s]'
    pick = random.Random(15)
    early = 0
    for trial in range(12):
        time.sleep(pick.uniform(0, interval))
        # Every third end lies ahead, up to 1.5 intervals: scrapes due before it must be waited for.
        ahead = pick.uniform(0.1, 1.5) * interval if trial % 3 == 2 else 0.0
        end = time.time() + ahead
        await_last_scrapes(prom, objectives, end=end, timeout=3.0, scrape_interval=interval)
        latest = prom.scalar('max(timestamp(up{job="backend"}))')
        at_return = prom.sample_times(selector, at=end)
        time.sleep(2 * interval + 0.2)
        later = prom.sample_times(selector, at=end)
        assert at_return == later, f"a sample stamped before {end:.3f} arrived after the wait"
        assert later and later[0][1][-1] <= end
        early += latest < end and not ahead
    assert early >= 4, f"only {early} of 8 waits returned before a scrape after the end (margin {DUE_MARGIN} s)"
