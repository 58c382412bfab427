"""``{name}`` placeholders in configured templates (CLI argv items, web URLs and bodies).

One parser for every connector that lets configuration declare templates, so ``{{`` and
``}}`` mean literal braces everywhere and a lone brace is reported the same way.
"""

from __future__ import annotations

import re

import attrs

__all__ = ["Field", "Part", "TemplateError", "parse_placeholders"]

# ``{{`` and ``}}`` are literal braces; any other lone brace is a mistake worth reporting.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")


class TemplateError(ValueError):
    """A template that cannot be parsed; the message says where."""


@attrs.frozen(slots=True)
class Field:
    name: str


Part = str | Field


def parse_placeholders(text: str) -> tuple[Part, ...]:
    """The literal text and placeholders of one template string, in order."""
    parts: list[Part] = []
    literal: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        literal.append(text[pos : match.start()])
        token = match.group(0)
        if token == "{{":
            literal.append("{")
        elif token == "}}":
            literal.append("}")
        elif match.group(1) is not None:
            if "".join(literal):
                parts.append("".join(literal))
            literal = []
            parts.append(Field(match.group(1)))
        else:
            raise TemplateError(
                f"unmatched '{token}' at position {match.start()} of {text!r}; placeholders"
                " look like {name} (a letter or _ then letters, digits or _), and a literal"
                " brace is written {{ or }}"
            )
        pos = match.end()
    literal.append(text[pos:])
    if "".join(literal):
        parts.append("".join(literal))
    return tuple(parts)
