"""The JSON Schema of perfctl.yaml (`perfctl schema`), for editors that complete and check it."""

from __future__ import annotations

import json

from orchestrator.config.model import Config


def json_schema() -> dict:
    schema = Config.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "perfctl.yaml"
    return schema


def dump_schema() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"
