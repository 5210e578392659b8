"""`perfctl recover [RUN] [--wait]`: bring every run the ledger says is unfinished to a
final state, and say what was done.

- perfctl still runs the run: leave it (say how to attach); `--wait` waits for it.
- perfctl died, k6 still runs (pid + kernel start time, so a reused pid is not taken
  for k6): report it and how to attach; `--wait` waits for k6 and then finishes the run.
- k6 finished but perfctl died before the verdict: the window is the recorded one (its
  end from run.json, else from when k6 last wrote summary.json / k6.log), the monitoring
  stack is started again if it is down (its data is kept), the gate runs, the verdict
  is written, the configured rollback runs.
- k6 died mid-run (no summary): failed-incomplete; what can be evaluated is, the rest
  is inconclusive, never pass.

Recover is idempotent: a run it finished is final, so a second recover finds nothing
to do and writes nothing. A per-run lock keeps two recovers off the same run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from orchestrator import console
from orchestrator.commands.run import results_root
from orchestrator.config import LoadedConfig, load_config
from orchestrator.errors import ExitCode, LedgerError, PerfctlError
from orchestrator.gate import await_last_scrapes, objectives_for
from orchestrator.judge import judge_run
from orchestrator.k6 import read_summary
from orchestrator.ledger import (
    ERROR, EVALUATING, FAILED_INCOMPLETE, FINAL_STATES, FINISHED, Ledger, RunDir, iso,
)
from orchestrator.local_prometheus import LocalPrometheus
from orchestrator.monitoring_stack import ensure_prometheus
from orchestrator.pids import ProcessRef
from orchestrator.rollback import run_rollback
from orchestrator.runstate import k6_processes, live_k6, perfctl_alive
from orchestrator.tmux import Session

WAIT_REPORT_EVERY = 15.0
# The exit code of several recovered runs: the most serious one wins.
SEVERITY = [ExitCode.ENVIRONMENT, ExitCode.GATE_FAILED, ExitCode.INCONCLUSIVE, ExitCode.INTERRUPTED, ExitCode.OK]


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
            record = run.run_record()
        except LedgerError as exc:
            if run_id:
                raise
            # A torn or foreign folder is flagged and left exactly as it is.
            outcomes.append(Outcome(run.id, "skipped", [f"skipped: {exc.message}"]))
            continue
        if record.get("status") in FINAL_STATES:
            if run_id:
                outcomes.append(Outcome(run.id, record["status"], [f"nothing to do: already {record['status']}"
                                        + (f" ({record['result']})" if record.get("result") else "")],
                                        int(record.get("exit_code") or 0), record.get("result")))
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
    codes = {o.exit_code for o in outcomes}
    return int(next((c for c in SEVERITY if int(c) in codes), ExitCode.OK))


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
            record = run.run_record()
            if record.get("status") in FINAL_STATES:
                return Outcome(run.id, record["status"], ["finished meanwhile by another perfctl"],
                               int(record.get("exit_code") or 0), record.get("result"))
            return _finish(loaded, run, record, outcome, rollback=rollback)
    except PerfctlError as exc:
        # e.g. Prometheus unreachable: the run stays as it is, for a later recover.
        state = run.run_record().get("status", "?")
        lines = [f"not finished: {exc.message}"] + ([f"hint: {exc.hint}"] if exc.hint else [])
        return Outcome(run.id, state, lines, int(exc.exit_code))


def _await_processes(run: RunDir, *, wait: bool) -> Outcome:
    """Read-only: who still works on the run; with `wait`, wait for them. State `ready`: nobody does."""
    record = run.run_record()
    outcome = Outcome(run.id, record.get("status", "?"))
    elsewhere = _k6_elsewhere(record)
    if elsewhere and not perfctl_alive(record):
        # Its k6 processes and their files are not on this machine: nothing here can tell how they ended.
        outcome.did.append(f"not recovered: k6 ran {elsewhere}; perfctl recover only finishes runs whose k6 ran here")
        outcome.did.append("k6's output stays where it ran (the hosts' tmux sessions, the k6-operator pods)")
        return outcome
    session = Session.from_record(record.get("tmux"))
    attach = f"perfctl attach {run.id}" if session and session.exists() else None

    if perfctl_alive(record):
        pid = record["perfctl"]["pid"]
        if not wait:
            outcome.did.append(f"in progress: perfctl (pid {pid}) still runs it; nothing to recover"
                               + (f"; watch it: {attach}" if attach else ""))
            return outcome
        outcome.did.append(f"waited for perfctl (pid {pid}) to finish the run")
        _wait_until(lambda: not perfctl_alive(run.run_record()), f"perfctl (pid {pid})", record)
        record = run.run_record()
        if record.get("status") in FINAL_STATES:
            outcome.state, outcome.result = record["status"], record.get("result")
            outcome.exit_code = int(record.get("exit_code") or 0)
            return outcome

    running = live_k6(record)
    if running:
        pids = ", ".join(str(r.pid) for r in running)
        if not wait:
            elapsed = time.time() - record["start"] if record.get("start") else None
            planned = record.get("expected_seconds")
            progress = f" ({elapsed:.0f}s of ~{planned:g}s)" if elapsed is not None and planned else ""
            outcome.did.append(f"k6 still running (pid {pids}){progress}, perfctl is gone")
            outcome.did.append(f"to finish the run when k6 ends: perfctl recover {run.id} --wait"
                               + (f"; to watch: {attach}" if attach else ""))
            return outcome
        outcome.did.append(f"waited for k6 (pid {pids}) to end")
        _wait_until(lambda: not live_k6(record), f"k6 (pid {pids})", record)
    outcome.state = "ready"
    return outcome


def _k6_elsewhere(record: dict) -> str | None:
    """Where k6 ran when that is not a process of this machine (other hosts over ssh, Kubernetes)."""
    k6 = record.get("k6") if isinstance(record.get("k6"), dict) else {}
    if k6.get("hosts"):
        return "on other hosts (" + ", ".join(str(h.get("host")) for h in k6["hosts"] if isinstance(h, dict)) + ")"
    if record.get("runtime") == "k8s" or record.get("k8s"):
        return "in Kubernetes (k6-operator)"
    return None


def _finish(loaded: LoadedConfig, run: RunDir, record: dict, outcome: Outcome, *, rollback: bool) -> Outcome:
    if not record.get("start") or not k6_processes(record):
        run.update(status=ERROR, recovered=_recovered_note(["perfctl died before k6 started: no load was sent"]))
        outcome.state = ERROR
        outcome.did.append("marked error: perfctl died before k6 started (no load was sent, no verdict)")
        outcome.exit_code = int(ExitCode.INCONCLUSIVE)
        return outcome

    record = _record_k6_end(run, record, outcome.did)
    prometheus = LocalPrometheus.for_config(loaded.config, loaded.path)  # its client: the configured url
    if ensure_prometheus(loaded):  # a local process or the docker stack, as prometheus.runtime says
        outcome.did.append(f"restarted Prometheus at {prometheus.url} (its data was kept)")
    verdict = run.read_json("verdict.json")
    if verdict is not None and verdict.get("result"):
        # perfctl died after writing the verdict and before recording it: the verdict stands.
        result, score = verdict["result"], verdict.get("percent")
        exit_code = int(ExitCode.INTERRUPTED) if record.get("interrupted_by") else _exit_for(result)
        outcome.did.append("the verdict was written before perfctl died; recorded it")
    else:
        # Right after k6 ended (--wait) the last scrapes may still be due; long after, this returns at once.
        await_last_scrapes(prometheus.client(), objectives_for(loaded.config, record["scenario"]), end=record["end"],
                           timeout=loaded.config.prometheus.settle)
        judgement = judge_run(loaded, run, prometheus.client(), record=record,
                              has_thresholds=_has_thresholds(loaded, record))
        result, score, exit_code = judgement.verdict.result.value, judgement.verdict.percent, int(judgement.exit_code)
        outcome.did.append(f"evaluated the gate over {iso(record['start'])} .. {iso(record['end'])}: {result}")
        for grade in judgement.verdict.grades:
            if grade.value is None and grade.reason:
                outcome.did.append(f"{grade.name}: {grade.reason}")
    final = record.get("final_status") or FINISHED
    run.update(
        status=final, result=result, score=round(score, 2) if score is not None else None, exit_code=exit_code,
        finished=iso(time.time()), recovered=_recovered_note(outcome.did),
    )
    if rollback and run_rollback(loaded, run, result, interrupted=bool(record.get("interrupted_by"))):
        outcome.did.append(f"ran the rollback actions (outcome in run.json, output in {run.path / 'rollback'})")
    outcome.state, outcome.result, outcome.exit_code = final, result, exit_code
    return outcome


def _record_k6_end(run: RunDir, record: dict, did: list[str]) -> dict:
    """The k6 end as perfctl would have recorded it; kept as is when perfctl recorded it itself."""
    if record.get("end") is not None and "k6_exit_code" in record:
        did.append("k6 had ended and perfctl recorded it; the verdict was missing")
        return record
    summary_path = run.file("summary.json")
    summary_ok = read_summary(summary_path) is not None
    if not summary_ok and int(record.get("instances") or 1) > 1:
        from orchestrator.instances import merge_instance_summaries

        merge_instance_summaries(run, int(record["instances"]))
        summary_ok = read_summary(summary_path) is not None
    end = _last_write(run, summary_path if summary_ok else None) or record["start"]
    changes: dict = {"status": EVALUATING, "end": end}
    if summary_ok:
        failed = _thresholds_failed(summary_path)
        changes.update(k6_exit_code=99 if failed else 0, k6_exit_inferred="from summary.json", final_status=FINISHED)
        did.append(f"k6 had finished (summary.json written {iso(end)}); perfctl had died before the verdict")
    else:
        lost = "k6 ended without writing its summary (killed mid-run?); the numbers cover only part of the plan"
        changes.update(k6_exit_code=None, k6_lost=lost, final_status=FAILED_INCOMPLETE)
        did.append(f"k6 died mid-run (no summary.json; last output {iso(end)}): failed-incomplete")
    return run.update(**changes)


def _last_write(run: RunDir, summary: Path | None) -> float | None:
    """When k6 last wrote: its summary (written at its very end), else its log."""
    for path in ([summary] if summary else []) + sorted(run.path.glob("k6*.log")):
        with contextlib.suppress(OSError):
            return path.stat().st_mtime
    return None


def _thresholds_failed(summary_path: Path) -> bool:
    """In k6's --summary-export file a threshold's value is true when it failed."""
    try:
        metrics = json.loads(summary_path.read_text()).get("metrics", {})
    except (OSError, ValueError, AttributeError):
        return False
    return any(
        failed is True
        for metric in metrics.values() if isinstance(metric, dict)
        for failed in (metric.get("thresholds") or {}).values()
    )


def _has_thresholds(loaded: LoadedConfig, record: dict) -> bool:
    if "has_thresholds" in record:
        return bool(record["has_thresholds"])
    scenario = loaded.config.scenarios.get(record.get("scenario", ""))
    return bool(scenario and scenario.thresholds)


def _exit_for(result: str) -> int:
    return {"pass": 0, "warning": 0, "fail": int(ExitCode.GATE_FAILED)}.get(result, int(ExitCode.INCONCLUSIVE))


def _recovered_note(did: list[str]) -> dict:
    return {"at": iso(time.time()), "by": ProcessRef.of(os.getpid()).as_dict(), "did": list(did)}


def _wait_until(done, what: str, record: dict) -> None:
    console.info(f"waiting for {what} (Ctrl-C stops waiting, not the run)")
    last = time.monotonic()
    while not done():
        if time.monotonic() - last >= WAIT_REPORT_EVERY:
            last = time.monotonic()
            elapsed = f"{time.time() - record['start']:.0f}s since start" if record.get("start") else "still running"
            console.info(f"  {what}: {elapsed}")
        time.sleep(0.5)
