"""Templates for declared operations: URLs, headers and bodies with ``{name}`` placeholders.

In a URL every value is percent-encoded whole (``/``, ``?``, ``&``, ``#`` included), so an
argument can never add a path segment, a query parameter or a fragment, and placeholders
may not stand in the scheme or host at all. A header value may not hold a line break. In a
JSON body a string that is exactly one placeholder takes the argument's value as it is
(a number stays a number, a list a list); elsewhere values are written as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs
from patchwire.errors import InvalidRequestError
from patchwire.placeholders import Field, Part, TemplateError, parse_placeholders

__all__ = [
    "Field",
    "Template",
    "TemplateError",
    "json_fields",
    "render_json",
    "scalar_text",
]

_parse = parse_placeholders


def scalar_text(name: str, value: Any) -> str:
    """An argument as text; only strings, numbers and booleans have one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidRequestError(
        f"argument '{name}' must be a string, a number or a boolean here, got {type(value).__name__}"
    )


@attrs.frozen
class Template:
    parts: tuple[Part, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        return cls(_parse(text))

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(p.name for p in self.parts if isinstance(p, Field))

    @property
    def literal_prefix(self) -> str:
        """The text before the first placeholder."""
        out = []
        for part in self.parts:
            if isinstance(part, Field):
                break
            out.append(part)
        return "".join(out)

    @property
    def whole_field(self) -> str | None:
        """The placeholder's name when the template is exactly one placeholder."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Field):
            return self.parts[0].name
        return None

    def render_url(self, values: Mapping[str, Any]) -> str:
        return "".join(
            p if isinstance(p, str) else quote(scalar_text(p.name, values[p.name]), safe="")
            for p in self.parts
        )

    def render_text(self, values: Mapping[str, Any]) -> str:
        return "".join(
            p if isinstance(p, str) else scalar_text(p.name, values[p.name]) for p in self.parts
        )


def json_fields(template: Any) -> frozenset[str]:
    """Every placeholder in a JSON body template (strings anywhere inside it; keys are literal)."""
    if isinstance(template, str):
        return Template.parse(template).fields
    if isinstance(template, Mapping):
        return frozenset().union(*(json_fields(v) for v in template.values()))
    if isinstance(template, list | tuple):
        return frozenset().union(*(json_fields(v) for v in template))
    return frozenset()


def render_json(template: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(template, str):
        parsed = Template.parse(template)
        whole = parsed.whole_field
        return values[whole] if whole is not None else parsed.render_text(values)
    if isinstance(template, Mapping):
        return {key: render_json(value, values) for key, value in template.items()}
    if isinstance(template, list | tuple):
        return [render_json(value, values) for value in template]
    return template
