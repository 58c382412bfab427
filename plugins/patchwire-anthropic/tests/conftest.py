"""Fixtures: a plugin host with the Anthropic plugin, a key, and the spec copy's validator.

The spec copy (a third-party copy of Anthropic's Stainless spec; JSON despite its .yaml
name) lives in the workspace's ``shared/specs`` beside the repository, or where
``PATCHWIRE_SPECS`` points.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from patchwire.plugins import PluginHost
from patchwire_anthropic.plugin import AnthropicPlugin

SPECS = Path(
    os.environ.get("PATCHWIRE_SPECS", Path(__file__).resolve().parents[3].parent / "shared/specs")
)
KEY = "sk-ant-sim-test-0000"


@pytest.fixture
def anthropic_host(plugin_host: PluginHost) -> PluginHost:
    plugin_host.register(AnthropicPlugin(), "anthropic")
    return plugin_host


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANTHROPIC_SIM_KEY", KEY)
    return KEY


@pytest.fixture(scope="session")
def validate() -> Callable[[str, Any], None]:
    """validate(schema_name, instance) against components/schemas of the spec copy."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    path = SPECS / "anthropic" / "openapi.yaml"
    if not path.is_file():
        pytest.skip(f"the Anthropic spec copy is not at {path} (set PATCHWIRE_SPECS)")
    spec = json.loads(path.read_text())
    registry = Registry().with_resource("urn:anthropic", Resource.opaque(spec))
    validators: dict[str, Draft202012Validator] = {}

    def check(name: str, instance: Any) -> None:
        if name not in validators:
            schema = {"$ref": f"urn:anthropic#/components/schemas/{name}"}
            validators[name] = Draft202012Validator(schema, registry=registry)
        errors = sorted(validators[name].iter_errors(instance), key=str)
        assert not errors, f"{name}: {errors[0].message} at {list(errors[0].absolute_path)}"

    return check


@pytest.fixture(scope="session")
def fits_spec(validate: Callable[[str, Any], None]) -> Callable[[Any], None]:
    """fits_spec(body): a request body against the spec copy (v195).

    ``output_config`` and a tool's ``strict`` are GA in SDK 2.17 (which sends
    2026-10-21) but only beta in this spec snapshot, so they are checked on their own
    against the beta schemas (``BetaJsonOutputFormat``, ``BetaOutputConfig``,
    ``BetaTool``) and the rest of the body against ``CreateMessageParams``; adaptive
    thinking, absent from the snapshot, is checked for its exact shape.
    """

    def check(body: Any) -> None:
        body = dict(body)
        config = body.pop("output_config", None)
        if config is not None:
            assert set(config) <= {"format", "effort"} and config, config
            if "format" in config:
                validate("BetaJsonOutputFormat", config["format"])
            if "effort" in config:
                validate("BetaOutputConfig", {"effort": config["effort"]})
        if body.get("thinking") == {"type": "adaptive"}:
            body.pop("thinking")  # SDK 2.17 GA; not in the v195 snapshot at all
        tools = []
        for tool in body.get("tools", ()):
            if "strict" in tool:
                validate("BetaTool", tool)
                tool = {k: v for k, v in tool.items() if k != "strict"}
            tools.append(tool)
        if tools:
            body["tools"] = tools
        validate("CreateMessageParams", body)

    return check
