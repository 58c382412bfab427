"""Fixtures for the OpenAI plugin's tests: a plugin host with the plugin, and the OpenAI spec.

The spec (openai-openapi 2.3.0, 3.4 MB) lives in the workspace's ``shared/specs`` next to
the repository; ``PATCHWIRE_OPENAI_SPEC`` points elsewhere. It is loaded once per session.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from patchwire.plugins import PluginHost
from patchwire_openai.plugin import OpenAIPlugin

SPEC_URI = "urn:openai-openapi"
DEFAULT_SPEC = Path(__file__).resolve().parents[3].parent / "shared/specs/openai/openapi.json"

Validate = Callable[[str, Any], None]


@pytest.fixture
def openai_host(plugin_host: PluginHost) -> PluginHost:
    plugin_host.register(OpenAIPlugin(), "openai")
    return plugin_host


@pytest.fixture
def sim_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_SIM_KEY", "sk-sim-test-0000")
    return "sk-sim-test-0000"


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true``, which some of the 3.1 spec still uses, as JSON Schema."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    if node.get("nullable") is not True:
        return node
    del node["nullable"]
    if isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
        return node
    return {"anyOf": [node, {"type": "null"}]}


@pytest.fixture(scope="session")
def openai_spec() -> dict[str, Any]:
    path = Path(os.environ.get("PATCHWIRE_OPENAI_SPEC", DEFAULT_SPEC))
    if not path.is_file():
        pytest.skip(f"the OpenAI spec is not at {path} (set PATCHWIRE_OPENAI_SPEC)")
    spec: dict[str, Any] = _nullable(json.loads(path.read_text()))
    return spec


@pytest.fixture(scope="session")
def validate(openai_spec: dict[str, Any]) -> Validate:
    """``validate(schema_name, instance)``: raise unless ``instance`` fits the spec's schema."""
    import jsonschema
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, DRAFT202012.create_resource(openai_spec)
    )
    validators: dict[str, jsonschema.Draft202012Validator] = {}

    def check(schema_name: str, instance: Any) -> None:
        if schema_name not in openai_spec["components"]["schemas"]:
            raise KeyError(f"the spec has no schema {schema_name}")
        validator = validators.get(schema_name)
        if validator is None:
            schema = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
            validator = validators[schema_name] = jsonschema.Draft202012Validator(
                schema, registry=registry
            )
        validator.validate(instance)

    return check
