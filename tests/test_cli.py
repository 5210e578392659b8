"""The CLI as users call it: help, version, init, validate, render, schema, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from orchestrator import __version__
from tests.conftest import REPO, run_cli, write_config

CONTRACT_COMMANDS = [
    "init", "validate", "render", "run", "run-websocket", "run-health", "run-comprehensive", "demo",
    "start-monitoring", "stop-monitoring", "status", "prometheus-url", "history", "evaluate", "schema", "doctor",
]


def test_help_lists_every_command_with_help_text(tmp_path):
    result = run_cli("--help", cwd=tmp_path)
    assert result.code == 0
    for command in CONTRACT_COMMANDS:
        assert f" {command} " in result.stdout, command


def test_version(tmp_path):
    result = run_cli("--version", cwd=tmp_path)
    assert result.code == 0
    assert result.stdout.strip() == f"perfctl {__version__}"


def test_help_does_not_import_heavy_modules():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from orchestrator import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('docker', 'jinja2', 'http.client', 'requests', 'pydantic', 'aiohttp', 'yaml')"
        " if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY=\n" in proc.stderr, proc.stderr[-500:]


def test_version_answers_before_typer_is_imported():
    # `perfctl --version` is the cheapest start there is: not even the CLI framework is loaded.
    code = (
        "import sys\n"
        "from orchestrator import cli\n"
        "try:\n    cli.main(['--version'])\nexcept SystemExit as exc:\n    print('CODE=%s' % exc.code, file=sys.stderr)\n"
        "loaded = sorted(m for m in sys.modules if m == 'typer' or m.startswith(('typer.', 'orchestrator.cli.')))\n"
        "print('LOADED=' + ','.join(loaded), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == f"perfctl {__version__}", proc.stdout
    assert "CODE=0\n" in proc.stderr and "LOADED=\n" in proc.stderr, proc.stderr[-500:]


def _help_in_fresh_process(cache: Path, *args: str, columns: str = "100"):
    """`perfctl --help` in a new Python: (stdout, whether Typer was imported)."""
    code = (
        "import sys\n"
        "from orchestrator import cli\n"
        f"try:\n    cli.main({list(args)!r})\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        "print('TYPER=%s' % ('typer' in sys.modules), file=sys.stderr)\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "COLUMNS": columns}
    env.pop("_PERFCTL_COMPLETE", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr[-800:]
    return proc.stdout, "TYPER=True" in proc.stderr


def test_root_help_is_kept_and_then_shown_without_typer(tmp_path):
    cache = tmp_path / "cache"  # from nothing: no cache directory yet
    first, typer_first = _help_in_fresh_process(cache, "--help")
    assert typer_first and first.startswith("Usage: perfctl") and "start-monitoring" in first
    kept = list((cache / "perfctl" / "help").glob("*.txt"))
    assert len(kept) == 1 and kept[0].read_text() == first
    again, typer_again = _help_in_fresh_process(cache, "--help")
    assert (again, typer_again) == (first, False)
    # Another width wraps differently: its own text, rendered by Typer again.
    narrow, typer_narrow = _help_in_fresh_process(cache, "--help", columns="60")
    assert typer_narrow and narrow != first and max(map(len, narrow.splitlines())) <= 60
    assert len(list((cache / "perfctl" / "help").glob("*.txt"))) == 2
    # -h is the same page under its own key.
    short, _ = _help_in_fresh_process(cache, "-h")
    assert short == first


def test_root_help_without_a_writable_cache_is_still_shown(tmp_path):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache directory would be")
    shown, typer_used = _help_in_fresh_process(blocked, "--help")
    assert typer_used and shown.startswith("Usage: perfctl")


def test_version_with_other_arguments_still_goes_through_the_app(tmp_path):
    # Only a lone --version takes the short way; with anything else Typer parses as before.
    assert run_cli("--version", "--nope", cwd=tmp_path).code == 2
    both = run_cli("--version", "status", cwd=tmp_path)
    assert both.code == 0 and both.stdout.strip() == f"perfctl {__version__}"


def test_init_example_then_validate(tmp_path):
    result = run_cli("init", "--example", "demo", cwd=tmp_path)
    assert result.code == 0, result.output
    assert (tmp_path / "perfctl.yaml").is_file()
    again = run_cli("init", "--example", "demo", cwd=tmp_path)
    assert again.code == 2 and "--force" in again.stderr
    validated = run_cli("validate", cwd=tmp_path)
    assert validated.code == 0, validated.output
    assert "valid" in validated.stderr
    for name in ("chat-http", "websocket", "health", "demo", "comprehensive"):
        assert f"ok  {name}" in validated.stderr
    assert "ok  chat-http: 1 part(s), ~20s\n      chat-http: constant-vus, 4 VUs for 20s" in validated.stderr


def test_init_starter_is_valid(tmp_path):
    assert run_cli("init", cwd=tmp_path).code == 0
    text = (tmp_path / "perfctl.yaml").read_text()
    assert text.count("#") > 10  # commented for a newcomer
    assert run_cli("validate", cwd=tmp_path).code == 0


def test_unknown_example(tmp_path):
    result = run_cli("init", "--example", "nope", cwd=tmp_path)
    assert result.code == 2
    assert "available: " in result.stderr and "demo" in result.stderr


def test_bad_config_exit_2_names_fields_without_traceback(tmp_path):
    write_config(
        tmp_path / "perfctl.yaml",
        """
        version: 1
        scenarios:
          chat: {vus: -1, duration: 5s, requests: [{name: a, path: /}]}
        """,
    )
    for command in (["validate"], ["run", "chat"], ["render", "chat"]):
        result = run_cli(*command, cwd=tmp_path)
        assert result.code == 2, (command, result.output)
        assert "scenarios.chat.vus: must be > 0" in result.stderr
        assert "Traceback" not in result.output


def test_missing_config_says_how_to_create_one(tmp_path):
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 2
    assert "perfctl init" in result.stderr


def test_unknown_scenario_and_bad_options(tmp_path):
    run_cli("init", "--example", "demo", cwd=tmp_path)
    result = run_cli("run", "nope", cwd=tmp_path)
    assert result.code == 2 and "unknown scenario 'nope'" in result.stderr
    assert run_cli("run", "demo", "--vus", "0", cwd=tmp_path).code == 2
    assert run_cli("run", "demo", "--duration", "soon", cwd=tmp_path).code == 2
    assert run_cli("run", "demo", "--runtime", "mars", cwd=tmp_path).code == 2
    assert run_cli("frobnicate", cwd=tmp_path).code == 2
    named = run_cli("run-health", "--vus", "0", cwd=tmp_path)  # the named runs parse the same options
    assert named.code == 2 and "--vus: must be > 0" in named.stderr


def test_render_writes_inspected_script_once(tmp_path):
    run_cli("init", "--example", "demo", cwd=tmp_path)
    result = run_cli("render", "websocket", "-o", "out", cwd=tmp_path)
    assert result.code == 0, result.output
    script = (tmp_path / "out" / "websocket.js").read_text()
    assert 'scenario: "websocket"' in script
    assert 'from "k6/experimental/websockets"' in script  # k6 1.1.0 here
    assert "(run it with `k6 run out/websocket.js`)" in result.stderr
    assert run_cli("render", "websocket", "-o", "out", cwd=tmp_path).code == 2
    assert run_cli("render", "websocket", "-o", "out", "--force", cwd=tmp_path).code == 0


def test_render_to_a_file_name_writes_that_file(tmp_path):
    run_cli("init", "--example", "demo", cwd=tmp_path)
    result = run_cli("render", "health", "-o", "gen.js", cwd=tmp_path)
    assert result.code == 0, result.output
    assert (tmp_path / "gen.js").is_file() and 'scenario: "health"' in (tmp_path / "gen.js").read_text()
    assert run_cli("render", "health", "-o", "gen.js", cwd=tmp_path).code == 2  # no overwrite without --force
    (tmp_path / "scripts.js").mkdir()  # an existing folder stays a folder, whatever its name
    assert run_cli("render", "health", "-o", "scripts.js", cwd=tmp_path).code == 0
    assert (tmp_path / "scripts.js" / "health.js").is_file()


def test_schema_is_json_schema_of_the_config(tmp_path):
    result = run_cli("schema", cwd=tmp_path)
    assert result.code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "perfctl.yaml"
    assert {"target", "scenarios", "objectives", "prometheus", "k6"} <= set(schema["properties"])
    assert "pass" in json.dumps(schema["$defs"]["Objective"])


def test_demo_example_is_valid_yaml_with_objectives():
    from orchestrator.commands.init import EXAMPLES

    data = yaml.safe_load((EXAMPLES / "demo" / "perfctl.yaml").read_text())
    names = {o["name"] for o in data["objectives"]}
    assert {"error_ratio", "backend_loop_hz_min", "kafka_lag_max"} <= names


def test_doctor_names_what_is_missing_and_how_to_fix_it(tmp_path):
    from orchestrator.netutil import free_port

    write_config(
        tmp_path / "perfctl.yaml",
        f"""
        version: 1
        target: {{base_url: "http://127.0.0.1:{free_port()}"}}
        prometheus: {{url: "http://127.0.0.1:{free_port()}"}}
        scenarios:
          s: {{vus: 1, duration: 1s, requests: [{{name: a, path: /}}]}}
        """,
    )
    result = run_cli("doctor", cwd=tmp_path)
    assert result.code == 3, result.output
    assert "ok    k6" in result.stdout
    assert "FAIL  target health" in result.stdout
    assert "fix: start the target" in result.stdout
    as_json = json.loads(run_cli("doctor", "--json", cwd=tmp_path).stdout)
    assert {c["name"]: c["ok"] for c in as_json}["k6"] is True


def _perfctl_on_path(tmp_path: Path) -> dict:
    """A `perfctl` command on PATH that is this checkout's CLI, as the console script is."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "perfctl"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -m orchestrator \"$@\"\n")
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO)}


