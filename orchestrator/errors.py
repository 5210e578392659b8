"""The one error type users see, and the exit codes of the CLI contract.

Anything raised that is not a PerfctlError is a bug (exit 1): cli.main prints a
short message and keeps the traceback out of the user's way.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # gate passed (warnings allowed, and said)
    BUG = 1  # an unexpected error in perfctl itself
    USAGE = 2  # bad usage or invalid config
    ENVIRONMENT = 3  # k6 / Prometheus / engine missing or unreachable, health gate failed
    INCONCLUSIVE = 98  # an objective had no or too little data
    GATE_FAILED = 99  # k6's own code for failed thresholds
    INTERRUPTED = 130  # Ctrl-C / SIGTERM / SIGHUP; partial results kept


class PerfctlError(Exception):
    """An error meant for the user: one or more lines of text and an exit code."""

    exit_code: ExitCode = ExitCode.BUG

    def __init__(self, message: str, *, hint: str | None = None, lines: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        # Extra lines, e.g. one per invalid config field.
        self.lines = lines or []

    def render(self) -> str:
        parts = [f"perfctl: {self.message}"]
        parts += [f"  {line}" for line in self.lines]
        if self.hint:
            parts.append(f"  hint: {self.hint}")
        return "\n".join(parts)


class UsageError(PerfctlError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """perfctl.yaml is missing, unreadable or invalid; `lines` name each field."""


class EnvironmentProblem(PerfctlError):
    """A dependency (k6, Prometheus, Docker, the target) is missing or unreachable."""

    exit_code = ExitCode.ENVIRONMENT


class NoSpace(EnvironmentProblem):
    """The disk (or quota) is full where perfctl writes: exit 3, naming the place."""


class HealthGateFailed(EnvironmentProblem):
    """The target's health endpoint did not answer before load."""


class Interrupted(PerfctlError):
    exit_code = ExitCode.INTERRUPTED


class LedgerError(PerfctlError):
    """A run directory is missing, torn or foreign."""

    exit_code = ExitCode.USAGE
