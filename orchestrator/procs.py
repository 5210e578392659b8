"""The one wrapper for short external commands: failures show command, code, stdout, stderr."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass

from orchestrator.errors import EnvironmentProblem, ExitCode, PerfctlError


class CommandFailed(PerfctlError):
    exit_code = ExitCode.ENVIRONMENT

    def __init__(self, argv: list[str], returncode: int, stdout: str, stderr: str):
        lines = [f"return code: {returncode}"]
        for label, text in (("stdout", stdout), ("stderr", stderr)):
            text = text.strip()
            if text:
                tail = text.splitlines()[-15:]
                lines.append(f"{label}:")
                lines += ["  " + line for line in tail]
        super().__init__(f"command failed: {shlex.join(argv)}", lines=lines)
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr


@dataclass(frozen=True)
class Output:
    returncode: int
    stdout: str
    stderr: str


def run_command(
    argv: list[str], *, timeout: float = 60.0, check: bool = True, env: dict[str, str] | None = None, cwd=None
) -> Output:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    except FileNotFoundError:
        raise EnvironmentProblem(f"{argv[0]}: not found") from None
    except subprocess.TimeoutExpired as exc:
        raise EnvironmentProblem(f"command timed out after {timeout:g}s: {shlex.join(argv)}") from exc
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode, proc.stdout, proc.stderr)
    return Output(proc.returncode, proc.stdout, proc.stderr)
