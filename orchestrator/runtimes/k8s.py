"""The k8s runtime: a k6-operator TestRun, applied and followed with kubectl.

Why kubectl and not the kubernetes Python client: kubectl is what a cluster's users
already have configured (contexts, exec credential plugins, OIDC, proxies), it adds no
heavy dependency to perfctl, and each call goes through procs.run_command, whose errors
show command, code and output. The four calls (apply, get testrun, get pods, delete) are
the seam the tests fake.

The operator does the splitting (execution segments, one runner pod per segment); perfctl
follows `.status.stage` to `finished` or `error`, reads each runner's k6 exit code from
its pod while the pods exist, and then the gate judges the run from Prometheus. A signal
deletes the TestRun, which stops its runners.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from orchestrator.config.model import LoadedConfig
from orchestrator.console import Progress
from orchestrator.errors import EnvironmentProblem
from orchestrator.runtimes.kubectl import TestRunPlan, build_manifests, dump_manifests, warnings_for
from orchestrator.ledger.store import write_atomic
from orchestrator.procs import run_command
from orchestrator.interrupts import recorded_signals
from orchestrator.runtimes.base import K6Outcome, OnStarted, RunContext, RuntimeBase, Watch
from orchestrator.runtimes.segments import combined_exit_code

FINAL_STAGES = ("finished", "error")
KUBECTL_HINT = "install kubectl and point it at the cluster (kubectl config use-context ...), or set k8s.kubectl"


class K8sRuntime(RuntimeBase):
    name = "k8s"
    record_key = "k8s"  # run.json's k8s: the TestRun (details())
    flat_memory = False  # the runners' image is the operator's, and their summaries stay in the pods

    def __init__(self, loaded: LoadedConfig, plan: TestRunPlan, manifests: Path):
        self.loaded, self.plan, self.manifests = loaded, plan, manifests
        self.settings = plan.settings
        self.ran: tuple[float, float] | None = None  # when the runners ran (RuntimeBase.window)

    @classmethod
    def for_run(cls, context: RunContext) -> "K8sRuntime":
        """A k6-operator TestRun; --instances N (N > 1) sets its parallelism. Writes the run's
        manifests (k8s.yaml) into its folder: what was applied is on record."""
        settings = context.loaded.config.k8s
        parallelism = context.instances if context.instances > 1 else settings.parallelism
        plan = TestRunPlan(run_id=context.run.id, scenario=context.scenario, parallelism=parallelism, settings=settings)
        path = context.run.path / "k8s.yaml"
        write_atomic(path, dump_manifests(build_manifests(context.loaded.config, plan, context.script_text)))
        return cls(context.loaded, plan, path)

    @classmethod
    def ran_elsewhere(cls, record) -> str | None:
        if record.identity.runtime == cls.name or (record.k6 is not None and record.k6.kind == cls.name):
            return "in Kubernetes (k6-operator)"
        return None

    def details(self) -> dict:
        return {"testrun": self.plan.name, "namespace": self.settings.namespace, "parallelism": self.plan.parallelism}

    # ---- kubectl ------------------------------------------------------------------------

    def kubectl(self, *args: str, timeout: float = 60.0, check: bool = True):
        argv = [self.settings.kubectl]
        if self.settings.context:
            argv += ["--context", self.settings.context]
        argv += ["--namespace", self.settings.namespace, *args]
        try:
            return run_command(argv, timeout=timeout, check=check)
        except EnvironmentProblem as exc:
            exc.hint = exc.hint or KUBECTL_HINT
            raise

    def stage(self) -> str:
        out = self.kubectl("get", "testrun", self.plan.name, "-o", "jsonpath={.status.stage}")
        return out.stdout.strip()

    def runner_exit_codes(self) -> dict[str, tuple[int, float | None]]:
        """Pod name -> (k6 exit code, when it ended), for the runner pods that have terminated."""
        out = self.kubectl("get", "pods", "-l", f"k6_cr={self.plan.name},runner=true", "-o", "json", check=False)
        if out.returncode != 0:
            return {}
        try:
            items = json.loads(out.stdout).get("items", [])
        except json.JSONDecodeError:
            return {}
        codes = {}
        for pod in items:
            for status in pod.get("status", {}).get("containerStatuses", []) or []:
                terminated = (status.get("state") or {}).get("terminated")
                if status.get("name") == "k6" and terminated and "exitCode" in terminated:
                    name = pod.get("metadata", {}).get("name", "?")
                    codes[name] = (int(terminated["exitCode"]), _timestamp(terminated.get("finishedAt")))
        return codes

    def delete(self) -> None:
        self.kubectl("delete", "testrun", self.plan.name, "--ignore-not-found", "--wait=false", check=False)

    # ---- the runtime --------------------------------------------------------------------

    def run(
        self,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        cwd: Path,
        on_started: OnStarted,
        progress: Progress,
        watch: Watch | None = None,
    ) -> K6Outcome:
        """Same shape as every runtime (runtimes/base.py); `argv` and `env` are unused (the TestRun carries
        the script, arguments and remote-write environment); `on_started` gets details()."""
        with open(log_path, "a", encoding="utf-8") as log:
            for warning in warnings_for(self.loaded.config):
                _say(log, progress, f"warning: {warning}")
            try:
                # Inside the try: an apply that half-worked, or a failing on_started, leaves nothing behind.
                self.kubectl("apply", "-f", str(self.manifests))
                _say(log, progress, f"applied ConfigMap and TestRun {self.plan.name} in namespace {self.settings.namespace}")
                on_started(self.details())
                return self._follow(log, progress, watch)
            except BaseException:
                # perfctl itself failed: stop the load it started rather than leave it running unseen.
                self.delete()
                raise
            finally:
                progress.clear()

    def _follow(self, log, progress: Progress, watch) -> K6Outcome:
        deadline = time.monotonic() + self.settings.timeout
        started = time.monotonic()
        codes: dict[str, tuple[int, float | None]] = {}
        stage, stopped_by, running_since = "", None, None
        with recorded_signals() as received:
            while True:
                current = self.stage()
                codes.update(self.runner_exit_codes())
                if current != stage:
                    stage = current
                    _say(log, progress, f"TestRun {self.plan.name}: stage {stage or '(none yet)'}")
                    if stage == "started" and running_since is None:
                        # Runners start paused; the load begins when the operator starts them all.
                        running_since = time.time()
                if stage in FINAL_STAGES:
                    break
                if received:
                    self.delete()
                    _say(log, progress, f"{received[0]}: deleted TestRun {self.plan.name} (its runners stop)")
                    return K6Outcome(exit_code=_combined(codes, self.plan.parallelism), interrupted_by=received[0])
                if watch is not None and stopped_by is None:
                    stopped_by = watch()
                    if stopped_by:
                        self.delete()
                        _say(log, progress, f"stopping: {stopped_by}; deleted TestRun {self.plan.name}")
                        return K6Outcome(exit_code=_combined(codes, self.plan.parallelism), interrupted_by=None,
                                         stopped_by=stopped_by)
                if time.monotonic() > deadline:
                    self.delete()
                    raise EnvironmentProblem(
                        f"TestRun {self.plan.name} did not finish within {self.settings.timeout:g}s (stage: {stage or 'none'})",
                        hint="raise k8s.timeout, or look at the operator: kubectl describe testrun " + self.plan.name,
                    )
                progress.update(f"TestRun {self.plan.name}: {stage or 'waiting'} ({time.monotonic() - started:.0f}s)")
                time.sleep(self.settings.poll_interval)
        ended = [t for _, t in codes.values() if t is not None]
        if running_since is not None:
            self.ran = (running_since, max(ended) if len(ended) == self.plan.parallelism else time.time())
        code = _combined(codes, self.plan.parallelism)
        if code is None:
            _say(log, progress, f"the runners' k6 exit codes are unknown ({len(codes)} of {self.plan.parallelism} seen)")
        else:
            _say(log, progress, f"runner exit codes: {json.dumps({k: c for k, (c, _) in codes.items()}, sort_keys=True)}")
        if stage == "error" and code in (None, 0, 99):
            # The operator failed the TestRun although no runner said why: not a normal end.
            code = None
        return K6Outcome(exit_code=code, interrupted_by=None)


def _combined(codes: dict[str, tuple[int, float | None]], parallelism: int) -> int | None:
    """The runners' combined k6 exit code, or None while any runner's is unknown."""
    values = [code for code, _ in codes.values()]
    if len(values) < parallelism:
        failures = [c for c in values if c not in (0, 99)]
        return failures[0] if failures else None
    return combined_exit_code(values)


def _timestamp(text: str | None) -> float | None:
    """Kubernetes' RFC 3339 times (2026-01-02T03:04:05Z) -> unix seconds."""
    if not text:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _say(log, progress: Progress, line: str) -> None:
    log.write(f"perfctl: {line}\n")
    log.flush()
    progress.message(line)