def test_bash_completion_completes_commands_and_options(tmp_path):
    env = _perfctl_on_path(tmp_path)
    script = subprocess.run(["perfctl", "--show-completion", "bash"], env=env, capture_output=True, text=True, timeout=30)
    assert script.returncode == 0 and "complete " in script.stdout and "_perfctl_completion" in script.stdout
    (tmp_path / "completion.bash").write_text(script.stdout)

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        probe = (f"source {tmp_path / 'completion.bash'}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
                 "_perfctl_completion perfctl; printf '%s\\n' \"${COMPREPLY[@]}\"")
        done = subprocess.run(["bash", "-c", probe], env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert {"run-websocket", "run-health", "run-comprehensive"} <= set(complete("perfctl", "run-"))
    assert "--baseline" in complete("perfctl", "run", "demo", "--base")
    assert {"local", "docker", "k8s"} <= set(complete("perfctl", "run", "demo", "--runtime", ""))


def test_machine_settings_come_from_perfctl_environment_variables(tmp_path):
    from orchestrator.ledger.store import Ledger

    run_cli("init", "--example", "demo", cwd=tmp_path)
    Ledger(tmp_path / "elsewhere").create("20260101-000000-demo-abcd", {"scenario": "demo", "status": "finished"})
    listed = run_cli("history", cwd=tmp_path, env={"PERFCTL_RESULTS": str(tmp_path / "elsewhere"), "PERFCTL_JSON": "1"})
    assert listed.code == 0, listed.output
    assert [run["id"] for run in json.loads(listed.stdout)] == ["20260101-000000-demo-abcd"]
    url = run_cli("prometheus-url", cwd=tmp_path, env={"PERFCTL_PROMETHEUS_URL": "http://127.0.0.1:19090"})
    assert url.code == 0 and url.stdout.strip() == "http://127.0.0.1:19090"
    bad = run_cli("prometheus-url", cwd=tmp_path, env={"PERFCTL_PROMETHEUS_URL": "ftp:/x"})
    assert bad.code == 2 and "prometheus.url" in bad.stderr


def test_one_command_app_answers_like_the_whole_app():
    # `perfctl NAME ...` builds only NAME (cli/app.py make_app); its help and usage errors must
    # be the whole app's, word for word.
    from typer.testing import CliRunner

    from orchestrator.cli.app import NAMES, make_app

    runner = CliRunner()
    whole = make_app()
    for name in sorted(NAMES):
        for args in ([name, "--help"], [name, "--bogus"]):
            alone = runner.invoke(make_app(only=name), args, prog_name="perfctl", env={"NO_COLOR": "1"})
            full = runner.invoke(whole, args, prog_name="perfctl", env={"NO_COLOR": "1"})
            assert (alone.exit_code, alone.output) == (full.exit_code, full.output), args
            assert name in full.output


def test_a_run_does_not_build_the_other_commands():
    code = (
        "import sys\n"
        "from orchestrator import cli\n"
        "try:\n    cli.main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED=' + ','.join(sorted(m for m in sys.modules if m.startswith('orchestrator.cli.'))), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "LOADED=orchestrator.cli.app,orchestrator.cli.options,orchestrator.cli.runs\n" in proc.stderr, proc.stderr[-500:]


def test_the_listing_app_shows_what_the_whole_app_shows():
    # `perfctl` and `perfctl --help` list stand-ins (cli/app.py make_app(listing=True)):
    # the page must be the whole app's, word for word.
    from typer.testing import CliRunner

    from orchestrator.cli.app import make_app

    runner = CliRunner()
    for args in ([], ["--help"], ["-h"]):
        listing = runner.invoke(make_app(listing=True), args, prog_name="perfctl", env={"NO_COLOR": "1"})
        full = runner.invoke(make_app(), args, prog_name="perfctl", env={"NO_COLOR": "1"})
        assert (listing.exit_code, listing.output) == (full.exit_code, full.output), args
        assert "Commands:" in full.output and " k8s " in full.output
