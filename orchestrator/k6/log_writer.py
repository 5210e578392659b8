"""The process between k6 and k6.log: masks secrets before a byte of k6's output lands.

k6 echoes what it sent (a failed request's URL with its token, `--http-debug` headers), so
its stdout/stderr go into a pipe, not into the file. This small process reads the pipe,
masks every secret value (orchestrator.secret_mask) and appends to k6.log (mode 0600).
It runs in its own session like k6, so when perfctl dies both carry on: the log is
complete when k6 ends, for `perfctl recover`. While it writes it holds an exclusive lock
on the log; `wait_complete` (a reader that must see the whole log) waits for that lock.

The secret values reach it through an inherited pipe, never argv, environment or disk.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

from orchestrator.secret_mask import Masker

LOG_MODE = 0o600
# What the writer passes on (it needs a Python, nothing of perfctl's environment's secrets).
WRITER_ENV = ("PATH", "PYTHONPATH", "HOME", "LANG", "LC_ALL", "TZ")
NO_SPACE_EXIT = 28  # the writer's exit code when the disk was full (ENOSPC's number)


def open_log(path: Path) -> int:
    """An append-only fd of a run's log, created (or made) mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, LOG_MODE)
    os.fchmod(fd, LOG_MODE)
    return fd


def append(path: Path, text: str, masker: Masker | None = None) -> None:
    """perfctl's own lines in a log (the instance index, notes): masked, 0600, like k6's."""
    from orchestrator.secret_mask import active

    from orchestrator.ledger.store import raise_if_no_space

    try:
        fd = open_log(path)
        try:
            _write_all(fd, (masker or active()).mask(text).encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise_if_no_space(exc, path.parent)
        raise


class LogSink:
    """A running writer: `fd` is the pipe end to give k6 as stdout and stderr."""

    def __init__(self, proc: subprocess.Popen, fd: int, path: Path):
        self.proc, self.fd, self.path = proc, fd, path

    def close_write_end(self) -> None:
        # perfctl keeps no copy: the writer sees EOF as soon as k6 (the only writer left) ends.
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def wait(self, timeout: float = 30.0) -> None:
        """Until the writer has written everything; EnvironmentProblem if the disk was full."""
        from orchestrator.ledger.store import no_space

        self.close_write_end()
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if code == NO_SPACE_EXIT:
            raise no_space(self.path.parent, " (k6's log is incomplete)")


@contextlib.contextmanager
def started(path: Path, masker: Masker) -> Iterator[LogSink]:
    """Start the writer for `path`; it ends by itself when every writer of the pipe is gone."""
    os.close(open_log(path))  # there (0600) from the start, as when k6 wrote it itself
    read_end, write_end = os.pipe()
    secrets_read, secrets_write = os.pipe()
    env = {k: os.environ[k] for k in WRITER_ENV if k in os.environ}
    # The writer imports this very package, wherever perfctl was imported from.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([package_root, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.k6.log_writer", str(path), str(secrets_read)],
            stdin=read_end, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(secrets_read,), env=env, start_new_session=True,
        )
    except BaseException:
        for fd in (read_end, write_end, secrets_read, secrets_write):
            os.close(fd)
        raise
    os.close(read_end)
    os.close(secrets_read)
    with os.fdopen(secrets_write, "w", encoding="utf-8") as fh:
        json.dump(masker.values, fh)
    sink = LogSink(proc, write_end, path)
    try:
        yield sink
    finally:
        sink.close_write_end()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)  # k6 has ended (or was stopped) by now: the last bytes are being written
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_complete(path: Path, timeout: float = 30.0) -> bool:
    """True once no writer holds `path` (the log is complete), False after `timeout`."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
    finally:
        os.close(fd)


def _main(path: str, secrets_fd: str) -> int:
    # perfctl's Ctrl-C, SIGHUP of a dropped SSH session: not for this process; k6's EOF ends it.
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    with os.fdopen(int(secrets_fd), "r", encoding="utf-8") as fh:
        masker = Masker(json.load(fh))
    log = open_log(Path(path))
    fcntl.flock(log, fcntl.LOCK_EX)
    buffer, full = b"", False
    while True:
        chunk = os.read(0, 65536)
        buffer += chunk
        out, buffer = masker.split_bytes(buffer, final=not chunk)
        if out and not full:
            try:
                _write_all(log, out)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                full = True  # keep reading: k6 must not block (or die of SIGPIPE) on a full disk
        if not chunk:
            break
    os.close(log)
    return NO_SPACE_EXIT if full else 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:3]))
