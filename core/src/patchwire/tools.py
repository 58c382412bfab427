"""Tools offered to a model: :class:`ToolSpec` and how one is built from Python.

A tool is a name, a description and the JSON Schema of its arguments. Pass
``tools=[...]`` to ``complete``/``stream`` as ``ToolSpec`` values, plain functions (the
signature gives the schema, the docstring the description and, from an ``Args:`` or
``:param x:`` section, each argument's description), or record types (attrs, dataclass,
``TypedDict``, pydantic): the type's fields are the arguments and its name the tool's.

``ToolSpec`` is not ``patchwire.Tool``: that name is the handle on a configured tool
connector (``hub.tool("web")``), which calls a tool; a spec only describes one to a model.

``tool_choice`` is ``"auto"`` (the model decides), ``"none"`` (no calls), ``"required"``
(at least one call) or the name of one offered tool (exactly that one).
``parallel_tool_calls=False`` allows at most one call per turn.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from patchwire.errors import IntegrationError
from patchwire.schema import schema_for

__all__ = [
    "TOOL_CHOICES",
    "ToolArgumentsError",
    "ToolSpec",
    "as_tool_specs",
    "check_tool_choice",
    "parse_arguments",
]

TOOL_CHOICES = ("auto", "none", "required")
#: accepted by OpenAI, Anthropic and Gemini alike (WIRE-RICH §1, "Portable safe set")
_PORTABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_PARAM_LINE = re.compile(r"^\s*(?::param\s+)?\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _schema_copy(value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping) or value.get("type", "object") != "object":
        raise ValueError('a tool\'s parameters must be a JSON Schema with "type": "object"')
    return dict(value)


@attrs.frozen
class ToolSpec:
    """A tool as a model sees it.

    ``parameters`` is a JSON Schema object (``{"type": "object", ...}``). ``strict`` asks
    providers that can for constrained decoding of the arguments (OpenAI ``strict``,
    Anthropic ``strict``); a connector sends it only where the schema fits that provider's
    strict subset.
    """

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = attrs.field(
        factory=lambda: {"type": "object", "properties": {}}, converter=_schema_copy, hash=False
    )
    strict: bool = False

    def __attrs_post_init__(self) -> None:
        if not _PORTABLE_NAME.match(self.name):
            raise ValueError(
                f"tool name {self.name!r} is not portable: use letters, digits, '_' and '-',"
                " starting with a letter or '_', at most 64 characters"
            )

    @classmethod
    def from_function(
        cls, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
    ) -> ToolSpec:
        """From a function's signature and docstring (``self``, ``*args`` and ``**kwargs`` are skipped)."""
        summary, params = _docstring(inspect.getdoc(fn) or "")
        hints = _hints(fn)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for param in inspect.signature(fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in (
                "self",
                "cls",
            ):
                continue
            schema = schema_for(hints.get(param.name, Any))
            if param.name in params:
                schema["description"] = params[param.name]
            properties[param.name] = schema
            if param.default is param.empty:
                required.append(param.name)
        parameters = {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }
        return cls(name or fn.__name__, description or summary, parameters)

    @classmethod
    def from_info(cls, info: Any, *, name: str | None = None) -> ToolSpec:
        """From an operation a hub tool lists (``await hub.tool("web").list()``).

        ``name`` renames it: MCP and namespaced names (``files.read``, ``a/b``) do not pass
        every provider, so give a portable one and map calls back by it.
        """
        schema = info.input_schema or {"type": "object", "properties": {}}
        return cls(name or info.name, info.description or "", schema)

    @classmethod
    def from_type(
        cls, tp: type, *, name: str | None = None, description: str | None = None
    ) -> ToolSpec:
        """From a record type: its fields are the arguments, its docstring the description."""
        schema = schema_for(tp)
        if schema.get("type") != "object":
            raise ValueError(f"{tp!r} does not describe a JSON object, so it cannot be a tool")
        desc = description or schema.pop("description", "") or ""
        schema.pop("title", None)
        return cls(name or tp.__name__, desc, schema)


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(fn)
    except Exception as exc:  # an annotation naming something not importable
        raise TypeError(f"cannot read the annotations of {fn!r}: {exc}") from None


def _docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph, and argument descriptions from Google or Sphinx style sections."""
    paragraphs = doc.strip().split("\n\n")
    summary = " ".join(paragraphs[0].split()) if paragraphs and paragraphs[0] else ""
    params: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
            continue
        if stripped.endswith(":") and stripped[:-1] in ("Returns", "Raises", "Yields"):
            in_args = False
            continue
        match = _PARAM_LINE.match(line)
        if match and (in_args or stripped.startswith(":param")):
            params[match.group(1)] = match.group(2).strip()
    if summary.startswith(":param") or summary in ("Args:", "Arguments:"):
        summary = ""
    return summary, params


def as_tool_specs(tools: Sequence[Any]) -> tuple[ToolSpec, ...]:
    """The ``tools=`` argument as specs: ToolSpec values, functions or record types."""
    if isinstance(tools, str | bytes) or not isinstance(tools, Sequence):
        raise TypeError("tools must be a list of ToolSpec values, functions or record types")
    specs: list[ToolSpec] = []
    for item in tools:
        if isinstance(item, ToolSpec):
            specs.append(item)
        elif isinstance(getattr(item, "spec", None), ToolSpec):  # a BoundTool (run_tools)
            specs.append(item.spec)
        elif isinstance(item, type):
            specs.append(ToolSpec.from_type(item))
        elif callable(item):
            specs.append(ToolSpec.from_function(item))
        else:
            raise TypeError(
                f"cannot offer {item!r} as a tool: pass a ToolSpec, a function or a record type"
            )
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"two tools share the name(s) {', '.join(duplicates)}")
    return tuple(specs)


def check_tool_choice(choice: str | None, tools: Sequence[ToolSpec]) -> None:
    """Refuse a ``tool_choice`` that is not auto/none/required or an offered tool's name."""
    if choice is None or choice in TOOL_CHOICES:
        if choice in ("required",) and not tools:
            raise ValueError("tool_choice='required' needs tools=")
        return
    if not isinstance(choice, str):
        raise TypeError(f"tool_choice must be a string, got {type(choice).__name__}")
    if choice not in {t.name for t in tools}:
        offered = ", ".join(t.name for t in tools) or "none"
        raise ValueError(
            f"tool_choice {choice!r} is neither auto, none, required nor an offered tool"
            f" (offered: {offered})"
        )


class ToolArgumentsError(IntegrationError):
    """A tool call whose arguments are not a JSON object; ``raw_arguments`` keeps the text."""

    def __init__(self, message: str, raw_arguments: str, **kwargs: Any) -> None:
        super().__init__(message, details=f"raw arguments: {raw_arguments[:2000]}", **kwargs)
        self.raw_arguments = raw_arguments


def parse_arguments(name: str, raw: str) -> dict[str, Any]:
    """A call's JSON argument text as a dict (empty text means no arguments)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ToolArgumentsError(
            f"the arguments of the call to tool {name!r} are not valid JSON ({exc})", raw
        ) from None
    if not isinstance(value, dict):
        raise ToolArgumentsError(
            f"the arguments of the call to tool {name!r} are a JSON {type(value).__name__},"
            " not an object",
            raw,
        )
    return value
