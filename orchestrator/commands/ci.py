"""`perfctl ci init`: a weekly CI job; `perfctl ci annotate`: JUnit results as GitHub annotations."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from orchestrator import console
from orchestrator.ci import templates as ci_templates
from orchestrator.config.load import DEFAULT_CONFIG_NAME, load_config
from orchestrator.errors import PerfctlError, UsageError
from orchestrator.ledger.store import write_output

PROVIDERS = ("github", "gitlab")
SCENARIO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def init(
    *,
    provider: str,
    cron: str = ci_templates.DEFAULT_CRON,
    scenarios: list[str] | None = None,
    config: Path | None = None,
    root: Path = Path("."),
    force: bool = False,
    json_output: bool = False,
) -> int:
    if provider not in PROVIDERS:
        raise UsageError(f"--provider {provider}: must be one of {', '.join(PROVIDERS)}")
    try:
        cron = ci_templates.check_cron(cron)
    except ValueError as exc:
        raise UsageError(f"--cron: {exc}") from None
    for name in scenarios or ():
        if not SCENARIO_NAME.match(name):
            raise UsageError(f"--scenario {name!r}: not a scenario name (letters, digits, '_', '.', '-')")
    config_path = config or Path(DEFAULT_CONFIG_NAME)
    if scenarios:
        _check_scenarios(config_path, scenarios)
    else:
        scenarios = _default_scenarios(config_path, quiet=json_output)

    # Render first, write only on success, never over an existing file without --force.
    config_text = _in_repository(config_path, root)
    if provider == "github":
        target = root / ci_templates.GITHUB_PATH
        text = ci_templates.dump(
            ci_templates.github_workflow(cron=cron, scenarios=scenarios, config=config_text),
            ci_templates.github_header(cron),
        )
    else:
        target = root / ci_templates.GITLAB_PATH
        text = ci_templates.dump(
            ci_templates.gitlab_ci(scenarios=scenarios, config=config_text), ci_templates.gitlab_header(cron)
        )
    if target.exists() and not force:
        raise UsageError(f"{target} exists already; use --force to overwrite it")
    write_output(target, text)
    if json_output:
        print(json.dumps({"provider": provider, "path": str(target), "cron": cron, "scenarios": scenarios}))
    else:
        console.info(f"wrote {target}: {', '.join(scenarios)} every week ({cron} UTC) and on demand")
        if provider == "gitlab":
            console.info(f"GitLab keeps schedules outside the file: add a pipeline schedule with the cron '{cron}'")
    return 0


def _in_repository(config_path: Path, root: Path) -> str:
    """The config's path as the CI job sees it: relative to the repository root."""
    if not config_path.is_absolute():
        return config_path.as_posix()
    try:
        return config_path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UsageError(f"-c {config_path}: the CI job can only use a config inside the repository ({root.resolve()})") from None


def _default_scenarios(config_path: Path, *, quiet: bool) -> list[str]:
    """No --scenario: a smoke-like scenario, then the main one, from the config; said which and why."""
    from orchestrator.ci.scenarios import default_scenarios

    if not config_path.exists():
        raise UsageError(f"{config_path}: no such file, so there are no scenarios to choose from",
                         hint="create one with `perfctl init`, point at it with -c, or name them: --scenario smoke --scenario main")
    chosen = default_scenarios(load_config(config_path).config)
    if not chosen:
        raise UsageError(f"{config_path}: no scenario suits a weekly job (only spike/soak/stress/breakpoint shapes)",
                         hint="name them: --scenario NAME (repeat; the smoke-like one first)")
    if not quiet:
        console.info("scenarios: " + ", then ".join(f"{c.name} ({c.why})" for c in chosen)
                     + "; --scenario chooses others")
    return [c.name for c in chosen]


def _check_scenarios(config_path: Path, scenarios: list[str]) -> None:
    """Unknown scenarios are an error now rather than a red job next Monday."""
    if not config_path.exists():
        console.info(f"note: {config_path} not found; the scenarios {', '.join(scenarios)} are not checked")
        return
    try:
        known = load_config(config_path).config.scenarios
    except PerfctlError as exc:
        exc.hint = exc.hint or "fix the config, or point at another with -c"
        raise
    unknown = [s for s in scenarios if s not in known]
    if unknown:
        raise UsageError(
            f"--scenario: {', '.join(unknown)} not in {config_path} (it has: {', '.join(sorted(known))})",
            hint="name the smoke scenario first, then the main one: --scenario smoke --scenario main",
        )


# ---- annotate -------------------------------------------------------------------------------


def annotate(results: Path, *, scenario: str | None = None) -> int:
    """Print GitHub workflow commands (::error / ::warning) for the objectives in junit.xml files
    that failed, were inconclusive or warned. Prints nothing for passing objectives."""
    if not results.is_dir():
        raise UsageError(f"{results}: no such results folder")
    for path in sorted(results.glob("*/junit.xml")):
        for line in junit_annotations(path, scenario=scenario):
            print(line)
    return 0


def junit_annotations(path: Path, *, scenario: str | None = None) -> list[str]:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        return [f"::warning title={_prop('perfctl')}::{_data(f'{path}: unreadable JUnit file ({exc})')}"]
    lines = []
    for suite in root.iter("testsuite"):
        name = suite.get("name", "")
        if scenario is not None and name != f"perfctl.{scenario}":
            continue
        for case in suite.iter("testcase"):
            title = f"{name} {case.get('name', '')}"
            for tag, level, label in (("failure", "error", "FAIL"), ("error", "error", "INCONCLUSIVE")):
                found = case.find(tag)
                if found is not None:
                    lines.append(f"::{level} title={_prop(title)}::{_data(label + ': ' + found.get('message', ''))}")
            out = case.find("system-out")
            if out is not None and (out.text or "").startswith("warning:"):
                lines.append(f"::warning title={_prop(title)}::{_data((out.text or '').splitlines()[0])}")
    return lines


def _data(text: str) -> str:
    # GitHub workflow command escaping: message data, then property values.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
