"""Property: whatever a user writes into perfctl.yaml or onto the command line, perfctl answers
with exit 0 or 2 (a clear line), never 1 (a bug), never a traceback, never a hang.

Random mutations of every shipped example config (orchestrator/examples/*/perfctl.yaml), as
data and as text, go through load_config and every scenario's rendering in-process; random
argument lists go through the CLI entry point (`orchestrator.cli.main`) in-process, and a few
through a real `perfctl` process. Each call runs under a 5 s alarm: a hang fails the example
instead of the suite. Bounded so the file runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import signal
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orchestrator.config.load import load_config
from orchestrator.config.model import LoadedConfig
from orchestrator.errors import PerfctlError
from orchestrator.k6.features import K6Features
from orchestrator.monitoring.prometheus_config import prometheus_yml
from orchestrator.render.script import describe_part, render_scenario
from tests.conftest import run_cli

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "orchestrator" / "examples").glob("*/perfctl.yaml"))
ENVIRON = {"API_TOKEN": "t", "CHAT4ALL_TOKEN": "t", "AIAAS_TOKEN": "t", "TOKEN": "t"}
FEATURES = K6Features((1, 1, 0))
HANG_SECONDS = 5
# PERFCTL_FUZZ_EXAMPLES=2000 for a longer hunt; 150 keeps CI quick.
EXAMPLES_PER_TEST = int(os.environ.get("PERFCTL_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES_PER_TEST, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class Hang(BaseException):
    """Raised by the alarm; a BaseException so no `except Exception` in perfctl swallows it."""


@contextlib.contextmanager
def hang_guard(what: str):
    def alarm(_signum, _frame):
        raise Hang(f"no answer within {HANG_SECONDS}s: {what}")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---- config mutations -------------------------------------------------------------------------

SPECIAL_STRINGS = [
    "", " ", "\r\n", "a\nb", "\x00", "${X}", "${X:-1}", "$${", "${", "99999999h", "0s", "-1s", "1m30s", "0",
    ".inf", "nan", "p95<500", "p(95)<500", "http://127.0.0.1:99999", "http://a b", "ws://x:0", "127.0.0.1:0",
    "garbage", "/x\r\nHost: evil", "../..", "::", "[", "{", "%s", "true", "constant-vus", "ramping-vus",
    "x" * 300, "ümlaut", "\u2028", "*/", "</script>", "`${x}`", "json:a.b", "p(200)", "1e309", "-5",
]
SPECIAL_NUMBERS = [0, -1, 1, 2, 599, 600, 99999, 10**6, 10**6 + 1, 2**31, 2**53 + 1, 2**63, 10**30, -(10**30)]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(SPECIAL_NUMBERS),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.inf, -math.inf, math.nan, 0.0, -0.0, 1e-9, 1e300]),
    st.sampled_from(SPECIAL_STRINGS),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(SPECIAL_STRINGS[:12]), st.text(max_size=6)), inner, max_size=3),
    ),
    max_leaves=6,
)


NUMERIC_NASTY = [0, -1, 0.0, 1e-9, math.inf, -math.inf, math.nan, True, False, None, 10**30, 2**63, 99999, 10**6 + 1,
                 10**9, 10**12, "99999999h", "0s", "-1s", ".inf", "1e309", "", "x", [1], {"a": 1}]


def nasty_for(old) -> st.SearchStrategy:
    """Values a user might put where `old` is: mostly wrong in a way close to right (a number
    out of range, a duration of zero or .inf, a string with a line break), sometimes anything."""
    import re

    if isinstance(old, bool):
        near = st.sampled_from([0, 1, "yes", "no", None, "true", [True]])
    elif is_number_like(old):
        near = st.one_of(st.sampled_from([math.inf, -math.inf, math.nan]), st.sampled_from(NUMERIC_NASTY), st.integers(),
                         st.floats())
    elif isinstance(old, str):
        near = st.one_of(
            st.sampled_from(SPECIAL_STRINGS),
            st.builds(lambda extra, at: old[:at] + extra + old[at:], st.sampled_from(["\r\n", " ", "${X}", ":99999", "\x00", "/"]),
                      st.integers(0, len(old))),
        )
    elif isinstance(old, list):
        near = st.one_of(st.just([]), st.lists(scalars, max_size=3), st.just(old * 3))
    else:
        near = st.one_of(st.just({}), st.just(None), st.just([old]))
    return st.one_of(near, near, near, values)


def is_number_like(value) -> bool:
    """A number, or a duration written as text (`30s`): where a range or a unit applies."""
    import re

    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) or (isinstance(value, str) and bool(re.fullmatch(r"[\d.]+(ms|s|m|h)?", value)))


def value_at(tree, path: tuple):
    for part in path:
        tree = tree[part]
    return tree


def paths_of(node, prefix=()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += paths_of(child, prefix + (key,))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += paths_of(child, prefix + (i,))
    return found


def mutate(data, path: tuple, op: str, value):
    """`data` with one change at `path` (a copy: the example's data is reused)."""
    import copy

    data = copy.deepcopy(data)
    if not path:
        return value if op == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "replace":
        parent[last] = value
    elif op == "delete":
        del parent[last]
    elif op == "wrap":
        parent[last] = [parent[last]]
    elif op == "nest":
        parent[last] = {"x": parent[last]}
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(last, copy.deepcopy(parent[last]))
    elif op == "extra" and isinstance(parent, dict):
        parent[f"{last}_extra"] = value
    return data


EXAMPLE_DATA = {path: yaml.safe_load(path.read_text()) for path in EXAMPLES}


def assert_loads_and_renders_or_refuses(path: Path) -> None:
    """load_config and every scenario's script and the Prometheus config: ok, or a PerfctlError."""
    with hang_guard(str(path)):
        try:
            loaded = load_config(path, environ=ENVIRON)
        except PerfctlError:
            event("config refused")
            return
        event("config loaded")
        for name in loaded.config.scenarios:
            try:
                script = render_scenario(loaded, name, FEATURES)
                [describe_part(part) for part in script.parts]  # what validate prints
                event("scenario rendered")
            except PerfctlError:
                event("scenario refused")
        prometheus_yml(loaded.config)


def _workdir() -> Path:
    # One folder for the whole module: hypothesis runs many examples per test function.
    global _WORKDIR
    if _WORKDIR is None:
        _WORKDIR = Path(tempfile.mkdtemp(prefix="perfctl-fuzz-"))
    return _WORKDIR


_WORKDIR: Path | None = None


def test_every_example_config_is_valid_to_start_with():
    assert EXAMPLES, "no shipped examples found"
    for path in EXAMPLES:
        loaded = load_config(path, environ=ENVIRON)
        assert isinstance(loaded, LoadedConfig)


@FUZZ
@given(data=st.data())
def test_mutated_example_configs_load_or_are_refused(data):
    example = data.draw(st.sampled_from(EXAMPLES), label="example")
    tree = EXAMPLE_DATA[example]
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        paths = paths_of(tree)
        numbers = [p for p in paths if is_number_like(value_at(tree, p))]
        # Half the changes hit a number or duration: where ranges, units and .inf live.
        path = data.draw(st.sampled_from(numbers if numbers and data.draw(st.booleans()) else paths), label="path")
        op = data.draw(st.sampled_from(["replace", "replace", "replace", "delete", "wrap", "nest", "duplicate", "extra"]))
        tree = mutate(tree, path, op, data.draw(nasty_for(value_at(tree, path)), label="value"))
    target = _workdir() / "data" / example.parent.name / "perfctl.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        text = yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return  # not representable as YAML: no user can write it
    target.write_text(text, encoding="utf-8")
    assert_loads_and_renders_or_refuses(target)


@FUZZ
@given(data=st.data())
def test_any_number_in_a_number_field_loads_or_is_refused(data):
    """Every number and duration of every example, set to a value at or beyond the edge of its
    range (.inf, .nan, 0, negative, huge, a boolean, a duration of 99999999h)."""
    example = data.draw(st.sampled_from(EXAMPLES), label="example")
    tree = EXAMPLE_DATA[example]
    path = data.draw(st.sampled_from([p for p in paths_of(tree) if is_number_like(value_at(tree, p))]), label="path")
    value = data.draw(st.one_of(st.sampled_from([math.inf, -math.inf, math.nan]), st.sampled_from(NUMERIC_NASTY[:18]),
                                st.integers(), st.floats()), label="value")
    target = _workdir() / "numbers" / example.parent.name / "perfctl.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(mutate(tree, path, "replace", value), allow_unicode=True, sort_keys=False))
    assert_loads_and_renders_or_refuses(target)


@FUZZ
@given(data=st.data())
def test_example_config_texts_with_random_edits_load_or_are_refused(data):
    example = data.draw(st.sampled_from(EXAMPLES), label="example")
    text = example.read_text()
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        at = data.draw(st.integers(0, len(text)), label="at")
        cut = data.draw(st.integers(0, 8), label="cut")
        insert = data.draw(
            st.one_of(st.sampled_from(["&a ", "*a", "<<: *a", ": ", "- ", "\n", "  ", "{", "[", "'", '"', "#", "!!python/object ",
                                       "\t", "? ", "|", ">", ".inf", "true", "0", "${A}", "\x00", "\ufeff"]),
                      st.text(max_size=5)),
            label="insert",
        )
        text = text[:at] + insert + text[at + cut:]
    target = _workdir() / "text" / example.parent.name / "perfctl.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_loads_and_renders_or_refuses(target)


# ---- command-line argument lists ------------------------------------------------------------


def cli_workspace() -> dict[str, str]:
    """Config files of every kind -c may name; paths -o / --results may name (all inside the
    work folder, except read-only probes of /etc and /proc for --results)."""
    root = _workdir() / "cli"
    if (root / "good.yaml").exists():
        return _CLI_PATHS
    root.mkdir(parents=True, exist_ok=True)
    from orchestrator.netutil import free_port

    template = (Path(__file__).resolve().parents[2] / "orchestrator" / "templates" / "perfctl.yaml").read_text()
    # Nothing listens on the target's port: a run that passes every input check stops at the
    # health gate (exit 3), after 0.2 s, having sent nothing.
    good = template.replace("${TARGET_URL:-http://127.0.0.1:8080}", f"http://127.0.0.1:{free_port()}")
    good = good.replace("health_timeout: 10s", "health_timeout: 0.2s").replace("9090", str(free_port()))
    (root / "good.yaml").write_text(good)
    # The folder commands run in: its perfctl.yaml (the default -c) is the good one, and stays
    # so (init only ever writes to -o init-out), so no run reaches a real port.
    (root / "cwd").mkdir(exist_ok=True)
    (root / "cwd" / "perfctl.yaml").write_text(good)
    (root / "bad.yaml").write_text(good.replace("vus: 2", "vus: true"))
    (root / "dir").mkdir(exist_ok=True)
    (root / "results").mkdir(exist_ok=True)
    (root / "a-file").write_text("x")
    fifo = root / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    _CLI_PATHS.update(
        good=str(root / "good.yaml"), bad=str(root / "bad.yaml"), dir=str(root / "dir"), fifo=str(fifo),
        missing=str(root / "missing.yaml"), file=str(root / "a-file"), results=str(root / "results"),
        out=str(root / "out"), root=str(root / "cwd"), init_out=str(root / "init-out.yaml"),
    )
    return _CLI_PATHS


_CLI_PATHS: dict[str, str] = {}

IDS = ["", "x", "../x", "a/b", "-x", "run-1", "a" * 200, "last-pass", "\n", "x\n", " "]
NUMBERS = ["0", "-1", "1", "2", "300", "100000", str(10**7), str(10**20), "x", "", "1.5", "1e3"]
DURATIONS = ["0", "0s", "1s", "-1s", "99999999h", ".inf", "nan", "soon", "", "1m30s", "1e309"]


def option_values(paths: dict[str, str]) -> dict[str, st.SearchStrategy]:
    results = st.sampled_from([paths["results"], paths["file"], "/etc/hostname", "/proc/perfctl-fuzz", "", paths["dir"]])
    config = st.sampled_from([paths["good"], paths["good"], paths["bad"], paths["dir"], paths["fifo"], paths["missing"],
                              "/dev/zero", "/etc/hostname"])
    out = st.sampled_from([paths["out"], paths["file"], paths["dir"]])
    return {
        "-c": config, "--vus": st.sampled_from(NUMBERS), "--duration": st.sampled_from(DURATIONS),
        "--rate": st.sampled_from(NUMBERS), "--stage": st.sampled_from(["1s:1", "0s:0", "x", "1s:-1", f"1s:{10**9}", ":", ""]),
        "--run-id": st.sampled_from(IDS), "--results": results, "--instances": st.sampled_from(NUMBERS),
        "--runtime": st.sampled_from(["local", "mars", ""]), "--baseline": st.sampled_from(IDS),
        "--limit": st.sampled_from(NUMBERS), "--scenario": st.sampled_from(["smoke", "nope", ""]),
        "--tolerance": st.sampled_from(["5", "-1", "nan", "inf", "x"]), "--format": st.sampled_from(["md", "html", "xml"]),
        "-o": out, "--parallelism": st.sampled_from(NUMBERS), "--cleanup": st.sampled_from(["post", "none", "x"]),
        "--example": st.sampled_from(["demo", "nope", "../x", ""]),
    }


# Commands that only read, render into the work folder, or stop at the health gate. Not here:
# --detach (tmux), --hosts (ssh), clean/rollback/recover (they act on what they find).
COMMANDS = {
    ("validate",): ["-c"],
    ("render", "smoke"): ["-c", "-o", "--force"],
    ("render", "nope"): ["-c"],
    ("run", "smoke"): ["-c", "--vus", "--duration", "--rate", "--stage", "--run-id", "--results", "--instances",
                       "--runtime", "--baseline", "--json", "--no-rollback"],
    ("run-health",): ["-c", "--vus", "--duration", "--run-id", "--results", "--instances"],
    ("history",): ["-c", "--scenario", "--limit", "--results", "--json"],
    ("compare", "a", "b"): ["-c", "--tolerance", "--results", "--json"],
    ("report", "x"): ["-c", "--format", "--results", "-o"],
    ("k8s", "render", "smoke"): ["-c", "--parallelism", "--vus", "--duration", "-o", "--run-id", "--cleanup", "--force"],
    ("dashboard-url",): ["-c", "--results"],
    ("init",): ["--example", "--force"],
    ("schema",): [],
}
FLAGS = {"--json", "--no-rollback", "--force"}


@st.composite
def argument_lists(draw) -> list[str]:
    paths = cli_workspace()
    strategies = option_values(paths)
    command = draw(st.sampled_from(sorted(COMMANDS)))
    argv = list(command)
    if command == ("init",):
        # Never the default perfctl.yaml: what init writes must not become a config a later run reads.
        argv += ["-o", draw(st.sampled_from([paths["init_out"], paths["dir"], paths["init_out"] + "/x"]))]
    for option in draw(st.lists(st.sampled_from(COMMANDS[command] or ["--json"]), max_size=5)):
        argv.append(option)
        if option not in FLAGS:
            argv.append(draw(strategies[option]))
    if draw(st.booleans()) and "-c" not in argv and command[0] not in ("init", "schema"):
        argv += ["-c", paths["good"]]
    if draw(st.integers(0, 9)) == 0:
        argv.append(draw(st.sampled_from(["--nope", "extra", "-", "--", "--vus"])))
    return argv


def call_cli(argv: list[str]) -> tuple[int, str]:
    """orchestrator.cli.main(argv) in-process: its exit code and everything it printed."""
    from orchestrator.cli import main

    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(cli_workspace()["root"])
    try:
        with hang_guard(" ".join(argv)), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(cwd)
    return code, out.getvalue() + err.getvalue()


def assert_clear_answer(argv: list[str], code: int, output: str) -> None:
    # 3 is the environment: the health gate of the target nobody listens on, or a Grafana that
    # is not there (dashboard-url), each said with how to fix it.
    environment = "health gate failed" in output or ("no Grafana answers" in output and "hint:" in output)
    allowed = code in (0, 2) or (code == 3 and environment)
    assert allowed, f"perfctl {argv!r} -> exit {code}:\n{output}\n{_crash_log(output)}"
    assert "Traceback" not in output, output


def _crash_log(output: str) -> str:
    import re

    match = re.search(r"traceback is in (\S+)", output)
    return Path(match.group(1)).read_text() if match and Path(match.group(1)).exists() else ""


@FUZZ
@given(argv=argument_lists())
def test_random_argument_lists_get_a_clear_answer(argv):
    code, output = call_cli(argv)
    event(f"exit {code}")
    assert_clear_answer(argv, code, output)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=argument_lists())
def test_random_argument_lists_in_a_real_perfctl_process(argv):
    result = run_cli(*argv, cwd=Path(cli_workspace()["root"]), timeout=60)
    assert_clear_answer(argv, result.code, result.output)


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    if _WORKDIR is not None:
        import shutil

        shutil.rmtree(_WORKDIR, ignore_errors=True)
