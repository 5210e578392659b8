"""The ledger of runs: `results/<run-id>/`, one folder a run.

Every write is atomic (temp file, fsync, rename), and read-modify-write of run.json
happens under a lock, so a crash or a second perfctl never leaves a torn file. Nothing
here ever deletes a result.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from orchestrator.errors import LedgerError, NoSpace, UsageError
from orchestrator.ledger.record import RUN_SCHEMA, SCHEMA_VERSION, RunRecord

# \Z, not $: `$` also matches before a final newline, and "id\n" is no safe folder name.
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")

# States a run moves through; the last four are final.
RUNNING, EVALUATING = "running", "evaluating"
FINISHED, INTERRUPTED, FAILED_INCOMPLETE, ERROR = "finished", "interrupted", "failed-incomplete", "error"
FINAL_STATES = {FINISHED, INTERRUPTED, FAILED_INCOMPLETE, ERROR}
# A run folder keeps this much space for its final record: on a full disk it is given up so
# the run can still be marked ended (see RunDir.update).
SPACE_RESERVE, SPACE_RESERVE_BYTES = ".space-reserve", 64 * 1024


def check_run_id(run_id: str, *, source: str = "--run-id") -> str:
    """A run id that is a safe folder name of its own (no '/', no '..', not empty); UsageError otherwise."""
    if not RUN_ID.match(run_id):
        raise UsageError(f"{source} '{run_id}': use letters, digits, '_', '.', '-', starting with a letter or "
                         "digit (at most 128)")
    return run_id


def check_results_root(root: Path, *, source: str, create: bool) -> Path:
    """The results folder `source` (--results or results_dir) names, checked before a run sends
    anything: a folder perfctl can make run folders in, or one it can make. Nothing is left
    behind (a run that stops at the health gate leaves no results folder). With create=False
    (reading commands) only that it is not something else than a folder."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"{source} {root}: is a file, not a folder", hint="name a folder for the run results")
    if not create:
        return root
    # The nearest folder that exists is where the first new folder will be made.
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{source} {root}: {existing} is a file, not a folder", hint="name a folder for the run results")
    try:
        # Made and removed again at once: the only honest test that folders can be made here
        # (/proc and read-only mounts look like folders; root passes every access() test).
        probe = existing / f".perfctl-probe-{os.getpid()}-{secrets.token_hex(4)}"
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        raise UsageError(f"{source} {root}: cannot make run folders there ({exc.strerror or exc})",
                         hint="name a folder perfctl can write to") from None
    return root


def results_root(loaded, override: Path | None) -> Path:
    """The results folder of a loaded config: --results if given, else results_dir, relative
    to the config file's folder (`loaded`: a config.LoadedConfig; not imported, the ledger sits below it)."""
    if override is not None:
        return override
    root = Path(loaded.config.results_dir)
    return root if root.is_absolute() else loaded.path.parent / root


def new_run_id(scenario: str, now: float | None = None) -> str:
    stamp = datetime.fromtimestamp(now or time.time(), timezone.utc).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", scenario)[:40]
    return f"{stamp}-{safe}-{secrets.token_hex(2)}"


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_atomic(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """All or nothing: the old file stays whole if this fails. Secret values are masked (every
    record and report goes through here); a full disk is EnvironmentProblem (exit 3)."""
    from orchestrator.secret_mask import active

    data = active().mask_any(data)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode if mode is not None else 0o644)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise_if_no_space(exc, path.parent)
        raise
    _fsync_dir(path.parent)


