"""`perfctl render SCENARIO -o DIR|FILE.js`: the k6 script, inspected before it is written."""

from __future__ import annotations

from pathlib import Path

from orchestrator import console
from orchestrator.config.load import load_config
from orchestrator.errors import UsageError
from orchestrator.k6.binary import detect_features, find_k6, inspect_script
from orchestrator.ledger.store import write_output
from orchestrator.render.script import render_scenario


def render(config_path: Path | None, scenario: str, output: Path, *, force: bool) -> int:
    loaded = load_config(config_path)
    binary = find_k6(loaded.config.k6.binary)
    script = render_scenario(loaded, scenario, detect_features(binary))
    inspect_script(binary, script.text)  # render to a string, check it, only then write
    target = script_path(output, scenario)
    if target.exists() and not force:
        raise UsageError(f"{target} exists already; use --force to overwrite it")
    write_output(target, script.text)
    console.info(f"wrote {target} (run it with `k6 run {target}`)")
    return 0


def script_path(output: Path, scenario: str) -> Path:
    """`-o gen.js` names the file; any other `-o` (or an existing folder) is the folder for `<scenario>.js`."""
    if output.suffix in (".js", ".mjs") and not output.is_dir():
        return output
    return output / f"{scenario}.js"
