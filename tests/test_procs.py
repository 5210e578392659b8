"""orchestrator/procs.py with real processes: output captured, failures shown with command,
code and the tail of stdout/stderr, a missing binary and a timeout as EnvironmentProblem."""

from __future__ import annotations

import sys

import pytest

from orchestrator.errors import EnvironmentProblem, ExitCode
from orchestrator.procs import CommandFailed, run_command


def test_output_of_a_command_that_succeeds(tmp_path):
    out = run_command([sys.executable, "-c", "import os,sys; print(os.getcwd()); print('err', file=sys.stderr)"],
                      cwd=tmp_path)
    assert out.returncode == 0
    assert out.stdout.strip() == str(tmp_path)
    assert out.stderr.strip() == "err"


def test_env_is_the_whole_environment_given(tmp_path):
    out = run_command([sys.executable, "-c", "import os; print(os.environ.get('ONLY_THIS'), os.environ.get('HOME'))"],
                      env={"ONLY_THIS": "yes"})
    assert out.stdout.split() == ["yes", "None"]


def test_a_failure_names_command_code_and_the_tail_of_its_output():
    script = "import sys\nfor i in range(40): print(f'line {i}')\nprint('boom', file=sys.stderr)\nsys.exit(3)"
    with pytest.raises(CommandFailed) as caught:
        run_command([sys.executable, "-c", script])
    exc = caught.value
    assert exc.exit_code == ExitCode.ENVIRONMENT
    assert exc.returncode == 3 and "line 0" in exc.stdout  # the whole output stays on the exception
    assert exc.message.startswith("command failed: ") and sys.executable in exc.message
    assert exc.lines[0] == "return code: 3"
    stdout_part = exc.lines[exc.lines.index("stdout:") + 1: exc.lines.index("stderr:")]
    assert stdout_part == [f"  line {i}" for i in range(25, 40)]  # the last 15 lines only
    assert exc.lines[-2:] == ["stderr:", "  boom"]


def test_a_failure_without_output_shows_only_the_code():
    with pytest.raises(CommandFailed) as caught:
        run_command([sys.executable, "-c", "raise SystemExit(5)"])
    assert caught.value.lines == ["return code: 5"]


def test_check_false_returns_the_failure_instead():
    out = run_command([sys.executable, "-c", "raise SystemExit(7)"], check=False)
    assert out.returncode == 7


def test_a_missing_binary_is_an_environment_problem(tmp_path):
    with pytest.raises(EnvironmentProblem) as caught:
        run_command([str(tmp_path / "no-such-tool"), "x"])
    assert caught.value.message == f"{tmp_path / 'no-such-tool'}: not found"


def test_a_timeout_is_an_environment_problem_and_the_child_is_gone():
    with pytest.raises(EnvironmentProblem) as caught:
        run_command([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert "timed out after 0.5s" in caught.value.message
