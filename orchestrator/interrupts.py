"""SIGTERM and SIGHUP treated like Ctrl-C outside the k6 phase (which forwards them to k6
itself): perfctl then unwinds through its context managers and exits 130, instead of
dying where it stands, when a CI job is cancelled or an SSH session drops.

A SIGHUP perfctl was started with ignored stays ignored: `nohup perfctl run ...` asks the
run to outlive the SSH session, and k6, started while it is ignored, inherits that too.
SIGINT and SIGTERM are always handled: a shell ignores SIGINT in its background jobs for job
control's sake, not as a wish, and whoever sends either to perfctl wants the run stopped."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Callable, Iterator

SIGNALS = (signal.SIGTERM, signal.SIGHUP)
# During the k6 phase these reach perfctl and are passed on to k6 (or its container, pods, hosts).
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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


def _ignored(sig: int) -> bool:
    """A SIGHUP the caller ignores (nohup) is left to them; the other signals are perfctl's."""
    return sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    previous = {}
    try:
        for sig in SIGNALS:
            if not _ignored(sig):
                previous[sig] = signal.signal(sig, _raise)
    except ValueError:  # not the main thread (tests calling commands in-process): leave signals alone
        pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def recorded_signals(on_signal: Callable[[int], None] | None = None) -> Iterator[list[str]]:
    """While k6 runs: note each Ctrl-C / SIGTERM / SIGHUP (by name, in order) and call
    `on_signal(count)` from the handler, so a runtime can stop k6 gracefully on the first
    and force on the second. Runtimes that talk to an API act on the list in their loop
    instead (no API calls inside a signal handler); their `on_signal` only wakes that loop
    (runtimes/base.Wakeup)."""
    received: list[str] = []

    def handler(signum, frame):
        received.append(signal.Signals(signum).name)
        if signum == signal.SIGHUP:
            leave_lost_terminal()
        if on_signal is not None:
            on_signal(len(received))

    previous = {sig: signal.signal(sig, handler) for sig in FORWARDED_SIGNALS if not _ignored(sig)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
