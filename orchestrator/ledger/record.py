"""The record of one run (`run.json`), typed: what every module reads about a run, and the
one shape it is written in.

On disk it stays the flat JSON object perfctl has always written (same keys, plus
`schema_version`), so folders written before this type and after it open everywhere. In code
it is one frozen value made of parts: who and what ran (Identity), the plan (LoadPlan), when
k6 really ran (Window), k6's processes wherever they ran (K6Run of K6Process), how k6 ended
(K6End), the verdict's summary (Outcome) and the baseline the gate used (Baseline). A change
is `dataclasses.replace` of the record, written once by `RunDir.write` (ledger/store.py)
under the run's lock.

Schema versions: 1 has no `schema_version` key (written before this module); 2 writes it.
Each runtime recorded its k6 processes in its own shape, and still does on disk, so that old
and new readers agree: `k6: {pid, start, argv}` (local), the same plus `container`, `image`
(docker), `k6: {instances: [{pid, start}...], argv}` (--instances N), `k6: {hosts: [{host,
session, directory}...], argv}` (--hosts), `k8s: {testrun, namespace, parallelism}` (k8s).
Keys this module does not know are kept as they are (`extras`), never dropped on a write.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from orchestrator.pids import ProcessRef

RUN_SCHEMA = "perfctl.run/v1"  # what a perfctl run record is (`schema`); unchanged across versions
SCHEMA_VERSION = 2  # the layout this code writes (`schema_version`; absent: 1)

Kind = str  # the runtime that ran the process: a name of the registry (orchestrator/runtimes)


@dataclass(frozen=True)
class Baseline:
    """The values relative criteria compare with, and the runs they came from (verdict/baseline.py)."""

    spec: str  # what the user asked for: a run id, "last-pass" or "pinned"
    runs: tuple[str, ...]  # the runs whose values were used, newest first
    values: dict[str, float] = field(default_factory=dict)  # objective name -> mean value

    def as_dict(self) -> dict:
        return {"spec": self.spec, "runs": list(self.runs), "values": dict(self.values)}

    @classmethod
    def from_dict(cls, data: dict | None) -> "Baseline | None":
        if not data:
            return None
        return cls(spec=data.get("spec", ""), runs=tuple(data.get("runs", ())), values=dict(data.get("values", {})))


@dataclass(frozen=True)
class Identity:
    """What ran: the scenario, with which config, perfctl, k6 and runtime."""

    scenario: str
    created: str | None = None
    config: str | None = None
    config_digest: str | None = None
    perfctl_version: str | None = None
    k6_version: str | None = None
    runtime: str | None = None  # --runtime as given (local, docker, k8s)
    prometheus_url: str | None = None  # credentials redacted
    script: str | None = None  # a hand-written --script, else None (generated)
    instances: int = 1
    k6_native_histograms: bool = False
    k6_memory: dict | None = None  # k6/memory.MemoryMode.as_dict(): flat or exact, why, the thresholds the gate judged
    overrides: dict = field(default_factory=dict)
    started_prometheus: bool = False  # on disk: started.prometheus


@dataclass(frozen=True)
class LoadPlan:
    expected_seconds: float | None = None
    parts: tuple[dict, ...] = ()  # on disk: load (report/plan_summary.describe_plan)
    has_thresholds: bool | None = None  # None: not recorded (written before the key existed)


@dataclass(frozen=True)
class Window:
    """When k6 really ran (a container's own start and exit, not its set-up)."""

    start: float | None = None
    end: float | None = None

    @property
    def known(self) -> bool:
        return self.start is not None and self.end is not None


@dataclass(frozen=True)
class K6Process:
    """One k6 process, wherever it ran: a pid here (local, docker), a tmux session on a host
    (ssh), the TestRun of the k6-operator (k8s)."""

    kind: Kind
    pid: int | None = None
    start: int | None = None  # the kernel's start time of pid: a reused pid is not taken for k6
    container: str | None = None
    host: str | None = None
    session: str | None = None
    directory: str | None = None
    testrun: str | None = None
    namespace: str | None = None

    def process(self) -> ProcessRef | None:
        """The process on this machine, when it ran on this machine."""
        # Only processes of this machine record a pid (local, and docker's container process);
        # ssh records a host and k8s a TestRun.
        return ProcessRef(self.pid, self.start) if self.pid is not None else None


@dataclass(frozen=True)
class K6Run:
    """k6's processes of the run, as the runtime reported them once k6 had started."""

    processes: tuple[K6Process, ...] = ()
    argv: tuple[str, ...] | None = None
    image: str | None = None  # docker
    parallelism: int | None = None  # k8s
    extra: dict = field(default_factory=dict)  # keys of the runtime's facts this type does not know

    @property
    def kind(self) -> Kind | None:
        return self.processes[0].kind if self.processes else None

    def local(self) -> list[ProcessRef]:
        """The processes of this machine (pid + start), for liveness checks."""
        return [ref for ref in (p.process() for p in self.processes) if ref is not None]

    @classmethod
    def from_facts(cls, key: str, facts: Mapping) -> "K6Run":
        """A runtime's `on_started` facts, recorded under `key` ("k6", or "k8s" for the k6-operator)."""
        facts = dict(facts)
        if key == "k8s":
            known = {"testrun", "namespace", "parallelism"}
            proc = K6Process("k8s", testrun=_str(facts.get("testrun")), namespace=_str(facts.get("namespace")))
            return cls((proc,), parallelism=_int(facts.get("parallelism")),
                       extra={k: v for k, v in facts.items() if k not in known})
        argv = tuple(str(a) for a in facts["argv"]) if isinstance(facts.get("argv"), list) else None
        if isinstance(facts.get("hosts"), list):
            procs = tuple(K6Process("ssh", host=_str(h.get("host")), session=_str(h.get("session")),
                                    directory=_str(h.get("directory")))
                          for h in facts["hosts"] if isinstance(h, dict))
            return cls(procs, argv, extra={k: v for k, v in facts.items() if k not in ("hosts", "argv")})
        if isinstance(facts.get("instances"), list):
            procs = tuple(p for p in (_local(e) for e in facts["instances"]) if p is not None)
            return cls(procs, argv, extra={k: v for k, v in facts.items() if k not in ("instances", "argv")})
        known = {"pid", "start", "argv", "container", "image"}
        one = _local(facts, kind="docker" if facts.get("container") else "local")
        return cls((one,) if one else (), argv, image=_str(facts.get("image")),
                   extra={k: v for k, v in facts.items() if k not in known})

    def key(self) -> str:
        return "k8s" if self.kind == "k8s" else "k6"

    def facts(self) -> dict:
        """The on-disk shape of the runtime that ran k6 (see the module's doc)."""
        argv = {"argv": list(self.argv)} if self.argv is not None else {}
        if self.kind == "k8s":
            p = self.processes[0]
            return {"testrun": p.testrun, "namespace": p.namespace, "parallelism": self.parallelism, **self.extra}
        if self.kind == "ssh":
            hosts = [{"host": p.host, "session": p.session, "directory": p.directory} for p in self.processes]
            return {"hosts": hosts, **argv, **self.extra}
        if not self.processes:  # a runtime that reported no process (yet): its facts as they were
            return {**argv, **self.extra}
        if len(self.processes) == 1:
            p = self.processes[0]
            docker = {"container": p.container, "image": self.image} if p.kind == "docker" else {}
            return {"pid": p.pid, "start": p.start, **argv, **docker, **self.extra}
        return {"instances": [{"pid": p.pid, "start": p.start} for p in self.processes], **argv, **self.extra}


@dataclass(frozen=True)
class K6End:
    """How k6 ended, as perfctl saw it (pipeline) or read it from k6's files (recover)."""

    exit_code: int | None = None  # None: unknown (perfctl died before k6 ended)
    interrupted_by: str | None = None  # the signal that stopped the run
    final_status: str | None = None  # the status once the verdict is written
    lost: str | None = None  # what k6 did not complete, in words (k6_lost)
    exit_inferred: str | None = None  # what recover read k6's exit code from


@dataclass(frozen=True)
class Outcome:
    """The verdict's summary, once written; `error` when the run could not go on."""

    result: str | None = None
    score: float | None = None
    exit_code: int | None = None
    finished: str | None = None
    error: str | None = None


# Top-level keys read into typed fields; any other key is kept in `extras`.
_IDENTITY = ("created", "config", "config_digest", "perfctl_version", "k6_version", "runtime", "prometheus_url",
             "script")
_KNOWN = {"schema", "schema_version", "id", "status", "updated", "scenario", *_IDENTITY, "instances",
          "k6_native_histograms", "k6_memory", "overrides", "started", "expected_seconds", "load", "has_thresholds", "perfctl",
          "tmux", "baseline", "require_baseline", "start", "end", "k6", "k8s", "k6_exit_code", "interrupted_by",
          "final_status", "k6_lost", "k6_exit_inferred", "live_gate", "dropped_iterations", "result", "score",
          "exit_code", "finished", "error", "rollback", "recovered", "rolled_back"}


@dataclass(frozen=True)
class RunRecord:
    id: str
    status: str
    identity: Identity
    plan: LoadPlan = field(default_factory=LoadPlan)
    schema_version: int = SCHEMA_VERSION
    updated: str | None = None
    perfctl: ProcessRef | None = None  # the perfctl process that runs it
    tmux: dict | None = None  # run/tmux.Session.as_dict() of a --detach run
    baseline: Baseline | None = None
    require_baseline: bool = False
    window: Window = field(default_factory=Window)
    k6: K6Run | None = None  # None until k6 has started
    k6_end: K6End | None = None  # None until k6's end is recorded
    live_gate: dict | None = None  # the live gate's stop, when it stopped k6
    dropped_iterations: float | None = None
    outcome: Outcome = field(default_factory=Outcome)
    rollback: dict | None = None  # run/rollback.run_rollback's outcome
    recovered: dict | None = None  # what `perfctl recover` did
    rolled_back: dict | None = None  # `perfctl rollback RUN` by hand
    extras: dict = field(default_factory=dict)

    # ---- convenience reads ---------------------------------------------------------------

    @property
    def scenario(self) -> str:
        return self.identity.scenario

    @property
    def start(self) -> float | None:
        return self.window.start

    @property
    def end(self) -> float | None:
        return self.window.end

    @property
    def interrupted_by(self) -> str | None:
        return self.k6_end.interrupted_by if self.k6_end else None

    def k6_processes(self) -> list[ProcessRef]:
        """The k6 processes of this machine the run recorded (none when k6 ran elsewhere)."""
        return self.k6.local() if self.k6 else []

    # ---- reading and writing ---------------------------------------------------------------

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RunRecord":
        """Any run.json perfctl wrote (schema versions 1 and 2, every runtime's k6 shape)."""
        d = dict(data)
        started = d.get("started") if isinstance(d.get("started"), dict) else {}
        identity = Identity(
            scenario=str(d.get("scenario") or ""),
            **{key: (None if d.get(key) is None else str(d[key])) for key in _IDENTITY},
            instances=_int(d.get("instances")) or 1,
            k6_native_histograms=bool(d.get("k6_native_histograms")),
            k6_memory=dict(d["k6_memory"]) if isinstance(d.get("k6_memory"), dict) else None,
            overrides=dict(d.get("overrides") or {}),
            started_prometheus=bool(started.get("prometheus")),
        )
        plan = LoadPlan(expected_seconds=_float(d.get("expected_seconds")), parts=tuple(d.get("load") or ()),
                        has_thresholds=None if "has_thresholds" not in d else bool(d["has_thresholds"]))
        k6 = None
        if isinstance(d.get("k8s"), dict):
            k6 = K6Run.from_facts("k8s", d["k8s"])
        elif isinstance(d.get("k6"), dict):
            k6 = K6Run.from_facts("k6", d["k6"])
        k6_end = None
        if "k6_exit_code" in d or "final_status" in d:
            k6_end = K6End(exit_code=_int(d.get("k6_exit_code")), interrupted_by=_str(d.get("interrupted_by")),
                           final_status=_str(d.get("final_status")), lost=_str(d.get("k6_lost")),
                           exit_inferred=_str(d.get("k6_exit_inferred")))
        elif d.get("interrupted_by"):
            k6_end = K6End(interrupted_by=str(d["interrupted_by"]))
        perfctl = None
        with contextlib.suppress(KeyError, TypeError, ValueError):
            perfctl = ProcessRef.from_dict(d["perfctl"])
        return cls(
            id=str(d.get("id") or ""),
            status=str(d.get("status") or ""),
            identity=identity,
            plan=plan,
            schema_version=_int(d.get("schema_version")) or 1,
            updated=_str(d.get("updated")),
            perfctl=perfctl,
            tmux=dict(d["tmux"]) if isinstance(d.get("tmux"), dict) else None,
            baseline=Baseline.from_dict(d.get("baseline") if isinstance(d.get("baseline"), dict) else None),
            require_baseline=bool(d.get("require_baseline")),
            window=Window(_float(d.get("start")), _float(d.get("end"))),
            k6=k6,
            k6_end=k6_end,
            live_gate=d.get("live_gate") if isinstance(d.get("live_gate"), dict) else None,
            dropped_iterations=_float(d.get("dropped_iterations")),
            outcome=Outcome(result=_str(d.get("result")), score=_float(d.get("score")), exit_code=_int(d.get("exit_code")),
                            finished=_str(d.get("finished")), error=_str(d.get("error"))),
            rollback=d.get("rollback") if isinstance(d.get("rollback"), dict) else None,
            recovered=d.get("recovered") if isinstance(d.get("recovered"), dict) else None,
            rolled_back=d.get("rolled_back") if isinstance(d.get("rolled_back"), dict) else None,
            extras={k: v for k, v in d.items() if k not in _KNOWN},
        )

    def to_json(self) -> dict:
        """The flat run.json object (keys as perfctl has always written them, plus schema_version)."""
        i, p = self.identity, self.plan
        out: dict[str, Any] = {"schema": RUN_SCHEMA, "schema_version": SCHEMA_VERSION, "id": self.id,
                               "scenario": i.scenario, "status": self.status}
        out.update({key: getattr(i, key) for key in _IDENTITY if key != "script"})
        out.update(expected_seconds=p.expected_seconds, load=list(p.parts), overrides=dict(i.overrides),
                   started={"prometheus": i.started_prometheus}, instances=i.instances,
                   k6_native_histograms=i.k6_native_histograms,
                   perfctl=self.perfctl.as_dict() if self.perfctl else None)
        _put(out, "k6_memory", i.k6_memory)
        if p.has_thresholds is not None:
            out["has_thresholds"] = p.has_thresholds
        out.update(script=i.script, tmux=self.tmux, baseline=self.baseline.as_dict() if self.baseline else None,
                   require_baseline=self.require_baseline)
        _put(out, "start", self.window.start)
        _put(out, "end", self.window.end)
        if self.k6 is not None:
            out[self.k6.key()] = self.k6.facts()
        if self.k6_end is not None:
            e = self.k6_end
            out.update(k6_exit_code=e.exit_code, interrupted_by=e.interrupted_by, final_status=e.final_status)
            _put(out, "k6_lost", e.lost)
            _put(out, "k6_exit_inferred", e.exit_inferred)
        _put(out, "live_gate", self.live_gate)
        _put(out, "dropped_iterations", self.dropped_iterations)
        o = self.outcome
        if o.result is not None:
            out.update(result=o.result, score=o.score, exit_code=o.exit_code)
        else:
            _put(out, "exit_code", o.exit_code)
        _put(out, "finished", o.finished)
        _put(out, "error", o.error)
        _put(out, "rollback", self.rollback)
        _put(out, "recovered", self.recovered)
        _put(out, "rolled_back", self.rolled_back)
        out.update(self.extras)
        out["updated"] = self.updated
        return out

    def merged(self, changes: Mapping[str, Any]) -> "RunRecord":
        """This record with run.json keys set as `changes` says (RunDir.update's flat keys)."""
        return RunRecord.from_json({**self.to_json(), **changes})

    def ended(self, *, status: str, outcome: Outcome, **parts: Any) -> "RunRecord":
        """The record of a run with its verdict (or error) written: final `status` and `outcome`."""
        return replace(self, status=status, outcome=outcome, **parts)


def _put(out: dict, key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def _local(entry: Any, kind: Kind = "local") -> K6Process | None:
    if not isinstance(entry, dict):
        return None
    pid = _int(entry.get("pid"))
    container = _str(entry.get("container"))
    if pid is None and container is None:
        return None
    return K6Process(kind, pid=pid, start=_int(entry.get("start")), container=container)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
