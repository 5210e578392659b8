"""Runs that survive: detached in a real tmux (a private server per test), attach, and
signals to a running `perfctl run`. Real k6, real Prometheus, the reference backend."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import signal
import subprocess
import time

import pytest

from orchestrator.run.tmux import Session
from tests.conftest import PERFCTL, run_cli
from tests.test_survive_support import (  # noqa: F401  (private_tmux is a fixture)
    cli_env, k6_ref, k6_started, output, private_tmux, processes_mentioning, record, start_perfctl,
    stop_leftovers, wait_for, wait_k6_progress,
)

pytestmark = pytest.mark.e2e


def _attach_in_pty(stack, run_id: str, env: dict) -> tuple[subprocess.Popen, int]:
    """`perfctl attach RUN` on a pseudo-terminal, as from an SSH session with a TTY."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*PERFCTL, "attach", run_id, "-c", str(stack.config_path)], cwd=stack.workspace,
        env=cli_env({**env, "TERM": "xterm"}), stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
    )
    os.close(slave)
    return proc, master


def _clients(session: Session) -> list[int]:
    out = subprocess.run(["tmux", "-L", session.socket, "list-clients", "-F", "#{client_pid}"],
                         capture_output=True, text=True, env=cli_env())
    return [int(pid) for pid in out.stdout.split()]


def _drain(master: int) -> None:
    # Keep the pty's buffer empty so tmux never blocks writing to it.
    import select

    while select.select([master], [], [], 0)[0]:
        try:
            if not os.read(master, 65536):
                return
        except OSError:
            return


def test_detached_run_survives_its_client_and_attach_reattaches(stack, private_tmux):
    result = stack.cli("run", "demo", "--duration", "8s", "--detach", env=private_tmux)
    assert result.code == 0, result.output
    run_id = result.stdout.strip().splitlines()[-1]
    run = stack.workspace / "results" / run_id
    session = Session.for_run(run_id)
    assert f"perfctl attach {run_id}" in result.stderr
    try:
        assert record(run)["tmux"] == session.as_dict()
        assert record(run)["status"] == "running"
        # The run is listed with its tmux session.
        status = stack.cli("status", "--json", env=private_tmux)
        listed = {r["id"]: r for r in json.loads(status.stdout)["runs"]}
        assert listed[run_id]["tmux"] == session.name and listed[run_id]["status"] == "running"

        # A client attaches, then dies the way a dropped SSH connection kills it.
        proc, master = _attach_in_pty(stack, run_id, private_tmux)
        client = wait_for(lambda: _clients(session), what="the tmux client to attach")[0]
        os.kill(client, signal.SIGKILL)
        proc.wait(timeout=20)
        os.close(master)
        assert session.pane() is not None and not session.pane().dead
        assert k6_ref(run).alive(), "k6 died with the tmux client"

        # Attaching again works; detaching leaves the run going.
        proc, master = _attach_in_pty(stack, run_id, private_tmux)
        wait_for(lambda: _clients(session), what="the second attach")
        _drain(master)
        subprocess.run(["tmux", "-L", session.socket, "detach-client", "-s", session.name], check=True, env=cli_env())
        assert proc.wait(timeout=20) == 0
        os.close(master)

        finished = wait_for(lambda: record(run)["status"] in ("finished", "interrupted", "failed-incomplete", "error")
                            and record(run), timeout=90, what="the detached run to finish")
        assert finished["status"] == "finished" and finished["k6_exit_code"] == 0, finished
        verdict = json.loads((run / "verdict.json").read_text())
        assert verdict["result"] == finished["result"] and all(o["value"] is not None for o in verdict["objectives"])
        # A healthy backend passes; only this shared machine's CPU load may pull the loop rate down.
        assert finished["result"] in ("pass", "warning") or [
            o["name"] for o in verdict["objectives"] if o["result"] == "fail"] == ["backend_loop_hz_min"], verdict
        # The pane stays (remain-on-exit) with the verdict until `perfctl clean` removes it.
        wait_for(lambda: (p := session.pane()) is not None and p.dead, what="the pane to end")
        assert session.exit_status() == finished["exit_code"]
        assert any(f"results: {run}" in line for line in session.capture(200)), session.capture(200)
        cleaned = stack.cli("clean", env=private_tmux)
        assert cleaned.code == 0 and session.name in cleaned.stdout, cleaned.output
        assert not session.exists() and not session.socket_path.exists()
    finally:
        session.kill()
        stop_leftovers(run)


