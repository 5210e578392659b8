"""Ready before load: the Prometheus a run uses has scraped every job it needs, and takes
k6's remote writes. `run`, `demo` and `start-monitoring` all wait here.

A Prometheus scrapes a new target only ~5 s after it starts, or after a reload that added
the job: its discovery manager hands targets to the scrape loops on a 5 s throttle. A run
whose k6 started before then has no backend data for its first seconds, and the gate
rightly calls it inconclusive ("scrapes of job ... have gaps"). So before k6 starts,
perfctl waits until Prometheus's own data shows each job scraped successfully, and one
empty remote write is accepted. The run's window starts when k6 starts, after this wait,
so the wait costs no data; it is bounded by prometheus.ready_timeout.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass

from orchestrator import console
from orchestrator.config.env import redact_url
from orchestrator.config.model import Config
from orchestrator.errors import EnvironmentProblem
from orchestrator.monitoring.prometheus import Prometheus

MIN_SCRAPES = 2
# An objective taking a rate over the range *before* each instant needs that range of history
# at the window's start: on a younger series rate() extrapolates only half an interval past
# the first sample, so the first value reads low (a healthy 100 Hz loop as ~50 Hz).
RATE_OVER_RANGE = re.compile(r"\b(?:rate|irate|increase|delta|deriv)\([^()]*\[\$rate_range\]")
PROGRESS_EVERY = 5.0  # seconds between progress lines off a TTY


@dataclass(frozen=True)
class JobNeed:
    job: str
    scrapes: int  # successful scrapes wanted, recent enough to lie within (scrapes + 1.5) intervals
    interval: float  # the job's scrape interval, seconds
    targets: int  # targets perfctl.yaml gives the job; 0 for a job only an objective names


def job_needs(config: Config, scenario: str | None = None) -> list[JobNeed]:
    """Every configured scrape job, and every job an objective (of `scenario`, or of any) reads."""
    from orchestrator.sli import SLIS, rate_range_seconds

    settings = config.prometheus
    objectives = [o for o in config.objectives if scenario is None or o.applies_to(scenario)]
    intervals = {s.job: s.interval or settings.scrape_interval for s in settings.scrape}
    targets = {s.job: len(s.targets) for s in settings.scrape}
    jobs = list(intervals) + sorted({o.job for o in objectives if o.job and o.job not in intervals})
    history = rate_range_seconds(settings.scrape_interval)  # the gate's rate range
    needs = []
    for job in jobs:
        interval = intervals.get(job, settings.scrape_interval)
        scrapes = MIN_SCRAPES
        if any(o.job == job and RATE_OVER_RANGE.search(o.query or SLIS[o.sli].query) for o in objectives):
            scrapes = max(scrapes, math.ceil(history / interval) + 2)
        needs.append(JobNeed(job, scrapes, interval, targets.get(job, 0)))
    return needs


def wait_ready(config: Config, *, scenario: str | None = None, timeout: float | None = None,
               remote_write: bool = True, prom: Prometheus | None = None) -> None:
    """Return once Prometheus takes remote writes (unless k6 writes elsewhere: `remote_write`
    false) and has scraped every needed job; else EnvironmentProblem (exit 3) naming the job,
    its last scrape error and the fix. `prom`: the caller's client (its stack's), else one is built."""
    settings = config.prometheus
    timeout = settings.ready_timeout if timeout is None else timeout
    prom = prom or Prometheus.for_settings(settings)  # headers, token and TLS of a managed store too
    if remote_write:
        prom.check_remote_write()
    needs = job_needs(config, scenario)
    if not needs:
        return
    pause = min(max(min(n.interval for n in needs) / 2, 0.1), 0.5)
    began = time.monotonic()
    progress = console.Progress(every=PROGRESS_EVERY)
    while True:
        targets = prom.active_targets()
        # The job furthest from ready first: a target that is down names the cause, where a
        # job still counting its scrapes would only name a symptom.
        pending = sorted(filter(None, (_not_ready(prom, need, targets) for need in needs)), key=Pending.rank)
        waited = time.monotonic() - began
        if not pending:
            if waited >= pause:
                progress.message(f"Prometheus has scraped {_names(needs)} ({waited:.0f} s)")
            return
        if waited >= timeout:
            progress.clear()
            raise _timed_out(prom, pending, timeout)
        progress.update(f"waiting for Prometheus to scrape job '{pending[0].need.job}' ({waited:.0f} s)")
        time.sleep(pause)


@dataclass(frozen=True)
class Pending:
    need: JobNeed
    kind: str  # one of KINDS
    text: str

    KINDS = ("down", "unknown", "missing", "unscraped", "counting")  # the worst first

    def rank(self) -> int:
        return self.KINDS.index(self.kind)


def _not_ready(prom: Prometheus, need: JobNeed, targets: list[dict]) -> Pending | None:
    """Why `need` is not met yet; None when it is."""
    mine = [t for t in targets if t.get("scrapePool") == need.job]
    for target in mine:
        if target.get("health") == "down":
            error = target.get("lastError") or "no error given"
            return Pending(need, "down", f"target {target.get('scrapeUrl', '?')} is down: {error}")
    if not mine and not need.targets:
        return Pending(need, "unknown", "not among Prometheus's targets, and not in prometheus.scrape")
    if len(mine) < max(need.targets, 1):
        return Pending(need, "missing", "not among Prometheus's targets yet")
    for target in mine:
        if target.get("health") != "up":
            return Pending(need, "unscraped", f"target {target.get('scrapeUrl', '?')} not scraped yet")
    # Counted in Prometheus's data (up is 1 per successful scrape), not assumed from the time passed.
    window = f"{math.ceil((need.scrapes + 1.5) * need.interval * 1000)}ms"
    counts = [s.value for s in prom.query(f"sum_over_time(up{{job={json.dumps(need.job)}}}[{window}])")]
    done = min(counts) if len(counts) >= len(mine) else 0
    if done < need.scrapes:
        return Pending(need, "counting", f"scraped successfully {done:.0f} of {need.scrapes} times")
    return None


def _timed_out(prom: Prometheus, pending: list[Pending], timeout: float) -> EnvironmentProblem:
    first = pending[0]
    job = first.need.job
    if first.kind == "down":
        fix = f"make the target of job '{job}' answer on its metrics path, or fix that job in prometheus.scrape"
    elif first.kind == "unknown":
        fix = f"add job '{job}' to prometheus.scrape in perfctl.yaml (an objective reads it)"
    elif first.kind == "missing":
        fix = ("Prometheus takes up a new job ~5 s after a (re)load; if perfctl did not start this "
               "Prometheus, add the job to its own scrape config")
    else:
        # A fresh Prometheus scrapes ~5 s after it starts, then once per interval.
        needed = 5 + (first.need.scrapes + 1) * first.need.interval
        fix = (f"{first.need.scrapes} scrapes every {first.need.interval:g}s take ~{needed:.0f}s on a fresh "
               "Prometheus: raise prometheus.ready_timeout if that is longer, else check the target "
               "(slow or failing scrapes)")
    return EnvironmentProblem(
        f"Prometheus at {redact_url(prom.url)} did not scrape job '{job}' {first.need.scrapes} times within "
        f"{timeout:g}s: {first.text}",
        lines=[f"job '{other.need.job}': {other.text}" for other in pending[1:]],
        hint=fix if "ready_timeout" in fix else f"{fix}; prometheus.ready_timeout sets how long perfctl waits",
    )


def _names(needs: list[JobNeed]) -> str:
    return ("job " if len(needs) == 1 else "jobs ") + ", ".join(f"'{n.job}'" for n in needs)
