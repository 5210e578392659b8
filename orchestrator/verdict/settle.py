"""The wait after k6 ends: until Prometheus holds every sample the verdict's queries can read.

The gate's queries are pinned at the run's end (verdict/gate.py), so they read samples stamped
at or before it. k6 flushes its last remote-write push before it exits; only a scrape can still
be on its way. Prometheus stamps a scrape with the tick it was due at (or later, when the tick
itself came late) and its ticks keep their phase, so the samples a target already has tell when
its next scrape is due. When that is after the end, nothing the queries read is missing and the
verdict need not wait for it: waiting for a scrape after the end, as perfctl did before, cost
half a scrape interval on average (bench/, figure 1) for samples no query reads.
"""

from __future__ import annotations

import time

from orchestrator.config.durations import k6_duration
from orchestrator.config.objectives import Objective
from orchestrator.errors import EnvironmentProblem
from orchestrator.monitoring.prometheus import Prometheus

# A scrape predicted this close after the end is waited for all the same: the prediction
# assumes ticks on time, and Prometheus aligns a stamp to its tick within 2 ms only.
DUE_MARGIN = 0.05
# Enough scrapes to see a target's phase and interval, a job's own longer interval included.
SCRAPES_LOOKED_AT = 10


def next_scrape_due(times: list[float], interval: float) -> float:
    """When the scrape after the last of `times` (one target's sample stamps, ascending) is due.

    The interval is the one the stamps show (a job may have its own), else `interval`. A stamp
    is its tick or later, never earlier, so the earliest-in-phase stamp gives the ticks' phase:
    the last one may have come late, the next tick does not inherit that.
    """
    last = times[-1]
    span = last - times[0]
    if len(times) >= 2 and span > 0:
        steps = max(1, round(span / _median_step(times)))
        interval = span / steps
    late = max(last - t - round((last - t) / interval) * interval for t in times)
    return last - max(late, 0.0) + interval


def _median_step(times: list[float]) -> float:
    steps = sorted(b - a for a, b in zip(times, times[1:]) if b > a)
    return steps[len(steps) // 2]


def scrape_still_due(prom: Prometheus, job: str, *, end: float, scrape_interval: float) -> float | None:
    """None when every target of `job` has the samples stamped up to `end`; else how long to
    sleep before looking again."""
    lookback = k6_duration(max(SCRAPES_LOOKED_AT * scrape_interval, 10.0))
    now = time.time()
    series = [times for _, times in prom.sample_times(f'up{{job="{job}"}}[{lookback}]', at=now) if times]
    if not series:
        return 0.1  # not scraped yet: nothing to predict from
    pauses = []
    for times in series:
        if times[-1] >= end:
            continue
        due = next_scrape_due(times, scrape_interval)
        if due > end + DUE_MARGIN:
            continue  # stamped after the end: no query reads it
        # Before it is due: sleep until then. Just after: look closely (the scrape is on its way).
        # Long after (a slow target, a Prometheus under load): every 100 ms.
        pauses.append(due - now if due > now else (0.02 if now - due < 0.25 else 0.1))
    return min(pauses) if pauses else None


def await_last_scrapes(
    prom: Prometheus, objectives: list[Objective], *, end: float, timeout: float, scrape_interval: float = 1.0
) -> None:
    """Wait (at most `timeout`) until every job the objectives read has its samples up to `end`."""
    jobs = sorted({o.job for o in objectives if o.job})
    deadline = time.monotonic() + timeout
    while jobs and time.monotonic() < deadline:
        try:
            pauses = [scrape_still_due(prom, job, end=end, scrape_interval=scrape_interval) for job in jobs]
        except EnvironmentProblem:
            return  # the gate itself will say Prometheus is gone
        pending = [p for p in pauses if p is not None]
        if not pending:
            return
        time.sleep(min(min(pending), max(deadline - time.monotonic(), 0.0)))