def test_detach_without_tmux_says_how_to_install(tmp_path):
    from orchestrator.commands.demo import write_demo_config
    from orchestrator.netutil import free_port

    config = write_demo_config(tmp_path, backend_port=free_port(), prometheus_port=free_port(), example="demo")
    result = run_cli("run", "demo", "--detach", "-c", str(config), cwd=tmp_path, env={"PATH": str(tmp_path)})
    assert result.code == 3, result.output
    assert "tmux not found" in result.stderr and "apt-get install tmux" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "results").exists()


def _interrupt_run(stack, sends: list[signal.Signals], *, besides: list) -> tuple:
    """A 30s run, stopped after a few seconds by `sends`; returns (run folder, k6 ref, exit code)."""
    proc = start_perfctl(stack, "run", "demo", "--duration", "30s")
    run = None
    try:
        run = k6_started(stack, besides=besides)
        wait_k6_progress(run, 3)
        k6 = k6_ref(run)
        for sig in sends:
            proc.send_signal(sig)
            time.sleep(0.05)
        return run, k6, proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_leftovers(run)


def _lose_the_terminal(stack, *, besides: list) -> tuple:
    """perfctl on a terminal that goes away, as when an SSH connection drops (no tmux)."""
    pid, master = pty.fork()
    if pid == 0:  # the child: perfctl with the pty as its controlling terminal
        signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as from a terminal, even when pytest runs under nohup
        os.chdir(stack.workspace)
        os.execve(PERFCTL[0], [*PERFCTL, "run", "demo", "--duration", "30s", "-c", str(stack.config_path)],
                  cli_env({"TERM": "xterm"}))
    run = None
    try:
        run = k6_started(stack, besides=besides)
        wait_k6_progress(run, 3)
        k6 = k6_ref(run)
        _drain(master)
        os.close(master)  # the kernel hangs up: SIGHUP to perfctl
        _, status = os.waitpid(pid, 0)
        return run, k6, os.waitstatus_to_exitcode(status)
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        stop_leftovers(run)


def test_signals_keep_what_was_measured_and_leave_no_process(stack):
    cases = [([signal.SIGINT], "SIGINT"), ([signal.SIGINT, signal.SIGINT], "SIGINT"), ([signal.SIGHUP], "SIGHUP")]
    done: list = []
    cases.append(("lost terminal", "SIGHUP"))
    for sends, name in cases:
        if sends == "lost terminal":
            run, k6, code = _lose_the_terminal(stack, besides=list(done))
        else:
            run, k6, code = _interrupt_run(stack, sends, besides=list(done))
        done.append(run)
        graceful = len(sends) == 1 or sends == "lost terminal"
        assert code == 130, output(stack)
        final = record(run)
        assert final["status"] == "interrupted" and final["interrupted_by"] == name, final
        assert final["end"] - final["start"] < 20  # stopped, not run to its planned 30s
        assert not k6.alive()
        assert processes_mentioning(str(run)) == [] and processes_mentioning(run.name) == []
        verdict = json.loads((run / "verdict.json").read_text())
        assert verdict["interrupted_by"] == name and verdict["result"] != "pass"
        by_name = {o["name"]: o for o in verdict["objectives"]}
        assert f"interrupted by {name}" in by_name["k6_completed"]["reason"]
        if graceful:
            # A graceful stop: k6 wrote its summary of what it measured so far.
            summary = json.loads((run / "summary.json").read_text())
            assert summary["metrics"]["http_reqs"]["count"] > 10
        else:
            # The second Ctrl-C kills k6 if it is still stopping (-9), or finds it gone (105).
            assert final["k6_exit_code"] in (-9, 105)


