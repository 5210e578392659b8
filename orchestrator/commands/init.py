"""`perfctl init`: write a commented starter perfctl.yaml (or an example's)."""

from __future__ import annotations

from pathlib import Path

from orchestrator import console
from orchestrator.errors import UsageError
from orchestrator.ledger.store import write_atomic, write_output

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
STARTER = Path(__file__).resolve().parent.parent / "templates" / "perfctl.yaml"


def available_examples() -> list[str]:
    return sorted(p.parent.name for p in EXAMPLES.glob("*/perfctl.yaml"))


def init(*, example: str | None, output: Path, force: bool) -> int:
    if example is None:
        text = STARTER.read_text(encoding="utf-8")
    else:
        source = EXAMPLES / example / "perfctl.yaml"
        if not source.is_file():
            raise UsageError(f"--example {example}: no such example (available: {', '.join(available_examples())})")
        text = source.read_text(encoding="utf-8")
    if output.exists() and not force:
        raise UsageError(f"{output} exists already; use --force to overwrite it")
    write_output(output, text)
    if example is not None:
        _copy_data_files(EXAMPLES / example, output.parent, force=force)
    console.info(f"wrote {output}; check it with `perfctl validate -c {output}`")
    return 0


def _copy_data_files(source: Path, target: Path, *, force: bool) -> None:
    """An example's data pools (CSV/JSON beside its perfctl.yaml) go along with it."""
    for data in sorted(source.glob("*.csv")) + sorted(source.glob("*.json")):
        destination = target / data.name
        if destination.exists() and not force:
            console.info(f"kept the existing {destination}")
            continue
        write_atomic(destination, data.read_text(encoding="utf-8"))
        console.info(f"wrote {destination} (data for the example's scenarios)")
