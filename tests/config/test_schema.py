"""`perfctl schema` accepts what `perfctl validate` accepts: an editor that checks perfctl.yaml
against it must never mark a valid file red. (conftest also checks every config a test
validates in-process against the same schema.)"""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from orchestrator.commands.init import EXAMPLES
from orchestrator.config.load import load_config
from tests.conftest import run_cli

EXAMPLE_CONFIGS = sorted(EXAMPLES.glob("*/perfctl.yaml"))


@pytest.fixture(scope="module")
def schema_validator(tmp_path_factory):
    printed = run_cli("schema", cwd=tmp_path_factory.mktemp("schema"))  # what an editor is given
    assert printed.code == 0, printed.output
    return jsonschema.Draft202012Validator(json.loads(printed.stdout))


@pytest.mark.parametrize("path", EXAMPLE_CONFIGS, ids=lambda p: p.parent.name)
def test_every_shipped_example_passes_validate_and_the_schema(path, schema_validator):
    load_config(path, environ={})  # validate's own check: raises on any problem
    raw = yaml.safe_load(path.read_text())  # as the editor sees it: ${VAR} not yet filled in
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in schema_validator.iter_errors(raw)]
    assert errors == []


def test_examples_are_all_there():
    assert {p.parent.name for p in EXAMPLE_CONFIGS} >= {"demo", "chat4all", "featherweight", "ywmessaging", "aiaas", "temponest"}


def test_auth_steps_may_omit_their_name(schema_validator):
    config = {
        "scenarios": {"s": {"duration": "5s", "requests": [{"name": "r", "path": "/"}],
                            "auth": {"register": {"method": "POST", "path": "/register"},
                                     "login": {"method": "POST", "path": "/login"}}}},
    }
    assert list(schema_validator.iter_errors(config)) == []


def test_a_profile_by_name_alone_passes_both(schema_validator):
    # `profile: smoke` is shorthand for `profile: {name: smoke}`: validate takes it, so must the schema.
    from orchestrator.config.load import validate_data

    for profile in ("smoke", {"name": "smoke"}):
        config = {"scenarios": {"s": {"profile": profile, "requests": [{"name": "r", "path": "/"}]}}}
        assert list(schema_validator.iter_errors(config)) == []
        assert validate_data(config).scenarios["s"].profile.name == "smoke"
    assert list(schema_validator.iter_errors({"scenarios": {"s": {"profile": "nap"}}}))


def test_schema_still_rejects_what_validate_rejects(schema_validator):
    # The schema is not a blank cheque: an unknown key or a wrong type stays red.
    assert list(schema_validator.iter_errors({"scenarioz": {}}))
    assert list(schema_validator.iter_errors({"scenarios": {"s": {"vus": "many"}}}))
