"""`perfctl run --instances N`: one test split over N real k6 processes with k6's execution
segments, all writing to one real Prometheus; the gate merges them.

One stack (reference backend + Prometheus) serves the whole module; every run lasts a few
seconds at most and sends load only to 127.0.0.1.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from orchestrator.monitoring.prometheus import Prometheus
from tests.conftest import demo_stack

pytestmark = pytest.mark.e2e

SHARED_ITERATIONS = 400
RATE, RATE_SECONDS = 20, 3
# k6's native histograms use schema 3: bucket bounds grow by 2^(1/8), so a quantile read from a
# histogram is within one bucket of the exact one.
BUCKET_FACTOR = 2 ** (1 / 8)


def _add_scenarios(config_path: Path) -> None:
    data = yaml.safe_load(config_path.read_text())
    data["scenarios"]["shared"] = {
        "executor": "shared-iterations",
        "vus": 4,
        "iterations": SHARED_ITERATIONS,
        "think_time": "50ms",
        "requests": [
            {"name": "echo", "path": "/api/echo", "weight": 3},
            {"name": "history", "path": "/api/v1/conversations/conv-i/messages", "weight": 1},
        ],
    }
    data["scenarios"]["arrival"] = {
        "executor": "constant-arrival-rate",
        "rate": RATE,
        "duration": f"{RATE_SECONDS}s",
        "pre_allocated_vus": 4,
        "requests": [{"name": "echo", "path": "/api/echo"}],
    }
    data["scenarios"]["long"] = {
        "executor": "constant-vus",
        "vus": 2,
        "duration": "60s",
        "think_time": "100ms",
        "requests": [{"name": "echo", "path": "/api/echo"}],
    }
    for objective in data["objectives"]:
        if "chat-http" in objective.get("scenarios", []):  # the demo's HTTP objectives judge these too
            objective["scenarios"] += ["shared", "arrival", "long"]
    data["objectives"].append(
        {"name": "ws_connect_p95_seconds", "sli": "ws_connect_p95", "pass": "< 1", "scenarios": ["websocket"]}
    )
    # Every sample as JSON lines: the exact p95 to hold the merged histogram against.
    data["k6"]["extra_args"] = ["--out", "json=samples.json"]
    config_path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with demo_stack(tmp_path_factory.mktemp("instances"), edit=_add_scenarios) as s:
        yield s


def _record(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def _summary_count(path: Path, metric: str) -> float:
    entry = json.loads(path.read_text())["metrics"].get(metric)
    return entry["count"] if entry else 0


def _exact_p95_seconds(sample_files: list[Path], metric: str = "http_req_duration") -> float:
    """p95 of every sample of a k6 trend (ms), in seconds, interpolated as k6 does."""
    values = []
    for path in sample_files:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                item = json.loads(line)
                if item.get("type") == "Point" and item.get("metric") == metric:
                    values.append(item["data"]["value"] / 1000.0)
    assert len(values) > 10, f"too few samples: {len(values)}"
    values.sort()
    pos = 0.95 * (len(values) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (pos - low)


def test_shared_iterations_split_over_two_instances_add_up_to_one(stack):
    single = stack.cli("run", "shared", "--run-id", "shared-one")
    assert single.code in (0, 99), single.output
    split = stack.cli("run", "shared", "--instances", "2", "--run-id", "shared-two")
    assert split.code in (0, 99), split.output
    one, two = stack.workspace / "results" / "shared-one", stack.workspace / "results" / "shared-two"
    # Off a TTY (as in CI): no colour codes, no progress redrawn in place.
    assert "\x1b[" not in split.output and "\r" not in split.output

    # k6 runs a shared-iterations plan exactly; split in two, the halves add up to the same.
    assert _summary_count(one / "summary.json", "iterations") == SHARED_ITERATIONS
    parts = [_summary_count(two / f"summary-{i}.json", "iterations") for i in (0, 1)]
    assert all(p > 0 for p in parts), parts
    assert sum(parts) == SHARED_ITERATIONS
    merged = json.loads((two / "summary.json").read_text())
    assert merged["metrics"]["iterations"]["count"] == SHARED_ITERATIONS
    assert merged["metrics"]["http_reqs"]["count"] == sum(_summary_count(two / f"summary-{i}.json", "http_reqs") for i in (0, 1))
    # Percentiles are not averaged into the merged summary; they are marked unavailable.
    assert merged["metrics"]["http_req_duration"]["p(95)"] is None
    assert "http_req_duration.p(95)" in merged["perfctl"]["unavailable"]

    record = _record(two)
    assert record["instances"] == 2 and record["k6_native_histograms"] is True
    assert record["k6_exit_code"] == 0
    assert len(record["k6"]["instances"]) == 2

    # Both instances wrote to the same Prometheus under one testid, told apart by `instance`.
    prom = Prometheus(stack.prometheus.url)
    by_instance = {
        s.labels["instance"]: s.value
        for s in prom.query('sum by (instance) (last_over_time(k6_iterations_total{testid="shared-two"}[10m]))')
    }
    assert by_instance == {"0": parts[0], "1": parts[1]}

    # The gate's p95 is histogram_quantile over the summed native histograms, and it agrees with
    # the p95 of every sample of both instances within one histogram bucket.
    verdict = json.loads((two / "verdict.json").read_text())
    p95 = next(o for o in verdict["objectives"] if o["name"] == "http_p95_seconds")
    assert "histogram_quantile(0.95, sum(k6_http_req_duration_seconds" in p95["query"]
    assert p95["value"] is not None, p95
    exact = _exact_p95_seconds([two / "samples-0.json", two / "samples-1.json"])
    assert exact / BUCKET_FACTOR <= p95["value"] <= exact * BUCKET_FACTOR, (p95["value"], exact)
    print(f"\n--instances 2: p95 merged histogram {p95['value'] * 1000:.3f} ms, exact from samples {exact * 1000:.3f} ms")


def test_websocket_connect_p95_merges_across_instances(stack):
    result = stack.cli("run", "websocket", "--instances", "2", "--duration", "3s", "--run-id", "ws-two")
    run = stack.workspace / "results" / "ws-two"
    verdict = json.loads((run / "verdict.json").read_text())
    p95 = next(o for o in verdict["objectives"] if o["name"] == "ws_connect_p95_seconds")
    assert p95["value"] is not None and "histogram_quantile" in p95["query"], (p95, result.output)
    exact = _exact_p95_seconds([run / "samples-0.json", run / "samples-1.json"], "ws_connecting")
    assert exact / BUCKET_FACTOR <= p95["value"] <= exact * BUCKET_FACTOR, (p95["value"], exact)
    # The report's chart of it reads the merged histograms too (no trend stat exists in this run).
    from orchestrator.config.load import load_config
    from orchestrator.verdict.gate import QueryContext, Window, series_query

    config = load_config(stack.config_path).config
    obj = next(o for o in config.objectives if o.name == "ws_connect_p95_seconds")
    record = json.loads((run / "run.json").read_text())
    ctx = QueryContext("ws-two", Window(record["start"], record["end"]), 0.5, 1.0)
    promql, _ = series_query(obj, ctx, native_histograms=True)
    series = Prometheus(stack.prometheus.url).query_range(promql, start=record["start"], end=record["end"], step=0.5)
    assert [v for _, points in series for _, v in points if not math.isnan(v)], promql


def test_arrival_rate_is_split_without_exceeding_the_total(stack):
    result = stack.cli("run", "arrival", "--instances", "2", "--run-id", "arrival-two")
    assert result.code in (0, 99), result.output
    run = stack.workspace / "results" / "arrival-two"
    # Iterations k6 started plus those it had to drop: what each instance's share scheduled.
    scheduled = [
        _summary_count(run / f"summary-{i}.json", "iterations") + _summary_count(run / f"summary-{i}.json", "dropped_iterations")
        for i in (0, 1)
    ]
    total = RATE * RATE_SECONDS
    # One k6 alone schedules `total`, or total + 1 when the iteration due exactly at the end
    # still starts (measured: 61 of 60 in most single runs here). k6's segments stripe the
    # single schedule, so that iteration belongs to one instance only: the split never adds more.
    assert all(abs(s - total / 2) <= 1 for s in scheduled), scheduled
    assert total <= sum(scheduled) <= total + 1, scheduled


def test_interrupt_reaches_every_instance_and_keeps_their_summaries(stack):
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "run", "long", "--instances", "2", "--run-id", "long-two",
         "-c", str(stack.config_path)],
        cwd=stack.workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    run = stack.workspace / "results" / "long-two"
    try:
        deadline = time.monotonic() + 60
        pids: list[int] = []
        while time.monotonic() < deadline and not pids:
            time.sleep(0.3)
            if (run / "run.json").exists():
                pids = [i["pid"] for i in _record(run).get("k6", {}).get("instances", [])]
        assert len(pids) == 2, "the instances never started"
        time.sleep(2)  # let them send some load
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    for pid in pids:
        assert not _alive(pid), f"k6 instance {pid} still runs"
    # Each instance stopped gracefully: its summary is there, and the merged one too.
    for i in (0, 1):
        assert _summary_count(run / f"summary-{i}.json", "iterations") > 0
    assert json.loads((run / "summary.json").read_text())["metrics"]["iterations"]["count"] > 0
    assert _record(run)["interrupted_by"] == "SIGINT"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# ---- --hosts: the same split over load machines, ssh/scp faked at the seam ------------------
# tests/fake_ssh.py runs each "host" in its own folder with its own tmux server, so real tmux
# and real k6 do the work; only the network hop is simulated.


@pytest.fixture
def fake_ssh(tmp_path: Path):
    root = tmp_path / "hosts"
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("ssh", "scp"):
        path = tools / tool
        path.write_text(f"#!{sys.executable}\nimport runpy, sys\nsys.argv.insert(1, {tool!r})\n"
                        f"runpy.run_path({str(Path(__file__).resolve().parents[1] / 'fake_ssh.py')!r}, run_name='__main__')\n")
        path.chmod(0o755)
    from orchestrator.k6.binary import find_k6

    env = {"PERFCTL_SSH": str(tools / "ssh"), "PERFCTL_SCP": str(tools / "scp"), "FAKE_SSH_ROOT": str(root),
           "PATH": f"{Path(find_k6()).parent}:{os.environ['PATH']}", "SECRET_TOKEN": "never-leaves-this-host"}
    try:
        yield env, root
    finally:
        for socket in root.glob("*/tmux/tmux-*/default"):
            subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True)


def _ssh_calls(root: Path) -> list[list[str]]:
    return [json.loads(line) for line in (root / "calls.jsonl").read_text().splitlines()]


def test_hosts_split_the_test_one_instance_per_host(stack, fake_ssh):
    env, root = fake_ssh
    result = stack.cli("run", "shared", "--hosts", "load@h1,load@h2", "--run-id", "shared-hosts", env=env)
    assert result.code in (0, 99), result.output
    run = stack.workspace / "results" / "shared-hosts"
    parts = [_summary_count(run / f"summary-{i}.json", "iterations") for i in (0, 1)]
    assert all(p > 0 for p in parts) and sum(parts) == SHARED_ITERATIONS
    assert json.loads((run / "summary.json").read_text())["metrics"]["iterations"]["count"] == SHARED_ITERATIONS
    record = _record(run)
    assert [h["host"] for h in record["k6"]["hosts"]] == ["load@h1", "load@h2"]
    assert record["instances"] == 2 and record["k6_exit_code"] == 0
    calls = _ssh_calls(root)
    starts = [c for c in calls if c[0] == "ssh" and "tmux new-session" in c[-1]]
    assert [c[-2] for c in starts] == ["load@h1", "load@h2"]
    assert "--execution-segment 0:1/2" in starts[0][-1] and "--execution-segment 1/2:1" in starts[1][-1]
    assert "K6_PROMETHEUS_RW_SERVER_URL=" in starts[0][-1] and "testid=shared-hosts" in starts[0][-1]
    assert any(c[0] == "scp" and c[-1] == "load@h1:.perfctl/runs/shared-hosts/0/script.js" for c in calls)
    # Nothing of the local environment but perfctl's K6_* settings went to the hosts.
    assert not any("never-leaves-this-host" in arg for call in calls for arg in call)
    assert (run / "k6-0.log").is_file() and (run / "k6-1.log").is_file()
    # The logs came back through perfctl's masker (mode 0600), k6's own lines in them; on each
    # host k6's REST API takes any free loopback port (a port free here says nothing there).
    import stat

    for index in (0, 1):
        log = run / f"k6-{index}.log"
        assert stat.S_IMODE(log.stat().st_mode) == 0o600 and "running (" in log.read_text()
    assert all("--address 127.0.0.1:0" in c[-1] for c in starts)


def test_an_unreachable_host_stops_everything_before_any_load(stack, fake_ssh):
    env, root = fake_ssh
    result = stack.cli("run", "shared", "--hosts", "load@h1,load@unreachable-2", "--run-id", "hosts-down", env=env)
    assert result.code == 3, result.output
    assert "load@unreachable-2: unreachable over ssh" in result.stderr and "Traceback" not in result.stderr
    assert not any("tmux new-session" in c[-1] for c in _ssh_calls(root) if c[0] == "ssh")


@pytest.mark.parametrize("hosts", ["-oProxyCommand=touch%20x", "a@h1,,a@h1", " , "])
def test_bad_hosts_are_usage_errors(stack, hosts):
    result = stack.cli("run", "shared", "--hosts", hosts)
    assert result.code == 2 and "--hosts" in result.stderr, result.output
