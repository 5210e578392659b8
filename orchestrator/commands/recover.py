"""`perfctl recover [RUN] [--wait]`: bring every run the ledger says is unfinished to a
final state, and say what was done.

- perfctl still runs the run: leave it (say how to attach); `--wait` waits for it.
- perfctl died, k6 still runs (pid + kernel start time, so a reused pid is not taken
  for k6): report it and how to attach, exit 98 (the run has no verdict, and nobody is
  left to write one); `--wait` waits for k6 and then finishes the run.
- k6 ended but perfctl died before the verdict: the window is the recorded one (its end
  from run.json, else when k6 last wrote its own files: its log, its summary), the
  monitoring stack is started again if it is down (its data is kept), the gate runs, the
  verdict is written, the configured rollback runs. How k6 ended is read from what k6
  printed last: a run to the end (every scenario done) gives k6's exit code (0, or 99 for
  failed thresholds); otherwise it stays unknown and the verdict is inconclusive at best.
- k6 cut short (killed: no summary; stopped by a signal or test.abort() after perfctl
  died; an instance of `--instances N` missing; clearly shorter than planned):
  failed-incomplete; what can be evaluated is, the rest is inconclusive, never pass.

The exit code is the most serious of the runs' (SEVERITY); a run perfctl still runs
itself is not recover's to finish and counts as 0.

Recover is idempotent: a run it finished is final, so a second recover finds nothing
to do and writes nothing. A per-run lock keeps two recovers off the same run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from orchestrator import console
from orchestrator.config.load import load_config
from orchestrator.config.model import LoadedConfig
from orchestrator.errors import ExitCode, LedgerError, PerfctlError
from orchestrator.k6.summary import k6_files, merge_instance_summaries
from orchestrator.k6.binary import read_summary
from orchestrator.k6.memory import ran_flat
from orchestrator.k6.log import K6LastWords, last_words
from orchestrator.ledger.record import K6End, RunRecord, Window
from orchestrator.ledger.store import (
    ERROR, EVALUATING, FAILED_INCOMPLETE, FINAL_STATES, FINISHED, Ledger, RunDir, iso, results_root,
)
from orchestrator.pids import ProcessRef
from orchestrator.run.finish import Ending, finish
from orchestrator.run.runstate import k6_processes, live_k6, perfctl_alive
from orchestrator.runtimes import ran_elsewhere
from orchestrator.run.tmux import Session

WAIT_REPORT_EVERY = 15.0
# The exit code of several recovered runs: the most serious one wins. A bug first; then what
# kept recover from finishing a run (environment, then usage: both say "fix this and run again",
# and a missing Prometheus is the likelier thing to fix); then the gate's answers, a failed gate
# before a run with no answer yet, before an interrupted one; 0 only when every run is fine.
SEVERITY = [ExitCode.BUG, ExitCode.ENVIRONMENT, ExitCode.USAGE, ExitCode.GATE_FAILED, ExitCode.INCONCLUSIVE,
            ExitCode.INTERRUPTED, ExitCode.OK]


@dataclass
class Outcome:
    run_id: str
    state: str  # what the run is now: its final status, or running / skipped
    did: list[str] = field(default_factory=list)
    exit_code: int = 0
    result: str | None = None

    def as_dict(self) -> dict:
        return {"id": self.run_id, "state": self.state, "result": self.result, "exit_code": self.exit_code, "did": self.did}


# ---- the command ----------------------------------------------------------------------------


def recover(
    config_path: Path | None, run_id: str | None, *, results: Path | None, wait: bool, rollback: bool, json_output: bool
) -> int:
    loaded = load_config(config_path)
    ledger = Ledger(results_root(loaded, results))
    outcomes: list[Outcome] = []
    runs = [ledger.get(run_id)] if run_id else ledger.runs()
    for run in runs:
        try:
            record = run.record()
        except LedgerError as exc:
            if run_id:
                raise
            # A torn or foreign folder is flagged and left exactly as it is.
            outcomes.append(Outcome(run.id, "skipped", [f"skipped: {exc.message}"]))
            continue
        if record.status in FINAL_STATES:
            if run_id:
                result = record.outcome.result
                outcomes.append(Outcome(run.id, record.status, [f"nothing to do: already {record.status}"
                                        + (f" ({result})" if result else "")],
                                        int(record.outcome.exit_code or 0), result))
            continue
        outcomes.append(_recover_one(loaded, run, wait=wait, rollback=rollback))
    return _report(outcomes, ledger, json_output)


def _report(outcomes: list[Outcome], ledger: Ledger, json_output: bool) -> int:
    if json_output:
        print(json.dumps([o.as_dict() for o in outcomes], indent=2))
    elif not outcomes:
        console.info(f"nothing to recover: every run in {ledger.root} is finished")
    else:
        for o in outcomes:
            print(f"{o.run_id}: {o.state}" + (f", {o.result}" if o.result else ""))
            for line in o.did:
                print(f"  - {line}")
    return worst_exit(o.exit_code for o in outcomes)


def worst_exit(codes) -> int:
    """The most serious of several exit codes (SEVERITY); a code perfctl does not know ranks first."""
    rank = {int(code): at for at, code in enumerate(SEVERITY)}
    return max((int(c) for c in codes), key=lambda c: len(SEVERITY) - rank.get(c, 0), default=int(ExitCode.OK))


@contextlib.contextmanager
def _recovering(run: RunDir) -> Iterator[bool]:
    """True while this process alone recovers the run (the ledger's own lock guards each write)."""
    with open(run.path / ".recover.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _recover_one(loaded: LoadedConfig, run: RunDir, *, wait: bool, rollback: bool) -> Outcome:
    try:
        outcome = _await_processes(run, wait=wait)
        if outcome.state != "ready":
            return outcome  # still at work (and told so), or finished meanwhile: nothing written
        with _recovering(run) as mine:
            if not mine:
                return Outcome(run.id, "skipped", ["another perfctl is recovering this run right now"])
            record = run.record()
            if record.status in FINAL_STATES:
                return Outcome(run.id, record.status, ["finished meanwhile by another perfctl"],
                               int(record.outcome.exit_code or 0), record.outcome.result)
            return _finish(loaded, run, record, outcome, rollback=rollback)
    except PerfctlError as exc:
        # e.g. Prometheus unreachable: the run stays as it is, for a later recover.
        state = run.record().status or "?"
        lines = [f"not finished: {exc.message}"] + ([f"hint: {exc.hint}"] if exc.hint else [])
        return Outcome(run.id, state, lines, int(exc.exit_code))


def _await_processes(run: RunDir, *, wait: bool) -> Outcome:
    """Read-only: who still works on the run; with `wait`, wait for them. State `ready`: nobody does."""
    record = run.record()
    outcome = Outcome(run.id, record.status or "?")
    elsewhere = ran_elsewhere(record)
    if elsewhere and not perfctl_alive(record):
        # Its k6 processes and their files are not on this machine: nothing here can tell how they ended.
        outcome.did.append(f"not recovered: k6 ran {elsewhere}; perfctl recover only finishes runs whose k6 ran here")
        outcome.did.append("k6's output stays where it ran (the hosts' tmux sessions, the k6-operator pods)")
        return outcome
    session = Session.from_record(record.tmux)
    attach = f"perfctl attach {run.id}" if session and session.exists() else None

    if perfctl_alive(record):
        pid = record.perfctl.pid
        if not wait:
            outcome.did.append(f"in progress: perfctl (pid {pid}) still runs it; nothing to recover"
                               + (f"; watch it: {attach}" if attach else ""))
            return outcome
        outcome.did.append(f"waited for perfctl (pid {pid}) to finish the run")
        _wait_until(lambda: not perfctl_alive(run.record()), f"perfctl (pid {pid})", record)
        record = run.record()
        if record.status in FINAL_STATES:
            outcome.state, outcome.result = record.status, record.outcome.result
            outcome.exit_code = int(record.outcome.exit_code or 0)
            return outcome

    running = live_k6(record)
    if running:
        pids = ", ".join(str(r.pid) for r in running)
        if not wait:
            elapsed = time.time() - record.start if record.start else None
            planned = record.plan.expected_seconds
            progress = f" ({elapsed:.0f}s of ~{planned:g}s)" if elapsed is not None and planned else ""
            outcome.did.append(f"k6 still running (pid {pids}){progress}, perfctl is gone")
            outcome.did.append(f"to finish the run when k6 ends: perfctl recover {run.id} --wait"
                               + (f"; to watch: {attach}" if attach else ""))
            # No verdict yet and nobody left to write one: not a 0 a script could take for "all fine".
            outcome.state, outcome.exit_code = "k6 running", int(ExitCode.INCONCLUSIVE)
            return outcome
        outcome.did.append(f"waited for k6 (pid {pids}) to end")
        _wait_until(lambda: not live_k6(record), f"k6 (pid {pids})", record)
    outcome.state = "ready"
    return outcome


def _finish(loaded: LoadedConfig, run: RunDir, record: RunRecord, outcome: Outcome, *, rollback: bool) -> Outcome:
    if not record.start or not k6_processes(record):
        note = _recovered_note(["perfctl died before k6 started: no load was sent"])
        run.write(lambda now: replace(now, status=ERROR, recovered=note))
        outcome.state = ERROR
        outcome.did.append("marked error: perfctl died before k6 started (no load was sent, no verdict)")
        outcome.exit_code = int(ExitCode.INCONCLUSIVE)
        return outcome

    from orchestrator.k6.log_writer import wait_complete

    for log in sorted(run.path.glob("k6*.log")):
        wait_complete(log, timeout=10)  # the log writer's last lines (k6 has just ended) are in
    record = _infer_k6_end(run, record, outcome.did)

    def noted(ending: Ending) -> dict:  # the lines of what recover did, recorded with the verdict
        if ending.judgement is None:
            outcome.did.append("the verdict was written before perfctl died; recorded it")
        else:
            outcome.did.append(f"evaluated the gate over {iso(record.start)} .. {iso(record.end)}: {ending.result}")
            for grade in ending.judgement.verdict.grades:
                if grade.value is None and grade.reason:
                    outcome.did.append(f"{grade.name}: {grade.reason}")
        return {"recovered": _recovered_note(outcome.did)}

    final = (record.k6_end.final_status if record.k6_end else None) or FINISHED
    ending = finish(
        loaded, run, record, ensure=lambda url: outcome.did.append(f"restarted Prometheus at {url} (its data was kept)"),
        has_thresholds=_has_thresholds(loaded, record), keep_written=True, status=final, extra=noted, rollback=rollback,
    )
    if ending.rollback:
        outcome.did.append(f"ran the rollback actions (outcome in run.json, output in {run.path / 'rollback'})")
    outcome.state, outcome.result, outcome.exit_code = final, ending.result, ending.exit_code
    return outcome


def _infer_k6_end(run: RunDir, record: RunRecord, did: list[str]) -> RunRecord:
    """How k6 ended, read from the files k6 itself left, since perfctl died before it saw k6 end
    (run/execute._record_k6_end records what it saw). Nothing is guessed: k6's exit code
    stays unknown (None, so the verdict is inconclusive at best) unless k6's own last lines
    prove the end, and a run that was cut short is failed-incomplete."""
    if record.end is not None and record.k6_end is not None:
        did.append("k6 had ended and perfctl recorded it; the verdict was missing")
        return record
    count = record.identity.instances
    files = k6_files(run, count)
    flat = ran_flat(record)  # a flat k6 writes no summary: its absence proves nothing (k6/memory.py)
    if count > 1 and not flat and not run.file("summary.json").exists():
        merge_instance_summaries(run, count)  # the numbers for the report; not a proof of anything
    # The window ends when k6 last wrote, never when perfctl wrote (the merge above, run.json).
    end = max((t for t in (_mtime(path) for pair in files for path in pair) if t is not None), default=None)
    end = end or record.start
    numbers = [read_summary(summary) for _, summary in files]
    said = [last_words(log) for log, _ in files]

    stopped = []  # why k6 (or which instance) did not complete its plan, in k6's words
    for index, ((log, summary), number, words) in enumerate(zip(files, numbers, said)):
        who = f"instance {index} ({log.name})" if count > 1 else "k6"
        if number is None and not flat:
            stopped.append(f"{who} ended without writing its summary ({summary.name}; killed mid-run?)")
        elif words.stopped:
            stopped.append(f"{who} stopped before the end of its plan: {words.stopped}")
    short = _covered_too_little(record, numbers, said)
    thresholds_crossed = any(n is not None and n.thresholds_failed for n in numbers) or any(w.thresholds_crossed for w in said)

    if stopped or short:
        lost = "; ".join(stopped + ([short] if short else [])) + "; the numbers cover only part of the plan"
        # k6 stopping itself for an abortOnFail threshold exits 99 (a failed gate), as k6 says;
        # that it ran short of the plan is then its own doing.
        by_thresholds = stopped and all(numbers) and all(w.threshold_abort for w in said if w.stopped)
        k6_exit = 99 if by_thresholds else None
        k6_end = K6End(exit_code=k6_exit, lost=lost, final_status=FAILED_INCOMPLETE)
        if count == 1 and numbers[0] is None and not flat:
            did.append(f"k6 died mid-run (no summary.json; last output {iso(end)}): failed-incomplete")
        else:
            did.append(f"k6 did not complete: {lost} (last output {iso(end)}): failed-incomplete")
    elif all(w.completed for w in said):
        k6_exit = 99 if thresholds_crossed else 0
        evidence = "k6's last lines (every scenario done)" + ("" if flat else " and its summary")
        k6_end = K6End(exit_code=k6_exit, exit_inferred=evidence, final_status=FINISHED)
        written = f"last output {iso(end)}" if flat else f"summary written {iso(end)}"
        did.append(f"k6 had finished (its log ends with every scenario done, {written}); "
                   "perfctl had died before the verdict")
    else:
        lost = ("k6's exit code is unknown: perfctl died before k6 ended, and k6's log does not show the test "
                "completing (no final progress line with every scenario done)")
        k6_end = K6End(exit_code=None, lost=lost, final_status=FINISHED)
        did.append(f"{lost}; the verdict can be inconclusive at best")
    return run.write(lambda now: replace(now, status=EVALUATING, window=Window(now.start, end), k6_end=k6_end))


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _covered_too_little(record: RunRecord, numbers: list, said: list[K6LastWords]) -> str | None:
    """A line when k6 ran clearly shorter than the plan, by its own clock (summary, else its log)."""
    planned = record.plan.expected_seconds
    if record.identity.script or not isinstance(planned, (int, float)) or planned <= 0:
        # A hand-written script's expected_seconds is k6 inspect's totalDuration, which includes
        # the graceful stop: an upper bound, not the plan. Iteration-based plans have no duration.
        return None
    covered = [n.run_seconds if n is not None and n.run_seconds else w.running_seconds for n, w in zip(numbers, said)]
    known = [c for c in covered if c is not None]
    if not known:
        return None
    ran = max(known)
    if ran < planned * 0.95 - 0.5:
        return f"k6 ran {ran:.1f}s of the planned {planned:g}s"
    return None


def _has_thresholds(loaded: LoadedConfig, record: RunRecord) -> bool:
    if record.plan.has_thresholds is not None:
        return record.plan.has_thresholds
    scenario = loaded.config.scenarios.get(record.scenario)
    return bool(scenario and scenario.thresholds)


def _recovered_note(did: list[str]) -> dict:
    return {"at": iso(time.time()), "by": ProcessRef.of(os.getpid()).as_dict(), "did": list(did)}


def _wait_until(done, what: str, record: RunRecord) -> None:
    console.info(f"waiting for {what} (Ctrl-C stops waiting, not the run)")
    last = time.monotonic()
    while not done():
        if time.monotonic() - last >= WAIT_REPORT_EVERY:
            last = time.monotonic()
            elapsed = f"{time.time() - record.start:.0f}s since start" if record.start else "still running"
            console.info(f"  {what}: {elapsed}")
        time.sleep(0.5)
