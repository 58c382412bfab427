"""Structured output: ``output=`` a JSON Schema or a type, and the reply's ``parsed`` value.

``OutputSpec`` is what a connector receives: ``schema`` (JSON Schema, an object at the
root for the providers that require one), ``name`` (OpenAI's ``json_schema.name``) and,
when the caller gave a type, that type. After the reply comes back, core checks its text
against the schema with :func:`patchwire.schema.validate` and, for a type, builds an
instance; a reply that is not JSON or does not validate is an
:class:`OutputValidationError` (category ``integration``) that keeps the raw text and the
validation message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from patchwire.errors import IntegrationError
from patchwire.schema import build, schema_for, validate

__all__ = ["OutputSpec", "OutputValidationError", "as_output", "parse_output"]

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def _schema_copy(value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"an output schema must be a JSON Schema dict, got {type(value).__name__}")
    return dict(value)


@attrs.frozen
class OutputSpec:
    """The shape the reply must have: a JSON Schema, and the Python type it came from (if any)."""

    schema: Mapping[str, Any] = attrs.field(converter=_schema_copy, hash=False)
    name: str = "output"
    type: Any = attrs.field(default=None, eq=False, repr=False)

    def cache_form(self) -> dict[str, Any]:
        """What the cache key reads: the schema and name (the Python type is not JSON)."""
        return {"schema": self.schema, "name": self.name}


def as_output(output: Any) -> OutputSpec:
    """``output=`` as an :class:`OutputSpec`: a spec, a JSON Schema dict, or a type."""
    if isinstance(output, OutputSpec):
        return output
    if isinstance(output, Mapping):
        title = output.get("title")
        name = _NAME_CHARS.sub("_", title)[:64] if isinstance(title, str) and title else "output"
        return OutputSpec(output, name)
    schema = schema_for(output)
    schema.pop("title", None)
    raw_name = getattr(output, "__name__", None) or "output"
    return OutputSpec(schema, _NAME_CHARS.sub("_", raw_name)[:64], output)


class OutputValidationError(IntegrationError):
    """The reply does not match the requested output schema.

    ``raw_text`` is the reply's text as received and ``validation_message`` what was wrong.
    """

    def __init__(self, message: str, raw_text: str, validation_message: str, **kwargs: Any) -> None:
        super().__init__(message, details=f"raw text: {raw_text[:2000]}", **kwargs)
        self.raw_text = raw_text
        self.validation_message = validation_message


def parse_output(spec: OutputSpec, text: str, *, connector: str = "", model: str = "") -> Any:
    """The reply text as the validated value (an instance of ``spec.type`` when there is one)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise OutputValidationError(
            f"the reply is not JSON, though output {spec.name!r} was requested ({exc})",
            text,
            str(exc),
            connector=connector,
            model=model,
        ) from None
    problem = validate(spec.schema, value)
    if problem is not None:
        raise OutputValidationError(
            f"the reply does not match output schema {spec.name!r}: {problem}",
            text,
            problem,
            connector=connector,
            model=model,
        )
    return value if spec.type is None else build(spec.type, value)
