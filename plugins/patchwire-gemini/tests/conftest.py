"""Fixtures for the Gemini plugin's tests: the Gemini OpenAPI spec as a JSON-schema validator.

The spec is the copy of Google's OpenAPI export kept beside the repository
(``../shared/specs/gemini/openapi.json``; ``PATCHWIRE_SPECS`` points elsewhere). Google's
schemas allow unknown properties, which would let a misspelt field pass unseen, so every
object schema is closed (``additionalProperties: false``) before validating.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

_SPEC_URI = "urn:patchwire:gemini-openapi"


def _spec_path() -> Path:
    root = os.environ.get("PATCHWIRE_SPECS")
    base = Path(root) if root else Path(__file__).resolve().parents[3].parent / "shared" / "specs"
    return base / "gemini" / "openapi.json"


def _close(schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties")
    if isinstance(properties, dict):
        schema.setdefault("additionalProperties", False)
        for sub in properties.values():
            _close(sub)
    for key in ("items", "additionalProperties"):
        _close(schema.get(key))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or ():
            _close(sub)


class GeminiSpec:
    """Validates instances against ``#/components/schemas/NAME`` of the closed spec."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        from jsonschema import Draft7Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT7

        self._registry: Registry[Any] = Registry().with_resource(
            _SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT7)
        )
        self._validators: dict[str, Any] = {}
        self._cls = Draft7Validator
        self.schemas = spec["components"]["schemas"]

    def validate(self, name: str, instance: Any) -> None:
        if name not in self.schemas:
            raise KeyError(f"the Gemini spec has no schema {name!r}")
        validator = self._validators.get(name)
        if validator is None:
            validator = self._cls(
                {"$ref": f"{_SPEC_URI}#/components/schemas/{name}"}, registry=self._registry
            )
            self._validators[name] = validator
        validator.validate(instance)


@pytest.fixture(scope="session")
def gemini_spec() -> GeminiSpec:
    pytest.importorskip("jsonschema")
    path = _spec_path()
    if not path.is_file():
        pytest.skip(f"the Gemini spec copy is not at {path} (set PATCHWIRE_SPECS)")
    spec = json.loads(path.read_text(encoding="utf-8"))
    for schema in spec["components"]["schemas"].values():
        _close(schema)
    return GeminiSpec(spec)
