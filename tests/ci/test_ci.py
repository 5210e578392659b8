"""`perfctl ci init` / `ci annotate`: the generated CI files are valid YAML, pass each
provider's published JSON schema (vendored by check-jsonschema, no download), and do what
the job must: weekly + manual, install, monitoring, smoke then main, JUnit, summary,
artifact, fail on 98/99."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orchestrator.ci import templates as ci_templates
from orchestrator.commands.ci import junit_annotations
from orchestrator.report.formats import junit_xml
from orchestrator.criteria import parse_criteria
from orchestrator.verdict.slo import ObjectiveSpec, decide, grade
from tests.conftest import REPO, run_cli, write_config

CONFIG = """
version: 1
scenarios:
  smoke:
    vus: 1
    duration: 5s
    requests: [{name: health, path: /health}]
  main:
    vus: 2
    duration: 30s
    requests: [{name: health, path: /health}]
"""


def _schema_check(builtin: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", builtin, str(path)],
        capture_output=True, text=True, timeout=60,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_config(tmp_path / "perfctl.yaml", CONFIG)
    return tmp_path


def test_github_workflow_is_valid_and_complete(repo: Path):
    result = run_cli("ci", "init", "--provider", "github", "--cron", "15 4 * * 2", cwd=repo)
    assert result.code == 0, result.output
    path = repo / ".github/workflows/perfctl.yml"
    checked = _schema_check("vendor.github-workflows", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    doc = yaml.safe_load(path.read_text())
    assert doc["on"]["schedule"] == [{"cron": "15 4 * * 2"}]
    assert "workflow_dispatch" in doc["on"]
    steps = doc["jobs"]["perfctl"]["steps"]
    runs = [s.get("run", "") for s in steps]
    # The README's install command, then monitoring, then smoke before main.
    setup = next(i for i, r in enumerate(runs) if r.startswith("scripts/setup"))
    monitoring = next(i for i, r in enumerate(runs) if "perfctl start-monitoring" in r)
    smoke = next(i for i, r in enumerate(runs) if ".venv/bin/perfctl run smoke " in r)
    main = next(i for i, r in enumerate(runs) if ".venv/bin/perfctl run main " in r)
    assert setup < monitoring < smoke < main
    # perfctl's exit code is the step's: 98 and 99 fail the job, and say which.
    for index in (smoke, main):
        script = runs[index]
        assert script.rstrip().endswith('exit "$code"') and "98)" in script and "99)" in script
        assert "perfctl ci annotate perfctl-results" in script
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "perfctl-results/"
    assert doc["jobs"]["perfctl"]["env"]["NO_COLOR"] == "1"


def test_github_run_step_really_fails_on_98_and_99(tmp_path: Path):
    # The generated step script, run by bash with a stand-in perfctl that exits with a given code.
    script = ci_templates.run_script("smoke", config="perfctl.yaml", run_id_prefix="gh-1-1", annotate=False)
    fake = tmp_path / ".venv/bin/perfctl"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\nexit "$FAKE_CODE"\n')
    fake.chmod(0o755)
    for code in (0, 98, 99, 3):
        proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                              env={"FAKE_CODE": str(code), "PATH": "/usr/bin:/bin"})
        assert proc.returncode == code
        if code == 98:
            assert "INCONCLUSIVE" in proc.stderr
        if code == 99:
            assert "FAILED" in proc.stderr


def test_gitlab_ci_is_valid_and_complete(repo: Path):
    result = run_cli("ci", "init", "--provider", "gitlab", "--scenario", "smoke", "--scenario", "main", "--json", cwd=repo)
    assert result.code == 0, result.output
    assert json.loads(result.stdout)["path"].endswith(".gitlab-ci.yml")
    path = repo / ".gitlab-ci.yml"
    checked = _schema_check("vendor.gitlab-ci", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    job = yaml.safe_load(path.read_text())["perfctl"]
    assert {"if": '$CI_PIPELINE_SOURCE == "schedule"'} in job["rules"]
    assert job["script"][0] == "scripts/setup"
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "perfctl-results/*/junit.xml"
    smoke = next(i for i, s in enumerate(job["script"]) if "perfctl run smoke" in s)
    main = next(i for i, s in enumerate(job["script"]) if "perfctl run main" in s)
    assert smoke < main
    assert "0 3 * * 1" in path.read_text()  # the schedule's cron is written where users look for it


def test_never_overwrites_without_force(repo: Path):
    path = repo / ".github/workflows/perfctl.yml"
    path.parent.mkdir(parents=True)
    path.write_text("mine\n")
    result = run_cli("ci", "init", "--provider", "github", cwd=repo)
    assert result.code == 2 and "--force" in result.stderr
    assert path.read_text() == "mine\n"
    assert run_cli("ci", "init", "--provider", "github", "--force", cwd=repo).code == 0
    assert path.read_text() != "mine\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "jenkins"], "--provider"),
        (["--provider", "github", "--cron", "every monday"], "--cron"),
        (["--provider", "github", "--scenario", "nope"], "nope not in"),
        (["--provider", "github", "--scenario", "a b"], "--scenario"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(repo: Path, args, message):
    result = run_cli("ci", "init", *args, cwd=repo)
    assert result.code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (repo / ".github").exists()


def test_annotations_name_failed_and_inconclusive_objectives(tmp_path: Path):
    grades = [
        grade(ObjectiveSpec(name="p95", pass_criteria=parse_criteria("< 0.25")), 0.9),
        grade(ObjectiveSpec(name="lag", pass_criteria=parse_criteria("< 500")), None, missing_reason="no data, 100%"),
        grade(ObjectiveSpec(name="ok", pass_criteria=parse_criteria("< 1")), 0.1),
    ]
    verdict = decide(grades, pass_percent=90, warning_percent=75)
    run = tmp_path / "r1"
    run.mkdir()
    (run / "junit.xml").write_text(junit_xml(verdict, run_id="r1", scenario="main", duration_seconds=5))
    lines = junit_annotations(run / "junit.xml")
    assert any(line.startswith("::error title=perfctl.main p95::FAIL") for line in lines), lines
    inconclusive = next(line for line in lines if "perfctl.main lag" in line)
    assert "INCONCLUSIVE" in inconclusive and "100%25" in inconclusive  # GitHub's escaping
    assert not any(" ok::" in line for line in lines)
    assert junit_annotations(run / "junit.xml", scenario="smoke") == []
    # And through the CLI, as the workflow calls it.
    result = run_cli("ci", "annotate", str(tmp_path), "--scenario", "main", cwd=tmp_path)
    assert result.code == 0 and "::error" in result.stdout


def test_workflow_uses_the_install_command_the_repo_ships():
    assert (REPO / "scripts/setup").is_file()
    doc = ci_templates.github_workflow(cron="0 3 * * 1", scenarios=["smoke"], config="perfctl.yaml")
    assert any(s.get("run", "").startswith("scripts/setup") for s in doc["jobs"]["perfctl"]["steps"])


EXAMPLE_NAMES = sorted(p.parent.name for p in (REPO / "orchestrator" / "examples").glob("*/perfctl.yaml"))


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_ci_init_on_every_example_takes_its_scenarios_from_the_config(tmp_path: Path, example: str):
    """`perfctl init --example NAME && perfctl ci init` works as is: the scenarios come from the config."""
    assert run_cli("init", "--example", example, cwd=tmp_path).code == 0
    from orchestrator.config.load import load_config

    known = load_config(tmp_path / "perfctl.yaml", environ={}).config.scenarios
    for provider, path, builtin in (("github", ".github/workflows/perfctl.yml", "vendor.github-workflows"),
                                    ("gitlab", ".gitlab-ci.yml", "vendor.gitlab-ci")):
        result = run_cli("ci", "init", "--provider", provider, cwd=tmp_path)
        assert result.code == 0, result.output
        said = next(line for line in result.stderr.splitlines() if line.startswith("scenarios: "))
        text = (tmp_path / path).read_text()
        chosen = [name for name in known if f"perfctl run {name} " in text]
        assert 1 <= len(chosen) <= 2 and all(name in said for name in chosen)
        assert _schema_check(builtin, tmp_path / path).returncode == 0
    first = said.removeprefix("scenarios: ").split(" ", 1)[0]
    smoke_like = known[first].profile is not None and known[first].profile.name == "smoke" or first in ("smoke", "health")
    assert smoke_like, f"{example}: the first scenario {first} is not a smoke-like one"


def test_ci_init_prefers_scenarios_named_smoke_and_main(repo: Path):
    result = run_cli("ci", "init", "--provider", "github", "--json", cwd=repo)
    assert result.code == 0, result.output
    assert json.loads(result.stdout)["scenarios"] == ["smoke", "main"]


def test_ci_init_without_a_config_or_scenarios_says_what_to_do(tmp_path: Path):
    result = run_cli("ci", "init", "--provider", "github", cwd=tmp_path)
    assert result.code == 2 and "perfctl init" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / ".github").exists()
