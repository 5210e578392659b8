"""A stand-in for kubectl at perfctl's seam (runtimes/k8s.py), for tests without a cluster.

Every call is recorded (argv, one JSON line in $FAKE_KUBECTL_STATE/calls.jsonl). With
FAKE_KUBECTL_MODE=operator it plays k6-operator for the applied TestRun: it starts one real
k6 per runner with the segment arguments, the `instance_id` tag the operator adds, the
TestRun's `arguments` and its runner env, and answers `get testrun` / `get pods` from
those processes. With FAKE_KUBECTL_MODE=error the TestRun goes to stage `error` and its
runner pod reports k6's exit code 107. FAKE_KUBECTL_MODE=absent-pods: `finished`, but the
pods are already gone (as with `cleanup: post`).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

STATE = Path(os.environ["FAKE_KUBECTL_STATE"])
MODE = os.environ.get("FAKE_KUBECTL_MODE", "operator")


def main(argv: list[str]) -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / "calls.jsonl", "a") as fh:
        fh.write(json.dumps(argv) + "\n")
    args = _strip_globals(argv)
    if args[:1] == ["apply"]:
        return apply(Path(args[args.index("-f") + 1]))
    if args[:2] == ["get", "testrun"]:
        print(stage(), end="")
        return 0
    if args[:2] == ["get", "pods"]:
        print(json.dumps({"items": pods()}))
        return 0
    if args[:2] == ["delete", "testrun"]:
        for pid in _pids():
            try:
                os.kill(pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        (STATE / "deleted").write_text("yes")
        return 0
    print(f"fake kubectl: unexpected {argv}", file=sys.stderr)
    return 1


def _strip_globals(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--namespace", "--context", "-n"):
            skip = True
        else:
            out.append(arg)
    return out


def apply(path: Path) -> int:
    docs = list(yaml.safe_load_all(path.read_text()))
    configmap = next(d for d in docs if d["kind"] == "ConfigMap")
    testrun = next(d for d in docs if d["kind"] == "TestRun")
    (STATE / "testrun.json").write_text(json.dumps(testrun))
    if MODE != "operator":
        return 0
    script = STATE / "script.js"
    script.write_text(configmap["data"][testrun["spec"]["script"]["configMap"]["file"]])
    spec = testrun["spec"]
    count = spec["parallelism"]
    env = dict(os.environ)
    env.update({item["name"]: item["value"] for item in spec["runner"]["env"]})
    points = ["0", *(f"{i}/{count}" for i in range(1, count)), "1"]
    pids = []
    for i in range(count):
        k6 = [os.environ["FAKE_K6"], "run", "--quiet"]
        if count > 1:
            k6 += [f"--execution-segment={points[i]}:{points[i + 1]}", f"--execution-segment-sequence={','.join(points)}"]
        k6 += [*shlex.split(spec.get("arguments", "")), str(script), "--tag", f"instance_id={i}"]
        # The runner's k6 exit code lands in exit-<i>, as a pod's terminated state would keep it.
        shell = f"{shlex.join(k6)} >{shlex.quote(str(STATE / f'runner-{i}.log'))} 2>&1; echo $? >{shlex.quote(str(STATE / f'exit-{i}'))}"
        # Detached from kubectl's own output pipes, as pods are: `kubectl apply` returns at once.
        proc = subprocess.Popen(["sh", "-c", shell], env=env, start_new_session=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pids.append(proc.pid)
    (STATE / "pids.json").write_text(json.dumps(pids))
    return 0


def _pids() -> list[int]:
    try:
        return json.loads((STATE / "pids.json").read_text())
    except FileNotFoundError:
        return []


def _count() -> int:
    return json.loads((STATE / "testrun.json").read_text())["spec"]["parallelism"]


def stage() -> str:
    if MODE == "error":
        calls = (STATE / "stage-calls").read_text() if (STATE / "stage-calls").exists() else ""
        (STATE / "stage-calls").write_text(calls + ".")
        return "initialization" if not calls else "error"
    if MODE == "absent-pods":
        return "finished"
    if not (STATE / "testrun.json").exists():
        return ""
    done = sum((STATE / f"exit-{i}").exists() for i in range(_count()))
    return "finished" if done == _count() else "started"


def pods() -> list[dict]:
    if MODE == "absent-pods":
        return []
    testrun = json.loads((STATE / "testrun.json").read_text())
    name = testrun["metadata"]["name"]
    if MODE == "error":
        return [_pod(f"{name}-0", 107)]
    items = []
    for i in range(_count()):
        path = STATE / f"exit-{i}"
        if path.exists() and path.read_text().strip():
            items.append(_pod(f"{name}-{i}", int(path.read_text().strip()), path.stat().st_mtime))
    return items


def _pod(name: str, code: int, finished: float | None = None) -> dict:
    terminated = {"exitCode": code}
    if finished is not None:
        # As the API reports it: RFC 3339, whole seconds, rounded up so k6's last push is inside.
        terminated["finishedAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(finished) + 1))
    return {"metadata": {"name": name}, "status": {"containerStatuses": [{"name": "k6", "state": {"terminated": terminated}}]}}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
