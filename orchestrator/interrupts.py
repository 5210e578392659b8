"""SIGTERM and SIGHUP treated like Ctrl-C outside the k6 phase (which forwards them to k6
itself): perfctl then unwinds through its context managers and exits 130, instead of
dying where it stands, when a CI job is cancelled or an SSH session drops."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Iterator

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def leave_lost_terminal() -> None:
    """SIGHUP: the terminal is gone (an SSH drop). Output to it would fail with EIO and stop
    perfctl before it records the run; send what is left to /dev/null (the run folder has it all)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    for fd in (1, 2):
        try:
            if _is_terminal(fd):
                os.dup2(null, fd)
        except OSError:
            pass
    os.close(null)


def _is_terminal(fd: int) -> bool:
    # A hung-up terminal fails isatty() (EIO); its /proc link still names the device.
    if os.isatty(fd):
        return True
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False
    return target.startswith(("/dev/pts/", "/dev/tty", "/dev/console"))


def _raise(signum, frame):
    if signum == signal.SIGHUP:
        leave_lost_terminal()
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    previous = {}
    try:
        for sig in SIGNALS:
            previous[sig] = signal.signal(sig, _raise)
    except ValueError:  # not the main thread (tests calling commands in-process): leave signals alone
        pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
