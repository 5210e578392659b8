"""orchestrator/interrupts.py with real signals: a child process installs the handlers and
this test sends it SIGTERM / SIGHUP / SIGINT. Outside the k6 phase they unwind like Ctrl-C
(finally blocks run); while k6 runs they are recorded in order; SIGHUP sends output meant for
the lost terminal to /dev/null; the previous handlers come back afterwards."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestrator.interrupts import signals_interrupt

REPO = Path(__file__).resolve().parents[1]

UNWIND = r"""
import json, os, signal, sys, time
from orchestrator.interrupts import signals_interrupt
out = sys.argv[1]
report = {}
# SIGHUP as a terminal's child has it, or ignored as under nohup (START_IGNORED): whatever
# pytest itself was started with must not decide the test.
signal.signal(signal.SIGHUP, signal.SIG_IGN if os.environ.get("START_IGNORED") else signal.SIG_DFL)
before = [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)]
try:
    with signals_interrupt():
        try:
            print("ready", flush=True)  # inside the try: the signal may come at once
            # Short sleeps, as perfctl's own waits poll: a signal that lands after the write
            # and before one long sleep begins is handled only when that sleep ends (CPython
            # runs handlers between bytecodes), which on a busy machine was after the test's
            # 20 s; the loop sees it within 20 ms.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            report["finally_ran"] = True
except KeyboardInterrupt as exc:
    report["interrupted_by"] = str(exc)
report["handlers_after"] = [signal.getsignal(s) == was for s, was in zip((signal.SIGTERM, signal.SIGHUP), before)]
report["stdout_after"] = os.readlink("/proc/self/fd/1")
print("written after the signal", flush=True)
open(out, "w").write(json.dumps(report))
sys.exit(130 if "interrupted_by" in report else 0)
"""

RECORD = r"""
import json, os, signal, sys, time
from orchestrator.interrupts import recorded_signals
out = sys.argv[1]
counts = []
# START_IGNORED: all three ignored, as a shell's background job under nohup starts.
ignored = bool(os.environ.get("START_IGNORED"))
signal.signal(signal.SIGINT, signal.SIG_IGN if ignored else signal.default_int_handler)
signal.signal(signal.SIGTERM, signal.SIG_IGN if ignored else signal.SIG_DFL)
signal.signal(signal.SIGHUP, signal.SIG_IGN if ignored else signal.SIG_DFL)
before = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
with recorded_signals(on_signal=counts.append) as received:
    print("ready", flush=True)
    deadline = time.monotonic() + 20
    while len(received) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
restored = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
open(out, "w").write(json.dumps({"received": received, "counts": counts,
                                 "restored": [now == was for now, was in zip(restored, before)]}))
"""


def start(code: str, out: Path, *, ignored: bool = False, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("START_IGNORED", None)
    if ignored:
        env["START_IGNORED"] = "1"
    return subprocess.Popen([sys.executable, "-c", code, str(out)], env=env, **popen)


def wait_ready(stream) -> None:
    line = stream.readline()
    assert line.strip() in (b"ready", "ready"), line


@pytest.mark.parametrize("sig, name", [(signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")])
def test_a_signal_unwinds_like_ctrl_c_and_the_old_handlers_come_back(tmp_path, sig, name):
    out = tmp_path / "report.json"
    proc = start(UNWIND, out, stdout=subprocess.PIPE)
    try:
        wait_ready(proc.stdout)
        proc.send_signal(sig)
        assert proc.wait(20) == 130
    finally:
        proc.kill()
    report = json.loads(out.read_text())
    assert report["interrupted_by"] == name and report["finally_ran"] is True
    assert report["handlers_after"] == [True, True]
    # A pipe is not a terminal: SIGHUP leaves it alone, the rest of the output still arrives.
    assert report["stdout_after"].startswith("pipe:")
    assert proc.stdout.read().strip() == b"written after the signal"


def test_sighup_sends_output_for_the_lost_terminal_to_dev_null(tmp_path):
    out = tmp_path / "report.json"
    leader, follower = pty.openpty()
    proc = start(UNWIND, out, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    try:
        with os.fdopen(leader, "rb", buffering=0) as terminal:
            assert terminal.read(16).strip().startswith(b"ready")
            proc.send_signal(signal.SIGHUP)
            assert proc.wait(20) == 130
            report = json.loads(out.read_text())
            assert report["interrupted_by"] == "SIGHUP"
            assert report["stdout_after"] == os.devnull
            # Nothing written after the hang-up reached the terminal.
            os.set_blocking(terminal.fileno(), False)
            try:
                rest = terminal.read(4096) or b""
            except OSError:  # EIO once the last writer is gone
                rest = b""
            assert b"written after" not in rest
    finally:
        proc.kill()


def test_while_k6_runs_each_signal_is_recorded_in_order_with_its_count(tmp_path):
    out = tmp_path / "report.json"
    proc = start(RECORD, out, stdout=subprocess.PIPE)
    try:
        wait_ready(proc.stdout)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            proc.send_signal(sig)
            time.sleep(0.2)  # one at a time: the order is the test
        assert proc.wait(20) == 0  # recorded, not raised: the process lives on to stop k6
    finally:
        proc.kill()
    report = json.loads(out.read_text())
    assert report["received"] == ["SIGINT", "SIGTERM", "SIGHUP"]
    assert report["counts"] == [1, 2, 3]
    assert report["restored"] == [True, True, True]


def test_a_sighup_ignored_at_start_stays_ignored_as_nohup_asked(tmp_path):
    # `nohup perfctl run ...`: the SSH drop's SIGHUP must neither stop the run nor reach k6.
    # SIGINT and SIGTERM, ignored by a shell's job control, still stop it: they are sent on purpose.
    out = tmp_path / "report.json"
    proc = start(UNWIND, out, ignored=True, stdout=subprocess.PIPE)
    try:
        wait_ready(proc.stdout)
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert proc.poll() is None, "SIGHUP stopped a run started under nohup"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 130
    finally:
        proc.kill()
    report = json.loads(out.read_text())
    assert report["interrupted_by"] == "SIGTERM" and report["handlers_after"] == [True, True]

    recorded = tmp_path / "recorded.json"
    proc = start(RECORD, recorded, ignored=True, stdout=subprocess.PIPE)
    try:
        wait_ready(proc.stdout)
        for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGINT):
            proc.send_signal(sig)
            time.sleep(0.2)
        assert proc.wait(20) == 0
    finally:
        proc.kill()
    report = json.loads(recorded.read_text())
    assert report["received"] == ["SIGINT", "SIGTERM", "SIGINT"] and report["restored"] == [True, True, True]


def test_outside_the_main_thread_signals_are_left_alone():
    before = signal.getsignal(signal.SIGTERM)
    seen = []

    def body():
        with signals_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    worker = threading.Thread(target=body)
    worker.start()
    worker.join(10)
    assert seen == [before]
    assert signal.getsignal(signal.SIGTERM) == before
