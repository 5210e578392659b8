"""`perfctl k8s render SCENARIO --parallelism N`: k6-operator manifests for a scenario."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator import console
from orchestrator.config.load import load_config
from orchestrator.config.settings import K8sSettings
from orchestrator.errors import UsageError
from orchestrator.k6.binary import detect_features, find_k6, inspect_script
from orchestrator.runtimes.kubectl import TestRunPlan, build_manifests, dump_manifests, warnings_for
from orchestrator.ledger.store import RUN_ID, new_run_id, write_output
from orchestrator.render.script import Overrides, render_scenario


def settings_with(settings: K8sSettings, *, separate: bool | None, cleanup: str | None) -> K8sSettings:
    """The k8s: section with the command line's choices on top."""
    changes: dict = {}
    if separate is not None:
        changes["separate"] = separate
    if cleanup is not None:
        if cleanup not in ("post", "none"):
            raise UsageError(f"--cleanup {cleanup}: must be 'post' (delete the pods when done) or 'none'")
        changes["cleanup"] = None if cleanup == "none" else cleanup
    return settings.model_copy(update=changes) if changes else settings


def render(
    config_path: Path | None,
    scenario: str,
    *,
    output: Path,
    parallelism: int | None = None,
    separate: bool | None = None,
    cleanup: str | None = None,
    run_id: str | None = None,
    overrides: Overrides = Overrides(),
    force: bool = False,
    json_output: bool = False,
) -> int:
    from orchestrator.config.limits import MAX_K8S_RUNNERS

    if parallelism is not None and not 1 <= parallelism <= MAX_K8S_RUNNERS:
        raise UsageError(f"--parallelism {parallelism}: must be 1-{MAX_K8S_RUNNERS}")
    if run_id is not None and not RUN_ID.match(run_id):
        raise UsageError(f"--run-id {run_id!r}: letters, digits, '_', '.', '-' (at most 128)")
    loaded = load_config(config_path)
    config = loaded.config
    settings = settings_with(config.k8s, separate=separate, cleanup=cleanup)
    binary = find_k6(config.k6.binary)
    script = render_scenario(loaded, scenario, detect_features(binary), overrides)
    inspect_script(binary, script.text)
    plan = TestRunPlan(
        run_id=run_id or new_run_id(scenario),
        scenario=scenario,
        parallelism=parallelism or settings.parallelism,
        settings=settings,
    )
    text = dump_manifests(build_manifests(config, plan, script.text))
    target = output / f"{plan.name}.yaml"
    if target.exists() and not force:
        raise UsageError(f"{target} exists already; use --force to overwrite it")
    write_output(target, text)
    for warning in warnings_for(config):
        console.info(f"warning: {warning}")
    if json_output:
        print(json.dumps({"path": str(target), "testrun": plan.name, "namespace": settings.namespace,
                          "run_id": plan.run_id, "parallelism": plan.parallelism}))
    else:
        console.info(
            f"wrote {target}: ConfigMap + TestRun {plan.name} ({plan.parallelism} runner(s)); "
            f"apply it with `kubectl apply -f {target}`, or let `perfctl run {scenario} --runtime k8s` "
            "apply it, follow it and gate on it"
        )
    return 0
