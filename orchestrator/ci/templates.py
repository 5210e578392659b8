"""Scheduled CI jobs for perfctl, built as data and dumped with yaml.safe_dump: scenario
names, the cron and paths enter as YAML values, never spliced into YAML text.

Both jobs: install with the README's command (`scripts/setup`, then `.venv/bin/perfctl`),
start monitoring, run the smoke scenario then the main one, keep every results folder as an
artifact, publish the JUnit files, and fail on any non-zero exit, saying so for 98
(inconclusive) and 99 (gate failed).
"""

from __future__ import annotations

import re
import shlex

import yaml

RESULTS_DIR = "perfctl-results"
PERFCTL = ".venv/bin/perfctl"
GITHUB_PATH = ".github/workflows/perfctl.yml"
GITLAB_PATH = ".gitlab-ci.yml"
DEFAULT_CRON = "0 3 * * 1"  # Mondays 03:00 UTC
CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-]+$")


def check_cron(cron: str) -> str:
    fields = cron.split()
    if len(fields) != 5 or not all(CRON_FIELD.match(f) for f in fields):
        raise ValueError(f"'{cron}' is not a 5-field cron expression (minute hour day month weekday), e.g. '{DEFAULT_CRON}'")
    return " ".join(fields)


def run_script(scenario: str, *, config: str, run_id_prefix: str, annotate: bool) -> str:
    """The shell of one scenario's step: run it, name the verdict, keep perfctl's exit code."""
    name = shlex.quote(scenario)
    lines = [
        "set +e",
        f'{PERFCTL} run {name} -c {shlex.quote(config)} --results {RESULTS_DIR} --run-id "{run_id_prefix}-{scenario}"',
        "code=$?",
    ]
    if annotate:
        # GitHub shows these as annotations on the run; no third-party action needed.
        lines.append(f"{PERFCTL} ci annotate {RESULTS_DIR} --scenario {name} || true")
    lines += [
        'case "$code" in',
        "  0) ;;",
        f'  98) echo "perfctl: {scenario} is INCONCLUSIVE (exit 98): an objective had no or too little data" >&2 ;;',
        f'  99) echo "perfctl: {scenario} FAILED its gate (exit 99)" >&2 ;;',
        f'  *) echo "perfctl: {scenario} could not run (exit $code); see the log above" >&2 ;;',
        "esac",
        'exit "$code"',
    ]
    return "\n".join(lines) + "\n"


def github_workflow(*, cron: str, scenarios: list[str], config: str) -> dict:
    steps: list[dict] = [
        {"uses": "actions/checkout@v4"},
        {"uses": "actions/setup-python@v5", "with": {"python-version": "3.12"}},
        {"name": "Install perfctl (scripts/setup)", "run": "scripts/setup"},
        {"name": "Start monitoring", "run": f"{PERFCTL} start-monitoring -c {shlex.quote(config)}"},
    ]
    for scenario in scenarios:
        steps.append(
            {
                "name": f"Run {scenario}",
                # Later scenarios run only when the earlier ones passed (smoke first).
                "run": run_script(
                    scenario, config=config, run_id_prefix="gh-${GITHUB_RUN_ID}-${GITHUB_RUN_ATTEMPT}", annotate=True
                ),
            }
        )
    steps += [
        {
            "name": "Upload results",
            "if": "always()",
            "uses": "actions/upload-artifact@v4",
            "with": {"name": "perfctl-results", "path": f"{RESULTS_DIR}/", "if-no-files-found": "warn"},
        },
        {"name": "Stop monitoring", "if": "always()", "run": f"{PERFCTL} stop-monitoring -c {shlex.quote(config)} || true"},
    ]
    return {
        "name": "perfctl",
        "on": {"schedule": [{"cron": cron}], "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        # Two load tests at once would measure each other.
        "concurrency": {"group": "perfctl", "cancel-in-progress": False},
        "jobs": {
            "perfctl": {
                "runs-on": "ubuntu-latest",
                "timeout-minutes": 60,
                # perfctl appends report.md to $GITHUB_STEP_SUMMARY itself (the job summary).
                "env": {"NO_COLOR": "1", "PERFCTL_CONFIG": config},
                "steps": steps,
            }
        },
    }


def gitlab_ci(*, scenarios: list[str], config: str) -> dict:
    script = ["scripts/setup", f"{PERFCTL} start-monitoring -c {shlex.quote(config)}"]
    script += [
        run_script(scenario, config=config, run_id_prefix="gl-${CI_PIPELINE_ID}", annotate=False)
        for scenario in scenarios
    ]
    return {
        "stages": ["performance"],
        "perfctl": {
            "stage": "performance",
            "image": "python:3.12-bookworm",  # Debian: scripts/setup installs Prometheus and tmux with apt
            "rules": [
                {"if": '$CI_PIPELINE_SOURCE == "schedule"'},
                {"if": '$CI_PIPELINE_SOURCE == "web"'},  # Run pipeline, by hand
            ],
            "resource_group": "perfctl",  # one load test at a time
            "timeout": "1h",
            "variables": {"NO_COLOR": "1", "PERFCTL_CONFIG": config},
            "script": script,
            "after_script": [f"{PERFCTL} stop-monitoring -c {shlex.quote(config)} || true"],
            "artifacts": {
                "when": "always",
                "expire_in": "30 days",
                "paths": [f"{RESULTS_DIR}/"],
                "reports": {"junit": f"{RESULTS_DIR}/*/junit.xml"},
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    """safe_dump, with multi-line strings (the step scripts) as readable `|` blocks."""


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value.rstrip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(document: dict, header: str) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=False)
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + body


def github_header(cron: str) -> str:
    return (
        "Written by `perfctl ci init --provider github`; edit freely (regenerate with --force).\n"
        f"Runs every week ({cron}, UTC) and on demand (Actions > perfctl > Run workflow).\n"
        "Exit codes: 0 pass (warnings allowed), 98 inconclusive, 99 gate failed: both fail the job.\n"
        "JUnit results: annotations on the run (`perfctl ci annotate`) and junit.xml in the artifact."
    )


def gitlab_header(cron: str) -> str:
    return (
        "Written by `perfctl ci init --provider gitlab`; edit freely (regenerate with --force).\n"
        "GitLab keeps schedules outside this file: create one under Build > Pipeline schedules with\n"
        f"the cron '{cron}' (or: glab schedule create --cron '{cron}' --ref main --description perfctl).\n"
        "Exit codes: 0 pass (warnings allowed), 98 inconclusive, 99 gate failed: both fail the job."
    )
