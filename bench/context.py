"""What every figure gets: where to work, how long to run, which binaries to use."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.k6.binary import find_k6

REPO = Path(__file__).resolve().parent.parent


@dataclass
class BenchContext:
    workdir: Path  # scratch space, removed at the end
    quick: bool  # short tests, two repetitions: for developing the benchmark, not for results
    python: str = sys.executable
    k6: str = field(default_factory=find_k6)
    commands: list[str] = field(default_factory=list)  # every measured command, for results.md

    @property
    def perfctl(self) -> list[str]:
        """The console script next to this Python (what users type), else `python -m orchestrator`."""
        script = Path(self.python).parent / "perfctl"
        return [str(script)] if script.exists() else [self.python, "-m", "orchestrator"]

    def reps(self, full: int, quick: int = 2) -> int:
        return quick if self.quick else full

    def seconds(self, full: float, quick: float) -> float:
        return quick if self.quick else full

    def dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def shown(argv: list[str], env: dict | None = None, keys: tuple[str, ...] = ()) -> str:
    """A command as a shell line, with the environment variables that matter in front."""
    prefix = " ".join(f"{k}={shlex.quote(env[k])}" for k in keys if env and k in env)
    return (prefix + " " if prefix else "") + shlex.join(argv)