def raise_if_no_space(exc: OSError, where: Path | str) -> None:
    """A full disk (or quota) is the environment's problem: exit 3 naming the place."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise no_space(Path(where)) from None


def no_space(where: Path, detail: str = "") -> NoSpace:
    """The error of a full disk at `where`. In a run's folder it also ends that run: its record
    says `error` with the reason, never `running` for a run that cannot go on (the folder's
    space reserve is given up for that record)."""
    problem = NoSpace(f"no space left on {where}{detail}", hint="free some space; what was written before is kept")
    if (where / "run.json").is_file():
        RunDir(where).end_on_no_space(problem)
    return problem


# Set while a record is written under its lock, or a run is being ended: a full disk met there
# must not try to end the run again (that would wait for the lock this thread holds).
_quiet = threading.local()


def write_output(path: Path, text: str) -> None:
    """A file the user named (`-o PATH`): a path that cannot be written is their mistake, exit 2."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write it ({exc.strerror or exc})") from None


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def _flocked(lock_file: Path) -> Iterator[None]:
    """An exclusive lock held while the block runs (released by the kernel if perfctl dies)."""
    with open(lock_file, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


GENERATED_ID = re.compile(r"^(\d{8}-\d{6})-")


def _creation_key(name: str, path: Path) -> str:
    """`YYYYmmdd-HHMMSS` of a run's creation: from a generated id, else from its run.json."""
    match = GENERATED_ID.match(name)
    if match:
        return match.group(1)
    try:
        created = json.loads((path / "run.json").read_text(encoding="utf-8")).get("created") or ""
    except (OSError, ValueError, AttributeError):
        created = ""
    digits = re.sub(r"\D", "", str(created))[:14]  # 2026-11-27T13:07:28.123Z -> 20261127130728
    return f"{digits[:8]}-{digits[8:14]}" if len(digits) == 14 else "0"


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    def read_json(self, name: str) -> dict | None:
        """A JSON file of the run; None if absent; LedgerError if torn or foreign."""
        path = self.file(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LedgerError(f"{path}: cannot read ({exc.strerror})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LedgerError(f"{path}: not valid JSON (line {exc.lineno}); the file is torn or not perfctl's") from None
        if not isinstance(data, dict):
            raise LedgerError(f"{path}: not a perfctl record")
        return data

    def run_record(self) -> dict:
        data = self.read_json("run.json")
        if data is None:
            raise LedgerError(f"{self.path}: no run.json, not a perfctl run")
        if data.get("schema") != RUN_SCHEMA:
            raise LedgerError(f"{self.path / 'run.json'}: not a perfctl run record (schema {data.get('schema')!r})")
        return data

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return _flocked(self.path / ".lock")

    def record(self) -> RunRecord:
        """The run's record, typed (ledger/record.py); LedgerError if absent, torn or foreign."""
        return RunRecord.from_json(self.run_record())

    def write(self, change: Callable[[RunRecord], RunRecord]) -> RunRecord:
        """The one writer of run.json: `change` (a `dataclasses.replace` of the record read
        under the run's lock) is written atomically, whole. A full disk ends the run
        (end_on_no_space) once the lock is released."""
        try:
            with self.locked():
                outer, _quiet.active = getattr(_quiet, "active", False), True
                try:
                    record = self._store(change(self.record()))
                finally:
                    _quiet.active = outer
        except NoSpace as exc:
            self.end_on_no_space(exc)
            raise
        if record.status in FINAL_STATES:
            self.release_reserve()  # the run's record is final: the reserve has done its job
        return record

    def update(self, **changes: Any) -> dict:
        """Set run.json keys (its flat JSON names) through `write`; returns the new record as JSON."""
        return self.write(lambda record: record.merged(changes)).to_json()

    def _store(self, record: RunRecord) -> RunRecord:
        """Write `record` (the caller holds the lock, or the folder is new), stamped `updated`."""
        record = replace(record, updated=iso(time.time()), schema_version=SCHEMA_VERSION)
        write_json(self.file("run.json"), record.to_json())
        return record

    def end_on_no_space(self, problem: NoSpace) -> None:
        """A running run cannot go on: its record says `error` and why, never `running`. The
        folder's space reserve is given up for this one write."""
        if getattr(_quiet, "active", False):
            return
        _quiet.active = True
        try:
            with contextlib.suppress(NoSpace, LedgerError, OSError):
                # `evaluating` stays: k6 is done and `recover` finishes it once there is space again.
                if self.record().status == RUNNING:
                    self.release_reserve()
                    with self.locked():
                        self._store(self.record().merged({"status": ERROR, "error": problem.message,
                                                          "finished": iso(time.time())}))
        finally:
            _quiet.active = False

    def release_reserve(self) -> bool:
        try:
            self.file(SPACE_RESERVE).unlink()
            return True
        except OSError:
            return False



class Ledger:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def create(self, run_id: str, record: RunRecord | dict) -> RunDir:
        """A new run folder with its first record (a RunRecord, or run.json's keys as a dict)."""
        check_run_id(run_id, source="run id")
        if isinstance(record, dict):
            record = RunRecord.from_json({**record, "id": run_id})
        record = replace(record, id=run_id)
        path = self.root / run_id
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            path.mkdir()
        except FileExistsError:
            if not self.root.is_dir():
                raise UsageError(f"{self.root}: is a file, not a folder for run results") from None
            raise UsageError(f"run id '{run_id}' exists already in {self.root}; results are never overwritten") from None
        except OSError as exc:
            raise UsageError(f"{self.root}: cannot make the run folder ({exc.strerror or exc})") from None
        run = RunDir(path)
        try:
            # The reserve first: the space that a full disk's last record (status, error) needs.
            write_atomic(run.file(SPACE_RESERVE), b"\0" * SPACE_RESERVE_BYTES)
            run._store(record)
        except NoSpace:
            for leftover in path.iterdir():
                leftover.unlink(missing_ok=True)
            path.rmdir()  # no run started: nothing half-made stays (no load was sent)
            raise
        return run

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """The ledger's own lock, for files its runs share (baselines.json)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return _flocked(self.root / ".lock")

    def get(self, run_id: str) -> RunDir:
        path = self.root / run_id
        if not RUN_ID.match(run_id) or not (path / "run.json").exists():
            raise UsageError(f"no run '{run_id}' in {self.root}", hint="`perfctl history` lists the runs")
        return RunDir(path)

    def runs(self) -> list[RunDir]:
        """Every run folder, oldest first.

        Generated run ids start with their UTC creation time, so their names sort by time
        without opening a file; a chosen id (`--run-id nightly-1`) is placed by the
        `created` time in its run.json.
        """
        if not self.root.is_dir():
            if self.root.exists():  # a file named as the results folder: a mistake, not an empty ledger
                raise UsageError(f"{self.root}: is a file, not a folder of run results")
            return []
        found = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.is_dir() and not entry.name.startswith(".") and os.path.exists(os.path.join(entry.path, "run.json")):
                    found.append((_creation_key(entry.name, Path(entry.path)), entry.name))
        return [RunDir(self.root / name) for _, name in sorted(found)]

    def latest(self, *, predicate: Callable[[RunRecord], bool] | None = None) -> RunDir | None:
        for run in reversed(self.runs()):
            try:
                record = run.record()
            except LedgerError:
                continue
            if predicate is None or predicate(record):
                return run
        return None
