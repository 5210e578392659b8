"""Talking to the person at the terminal (or to a CI log): colour only on a TTY and
without NO_COLOR, progress redrawn in place on a TTY and printed sparsely otherwise."""

from __future__ import annotations

import contextlib
import os
import sys
import time


def is_tty(stream=None) -> bool:
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty()


def use_color(stream=None) -> bool:
    return is_tty(stream) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def info(message: str) -> None:
    """Status lines go to stderr, so `--json` output on stdout stays machine-readable."""
    with terminal_may_be_gone():
        print(message, file=sys.stderr, flush=True)


class Progress:
    """k6's progress lines: one line redrawn on a TTY, one line every `every` seconds elsewhere."""

    def __init__(self, stream=None, *, every: float = 10.0):
        self.stream = stream or sys.stderr
        self.tty = is_tty(self.stream)
        self.every = every
        self._last = 0.0
        self._drawn = False

    def update(self, line: str) -> None:
        with terminal_may_be_gone():
            self._update(line)

    def _update(self, line: str) -> None:
        if self.tty:
            width = max(20, columns() - 1)
            self.stream.write("\r\x1b[K" + line[:width])
            self.stream.flush()
            self._drawn = True
        elif time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            self.stream.write(line + "\n")
            self.stream.flush()

    def message(self, line: str) -> None:
        self.clear()
        with terminal_may_be_gone():
            self.stream.write(line + "\n")
            self.stream.flush()

    def clear(self) -> None:
        if self._drawn:
            self._drawn = False
            with terminal_may_be_gone():
                self.stream.write("\r\x1b[K")
                self.stream.flush()


@contextlib.contextmanager
def terminal_may_be_gone():
    # A dropped SSH connection makes writes fail (EIO) just before SIGHUP arrives: progress is
    # not worth stopping a run for; the run folder has everything.
    try:
        yield
    except OSError:
        pass


def columns() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 100
