"""k6's log grammar: what k6 printed last says how it ended, when nobody saw it end
(`perfctl recover` after perfctl died). Read from k6's own words, never guessed."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# What k6 printed at its end (k6 1.x, its log without a terminal):
# A run to the end:      running (00m05.0s), 0/2 VUs, 40 complete and 0 interrupted iterations
#                        run_demo ✓ [ 100% ] 2 VUs  5s
# SIGINT / SIGTERM:      run_demo ✗ [  49% ] 2 VUs  1.9s/4s
#                        level=error msg="test run was aborted because k6 received a 'interrupt' signal"
# test.abort() (108):    level=error msg="test aborted: <reason> at <where>"
# thresholds failed (99): level=error msg="thresholds on metrics 'x' have been crossed"
#   with abortOnFail:    ... were crossed; at least one has abortOnFail enabled, stopping test prematurely
_RUNNING = re.compile(r"^running \((?:(\d+)h)?(?:(\d+)m)?([\d.]+)s\)")
_SCENARIO_BAR = re.compile(r"^(\S+)\s+([✓✗]) \[")
_SIGNALLED = re.compile(r"test run was aborted because k6 received a '([^']+)' signal")
_SCRIPT_ABORT = re.compile(r'test aborted: ([^"]*?)(?: at [^"]*)?"')
LOG_TAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class K6LastWords:
    completed: bool = False  # the final progress block shows every scenario done (✓)
    stopped: str | None = None  # why k6 stopped before the end of its plan
    threshold_abort: bool = False  # it stopped itself because an abortOnFail threshold failed
    thresholds_crossed: bool = False
    running_seconds: float | None = None  # its last `running (...)` time


def last_words(log: Path) -> K6LastWords:
    """What k6's log says about how it ended (the last 256 KiB of it); nothing known if unreadable."""
    try:
        with open(log, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - LOG_TAIL_BYTES))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return K6LastWords()
    lines = [line.strip() for line in re.split(r"[\r\n]+", text) if line.strip()]
    last_running = max((i for i, line in enumerate(lines) if _RUNNING.match(line)), default=None)
    seconds = None
    bars: list[tuple[str, str]] = []
    if last_running is not None:
        h, m, sec = _RUNNING.match(lines[last_running]).groups()
        seconds = int(h or 0) * 3600 + int(m or 0) * 60 + float(sec)
        bars = [match.groups() for line in lines[last_running + 1:] if (match := _SCENARIO_BAR.match(line))]
    signalled = next((m.group(1) for line in lines if (m := _SIGNALLED.search(line))), None)
    script_abort = next((m.group(1) for line in lines if (m := _SCRIPT_ABORT.search(line))), None)
    crossed = [line for line in lines if "thresholds on metrics" in line and "crossed" in line]
    threshold_abort = any("abortOnFail" in line for line in crossed)
    interrupted = [name for name, mark in bars if mark == "✗"]
    stopped = None
    if signalled:
        stopped = f"k6 received a '{signalled}' signal (its log: \"test run was aborted\")"
    elif script_abort is not None:
        stopped = f"the script called test.abort() ({script_abort.strip() or 'no reason given'})"
    elif threshold_abort:
        stopped = "a threshold with abortOnFail failed, k6 stopped the test"
    elif interrupted:
        stopped = "its last progress shows " + ", ".join(interrupted) + " interrupted (✗)"
    return K6LastWords(
        completed=bool(bars) and not interrupted and stopped is None, stopped=stopped,
        threshold_abort=threshold_abort and not signalled and script_abort is None,
        thresholds_crossed=bool(crossed), running_seconds=seconds,
    )
