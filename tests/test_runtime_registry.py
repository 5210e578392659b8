"""The one list of runtimes (orchestrator/runtimes/__init__.py) and the one shape they share."""

import inspect

import pytest

from orchestrator import runtimes
from orchestrator.errors import UsageError
from orchestrator.runtimes.base import RuntimeBase


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
    assert runtimes.chosen("local", instances=3) == "segments"
    assert runtimes.chosen("local", instances=2, hosts=("a@h1", "a@h2")) == "ssh"
    assert runtimes.chosen("k8s", instances=4) == "k8s"  # the operator splits it
    with pytest.raises(UsageError, match=r"--runtime segments: not available .*\(available: local, docker, k8s\)"):
        runtimes.chosen("segments")


def test_recover_knows_where_k6_ran_from_the_record():
    assert runtimes.ran_elsewhere({"runtime": "local", "k6": {"pid": 1}}) is None
    assert runtimes.ran_elsewhere({"runtime": "docker", "k6": {"container": "c"}}) is None
    assert runtimes.ran_elsewhere({"runtime": "k8s"}) == "in Kubernetes (k6-operator)"
    assert runtimes.ran_elsewhere({"runtime": "local", "k6": {"hosts": [{"host": "u@h1"}, {"host": "u@h2"}]}}) == (
        "on other hosts (u@h1, u@h2)")


def test_defaults_of_the_base_class():
    base = RuntimeBase()
    assert base.window(1.0, 2.0) == (1.0, 2.0) and base.details() == {}
    base.ran = (1.5, 1.8)
    assert base.window(1.0, 2.0) == (1.5, 1.8)
    assert RuntimeBase.clean_leftovers(None) == [] and RuntimeBase.rollback_run(None, {}, False) == []
