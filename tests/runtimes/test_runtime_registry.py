"""The one list of runtimes (orchestrator/runtimes/__init__.py) and the one shape they share."""

import ast
import inspect
from pathlib import Path

import pytest

import orchestrator
from orchestrator.ledger.record import RunRecord
from orchestrator import runtimes
from orchestrator.errors import UsageError
from orchestrator.runtimes.base import Runtime, RuntimeBase

PACKAGE = Path(orchestrator.__file__).parent
# Lists of names that look like runtimes' but are another thing's choices: where Prometheus
# runs (prometheus.runtime, start-monitoring --runtime) is "local" or "docker" too.
NOT_RUNTIME_LISTS = {("config/prometheus_settings.py", ("local", "docker"))}  # where Prometheus runs, not k6


def test_the_cli_offers_exactly_the_registrys_choices():
    from orchestrator.cli.options import Runtime

    assert tuple(r.value for r in Runtime) == runtimes.CHOICES == ("local", "docker", "k8s")


@pytest.mark.parametrize("name", list(runtimes.REGISTRY))
def test_every_registered_runtime_has_the_shape(name):
    cls = runtimes.runtime_class(name)
    assert issubclass(cls, RuntimeBase) and cls.name == name
    assert "for_run" in vars(cls), f"{name} builds itself for a run"
    run = inspect.signature(cls.run)
    assert list(run.parameters) == ["self", "argv", "env", "log_path", "cwd", "on_started", "progress", "watch"]


def test_options_pick_the_runtime():
    assert runtimes.chosen("local") == "local"
    assert runtimes.chosen("docker") == "docker"
    assert runtimes.chosen("local", instances=3) == "local"  # N local processes, the same runtime
    assert runtimes.chosen("local", instances=2, hosts=("a@h1", "a@h2")) == "ssh"
    assert runtimes.chosen("k8s", instances=4) == "k8s"  # the operator splits it
    with pytest.raises(UsageError, match=r"--runtime ssh: not available .*\(available: local, docker, k8s\)"):
        runtimes.chosen("ssh")


def test_recover_knows_where_k6_ran_from_the_record():
    def where(data: dict):
        return runtimes.ran_elsewhere(RunRecord.from_json(data))

    assert where({"runtime": "local", "k6": {"pid": 1}}) is None
    assert where({"runtime": "docker", "k6": {"container": "c"}}) is None
    assert where({"runtime": "k8s"}) == "in Kubernetes (k6-operator)"
    assert where({"runtime": "k8s", "k8s": {"testrun": "t", "namespace": "n"}}) == "in Kubernetes (k6-operator)"
    assert where({"runtime": "local", "k6": {"hosts": [{"host": "u@h1"}, {"host": "u@h2"}]}}) == (
        "on other hosts (u@h1, u@h2)")


def test_defaults_of_the_base_class():
    base = RuntimeBase()
    assert base.window(1.0, 2.0) == (1.0, 2.0) and base.details() == {}
    base.ran = (1.5, 1.8)
    assert base.window(1.0, 2.0) == (1.5, 1.8)
    assert RuntimeBase.clean_leftovers(None) == [] and RuntimeBase.rollback_run(None, RunRecord.from_json({}), False) == []


def _protocol_members() -> dict[str, object]:
    members = {name: value for name, value in vars(Runtime).items() if not name.startswith("_")}
    return {**members, **{name: None for name in Runtime.__annotations__}}


@pytest.mark.parametrize("name", list(runtimes.REGISTRY))
def test_every_registered_runtime_satisfies_the_protocol(name):
    """Each member of the Protocol exists on the class, with the Protocol's parameters."""
    cls = runtimes.runtime_class(name)
    for member, declared in _protocol_members().items():
        assert hasattr(cls, member), f"{name} lacks {member}"
        if callable(declared) or isinstance(declared, classmethod):
            wanted = inspect.signature(inspect.unwrap(getattr(Runtime, member)))
            got = inspect.signature(getattr(cls, member))
            # A classmethod bound on the class drops `cls`; the Protocol's function keeps it.
            wanted_names = [p for p in wanted.parameters if p not in ("self", "cls")]
            got_names = [p for p in got.parameters if p not in ("self", "cls")]
            assert got_names == wanted_names, f"{name}.{member}{got} is not the Protocol's {wanted}"
    assert isinstance(cls.name, str) and isinstance(cls.record_key, str)


def _name_lists(tree: ast.AST, names: set[str]):
    """Tuple/list/set literals (and dict keys) in a module holding two or more runtime names."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        else:
            continue
        found = tuple(e.value for e in items if isinstance(e, ast.Constant) and e.value in names)
        if len(found) >= 2:
            yield node.lineno, found


def test_no_module_but_the_registry_lists_the_runtime_names():
    names = set(runtimes.REGISTRY)
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        if where == "runtimes/__init__.py":
            continue
        for line, listed in _name_lists(ast.parse(path.read_text(encoding="utf-8")), names):
            if (where, listed) not in NOT_RUNTIME_LISTS:
                found.append(f"orchestrator/{where}:{line} {listed}")
    assert found == [], "read orchestrator.runtimes.REGISTRY / CHOICES instead of listing runtimes"


def test_the_scan_finds_a_list_of_runtime_names():
    # The scan above must be able to fail: a hard-coded list in any form is seen.
    tree = ast.parse('RUNTIMES = ("local", "docker")\nMODULES = {"k8s": 1, "ssh": 2}\nx = ["local"]')
    assert [listed for _, listed in _name_lists(tree, set(runtimes.REGISTRY))] == [("local", "docker"), ("k8s", "ssh")]
