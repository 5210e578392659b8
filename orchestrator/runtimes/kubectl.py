"""k6-operator manifests: a ConfigMap holding the generated script and a TestRun
(k6.io/v1alpha1) that runs it on `parallelism` runner pods.

The operator splits the test with k6's execution segments and tags each runner
`instance_id=<i>`, so runners write distinct series; perfctl adds `testid=<run-id>` (the
gate's key) and the remote-write settings. With more than one runner, trends go as
native histograms so the gate can merge percentiles exactly. Everything is built as data
and dumped with yaml.safe_dump.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

import yaml

from orchestrator.config.env import redact_url, runtime_env_refs
from orchestrator.config.model import Config
from orchestrator.config.settings import K8sSettings
from orchestrator.errors import ConfigError
from orchestrator.errors import UsageError
from orchestrator.k6.binary import RemoteWrite, remote_write_env
from orchestrator.monitoring.access import k6_env_references

API_VERSION = "k6.io/v1alpha1"
SCRIPT_FILE = "script.js"
RUN_ID_LABEL = "perfctl.run-id"
# A ConfigMap holds at most 1 MiB; leave room for its metadata.
CONFIGMAP_LIMIT = 1_000_000
LOOPBACK = re.compile(r"^https?://(127\.|localhost|\[::1\]|0\.0\.0\.0)", re.IGNORECASE)


@dataclass(frozen=True)
class TestRunPlan:
    """What one TestRun is: which run, how many runners, where it reports."""

    run_id: str
    scenario: str
    parallelism: int
    settings: K8sSettings

    @property
    def name(self) -> str:
        return k8s_name(f"perfctl-{self.run_id}")

    @property
    def native_histograms(self) -> bool:
        return self.parallelism > 1


def k8s_name(text: str) -> str:
    """A DNS-1123 name (lowercase letters, digits, '-', at most 63) derived from `text`."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    if len(name) > 63:
        import hashlib

        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        name = name[:54].rstrip("-") + "-" + digest
    return name or "perfctl"


def label_value(text: str) -> str:
    """A label value: letters, digits, '-', '_', '.', at most 63, alphanumeric at both ends."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63]
    return value.strip("-_.")


def remote_write_url(config: Config) -> str:
    return config.k8s.prometheus_url or config.prometheus.url


def testrun_arguments(run_id: str) -> str:
    # The operator splits `arguments` on spaces; run ids never contain any (ledger.RUN_ID).
    return shlex.join(["--tag", f"testid={run_id}", "-o", "experimental-prometheus-rw"])


def build_manifests(config: Config, plan: TestRunPlan, script_text: str) -> list[dict]:
    size = len(script_text.encode("utf-8"))
    if size > CONFIGMAP_LIMIT:
        raise ConfigError(f"the generated script is {size} bytes; a ConfigMap holds at most ~1 MB")
    settings = plan.settings
    labels = {"app.kubernetes.io/managed-by": "perfctl", RUN_ID_LABEL: label_value(plan.run_id)}
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": plan.name, "namespace": settings.namespace, "labels": labels},
        "data": {SCRIPT_FILE: script_text},
    }
    k6 = config.k6
    remote_write = RemoteWrite(
        remote_write_url(config), k6.push_interval, tuple(k6.trend_stats), k6.native_histograms or plan.native_histograms
    )
    variables = remote_write_env(remote_write)
    if variables.get("K6_PROMETHEUS_RW_PASSWORD"):
        # A manifest is a file (results, `k8s render` output, the cluster's etcd): no password in it.
        raise UsageError(
            "k8s: the Prometheus URL for the runners carries a password; manifests never hold secrets",
            hint="put K6_PROMETHEUS_RW_USERNAME/PASSWORD in a Secret and name it in k8s.env_secret",
        )
    env = [{"name": key, "value": value} for key, value in variables.items()]
    # Headers and token as $(VAR): the kubelet fills them in from k8s.env_secret in the pod.
    access_env, reads = k6_env_references(config.prometheus, "k8s", url=remote_write_url(config))
    if reads and not settings.env_secret:
        raise UsageError(
            f"k8s: prometheus.headers / bearer_token read {', '.join(reads)} from the environment; manifests never hold secrets",
            hint="put them in a Secret and name it in k8s.env_secret",
        )
    env += [{"name": key, "value": value} for key, value in access_env.items()]
    env.append({"name": "K6_NO_USAGE_REPORT", "value": "true"})
    runner: dict = {"env": env, "metadata": {"labels": dict(labels)}}
    if settings.image:
        runner["image"] = settings.image
    resources = {k: dict(v) for k, v in settings.resources.model_dump().items() if v}
    if resources:
        runner["resources"] = resources
    if settings.env_secret:
        runner["envFrom"] = [{"secretRef": {"name": settings.env_secret}}]
    spec: dict = {
        "parallelism": plan.parallelism,
        "separate": settings.separate,
        "script": {"configMap": {"name": plan.name, "file": SCRIPT_FILE}},
        "arguments": testrun_arguments(plan.run_id),
        "runner": runner,
    }
    if settings.cleanup:
        spec["cleanup"] = settings.cleanup
    testrun = {
        "apiVersion": API_VERSION,
        "kind": "TestRun",
        "metadata": {"name": plan.name, "namespace": settings.namespace, "labels": labels},
        "spec": spec,
    }
    return [configmap, testrun]


def dump_manifests(manifests: list[dict]) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=False, width=120)


def warnings_for(config: Config) -> list[str]:
    """What would make the TestRun fail or report nowhere, said before it is applied."""
    found = []
    url = remote_write_url(config)
    if LOOPBACK.match(url):
        found.append(
            f"remote write goes to {redact_url(url)}, which runner pods cannot reach: set k8s.prometheus_url to an address "
            "the cluster reaches (the gate still queries prometheus.url)"
        )
    if config.prometheus.ca_file:
        found.append("prometheus.ca_file is a path on this machine: runner pods check remote write's certificate "
                     "against their image's CAs")
    needed = sorted(runtime_env_refs(config))
    if needed and not config.k8s.env_secret:
        found.append(f"the script reads {', '.join(needed)} from its environment: set k8s.env_secret to a Secret with them")
    return found
