"""The runtimes' wait between looks at k6 (runtimes/base.py): it sleeps until a k6
process ends or the moment is over, and wakes for whichever of several k6 ends first; the
moment is a second, or shorter when the watch asks to be called more often. The docker
runtime's wait (a Wakeup) is cut short by another thread or by a signal's handler."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

from orchestrator.interrupts import recorded_signals
from orchestrator.runtimes.base import LOOK_EVERY, Wakeup, _wait_a_moment, look_every


def test_the_wait_ends_when_any_process_ends_not_only_the_first():
    long, short = subprocess.Popen(["sleep", "60"]), subprocess.Popen(["sleep", "0.2"])
    try:
        started = time.monotonic()
        _wait_a_moment([long, short], 30)
        waited = time.monotonic() - started
        # Back because `short` ended, well before the moment's 30 s: the wait is not timed here,
        # only which of the two ways it ended.
        assert short.poll() == 0 and long.poll() is None
        assert waited < 20, waited
    finally:
        long.kill()
        long.wait()


def test_the_wait_returns_after_its_moment_while_k6_runs_and_at_once_without_k6():
    running = subprocess.Popen(["sleep", "60"])
    try:
        _wait_a_moment([running], 0.1)
        assert running.poll() is None
    finally:
        running.kill()
        running.wait()
    started = time.monotonic()
    _wait_a_moment([running], 30)  # nothing left running: nothing to wait for
    assert time.monotonic() - started < 20


class _Watch:
    def __init__(self, interval: float):
        self.interval = interval

    def __call__(self):
        return None


def test_a_look_every_second_unless_the_watch_wants_one_sooner():
    assert LOOK_EVERY == 1.0
    assert look_every(None) == 1.0
    assert look_every(lambda: None) == 1.0  # a watch without an interval: asked every look
    assert look_every(_Watch(0.25)) == 0.25  # gate.live_interval: 250ms is kept
    assert look_every(_Watch(5.0)) == 1.0  # it rate-limits itself between looks


def test_the_live_gate_is_a_watch_that_names_its_interval():
    from orchestrator.config.load import validate_data
    from orchestrator.verdict.live_gate import LiveGate

    config = validate_data({
        "scenarios": {"s": {"requests": [{"name": "r", "path": "/"}], "duration": "5s", "vus": 1}},
        "objectives": [{"name": "p95", "sli": "http_p95", "pass": "< 0.5", "live": True}],
        "gate": {"live_interval": "300ms"},
    })
    gate = LiveGate(config, prom=None, objectives=config.objectives, run_id="r1", start=time.time() + 60)
    assert look_every(gate) == 0.3
    assert gate() is None  # before its first check is due, asking costs nothing (no Prometheus needed)


def test_a_wakeup_set_by_another_thread_ends_the_wait_and_is_taken_by_it():
    with Wakeup() as wake:
        threading.Timer(0.1, wake.set).start()
        started = time.monotonic()
        assert wake.wait(30) is True
        assert time.monotonic() - started < 20  # woken, not timed out: which way it ended, not how fast
        assert wake.wait(0.05) is False, "the wake was taken by the wait it ended"
        for _ in range(100_000):  # far more than a pipe holds: set() drops the bytes it cannot write
            wake.set()
        assert wake.wait(0) is True
        assert wake.wait(0) is False, "all of them were taken at once"


def test_a_signal_wakes_the_wait_through_its_handler_and_is_recorded():
    with Wakeup() as wake, recorded_signals(lambda _count: wake.set()) as received:
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM)).start()
        assert wake.wait(30) is True
        assert received == ["SIGTERM"]


def test_a_closed_wakeup_ignores_a_late_set_and_refuses_a_wait():
    wake = Wakeup()
    wake.close()
    wake.set()  # a log writer ending after its run: nothing is written anywhere
    wake.close()
    with pytest.raises(ValueError):
        wake.wait(0)