def test_a_second_signal_forces_a_k6_that_does_not_stop(tmp_path):
    """The runtime's forwarding, with a stand-in for a k6 that ignores SIGINT (stuck in teardown)."""
    import sys
    import threading

    from orchestrator.console import Progress
    from orchestrator.pids import ProcessRef
    from orchestrator.runtimes.local import LocalRuntime

    stubborn = [sys.executable, "-c",
                "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); time.sleep(120)"]
    log = tmp_path / "k6.log"
    started = []

    def ctrl_c_twice():
        wait_for(lambda: started and "ready" in log.read_text(), what="the stand-in to start")
        for _ in range(2):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)

    threading.Thread(target=ctrl_c_twice, daemon=True).start()
    outcome = LocalRuntime().run(stubborn, dict(os.environ), log, cwd=tmp_path, on_started=started.append,
                                 progress=Progress())
    assert outcome.exit_code == -9 and outcome.interrupted_by == "SIGINT"
    assert not ProcessRef.from_dict(started[0]).alive()


def test_the_detached_command_is_the_same_run(tmp_path, monkeypatch):
    """The inner command of --detach carries every option, with absolute paths, and no --detach."""
    from orchestrator.commands.demo import write_demo_config
    from orchestrator.run.options import RunOptions
    from orchestrator.config.load import load_config
    from orchestrator.run.detach import inner_argv
    from orchestrator.netutil import free_port
    from orchestrator.render.script import Overrides

    config = write_demo_config(tmp_path, backend_port=free_port(), prometheus_port=free_port(), example="demo")
    monkeypatch.chdir(tmp_path)
    opts = RunOptions(
        scenario="websocket", config=config, overrides=Overrides(vus=3, duration=90.0, stages=((30.0, 5), (0.5, 0))),
        results=tmp_path.relative_to(tmp_path) / "out", rollback=False, json_output=True, detach=True,
        baseline="pinned", require_baseline=True,
    )
    argv = inner_argv(opts, load_config(config), "rid-1")
    assert argv[1:] == [
        "-m", "orchestrator", "run", "websocket", "-c", str(config.resolve()), "--run-id", "rid-1",
        "--runtime", "local", "--vus", "3", "--duration", "1m30s", "--stage", "30s:5", "--stage", "500ms:0",
        "--results", str(tmp_path / "out"), "--baseline", "pinned", "--require-baseline", "--no-rollback", "--json",
    ]


def test_detach_answers_with_the_exit_code_of_a_run_that_already_ended(tmp_path, monkeypatch, private_tmux, capsys):
    """A detached run over before `--detach` looked (a short run on a busy machine): the
    command's exit code is the run's (99 here), not 0. The inner command is a stand-in that
    records its k6 and exits as a failed gate does (a real run is never over within one poll)."""
    import sys

    from orchestrator.run import detach
    from orchestrator.commands.demo import write_demo_config
    from orchestrator.run.options import RunOptions
    from orchestrator.config.load import load_config
    from orchestrator.netutil import free_port

    config = write_demo_config(tmp_path, backend_port=free_port(), prometheus_port=free_port(), example="demo")
    results = tmp_path / "results"
    stand_in = (
        "import json, pathlib, sys; run = pathlib.Path(sys.argv[1]); run.mkdir(parents=True); "
        "(run / 'run.json').write_text(json.dumps({'schema': 'perfctl.run/v1', 'k6': {'pid': 1, 'start': 1}, 'exit_code': 99})); sys.exit(99)"
    )
    monkeypatch.setattr(detach, "inner_argv", lambda opts, loaded, run_id: [sys.executable, "-c", stand_in,
                                                                            str(results / run_id)])
    monkeypatch.chdir(tmp_path)
    opts = RunOptions(scenario="demo", config=config, run_id="ended-early", results=results, detach=True, json_output=True)
    session = Session.for_run("ended-early")
    try:
        code = detach.start_detached(opts, load_config(config), results)
        shown = json.loads(capsys.readouterr().out)
        assert shown["state"] == "finished" and shown["exit_code"] == 99 and code == 99, shown
        assert session.exit_status() == 99
    finally:
        session.kill()
