"""The local runtimes' wait between looks at k6 (runtimes/base.py): it sleeps until a k6
process ends or the moment is over, and wakes for whichever of several k6 ends first."""

from __future__ import annotations

import subprocess
import time

from orchestrator.runtimes.base import _wait_a_moment


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
