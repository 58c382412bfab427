"""Every hub tool is a model tool: hub operations and Python functions as :class:`BoundTool`.

A :class:`BoundTool` is a :class:`~patchwire.tools.ToolSpec` (what the model sees) and what
runs a call to it: an operation of a configured hub tool (a web operation, a CLI command,
an MCP tool; its schema and description are the ones ``list_tools()`` declares) or a plain
Python function (its signature and docstring). The model only ever sees the spec; the
binding stays on this side, so a call comes back to the operation it was offered for.

Names: a hub operation is offered as ``<tool>_<operation>`` made portable (letters, digits,
``_`` and ``-``, at most 64 characters, WIRE-RICH §1's safe set), so ``files.read`` on MCP
server ``fs`` is ``fs_files_read``; a name cut to fit keeps a short hash of the original
so two long names never meet, and a clash among the offered tools gets ``_2``, ``_3``.
The mapping back is the binding itself, never a reverse parse of the name.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from patchwire.parts import ToolCall, ToolResultPart
from patchwire.tools import ToolSpec, as_tool_specs

if TYPE_CHECKING:
    from patchwire.connector import ToolInfo
    from patchwire.model import Tool

__all__ = [
    "BoundTool",
    "ToolBox",
    "function_tool",
    "hub_tools",
    "portable_name",
    "resolve_tools",
]

_NAME_LIMIT = 64
#: longest result schema (as compact JSON) added to a description
_OUTPUT_SCHEMA_LIMIT = 2000
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

#: runs one call: takes the call and the seconds left (None: no deadline), returns its result
Runner = Callable[[ToolCall, float | None], Awaitable[ToolResultPart]]


def portable_name(*pieces: str) -> str:
    """``pieces`` joined by ``_`` as a name every provider accepts.

    Deterministic: the same pieces always give the same name, so a conversation replayed
    later offers the tools under the same names.
    """
    raw = "_".join(p for p in pieces if p)
    name = _UNSAFE.sub("_", raw) or "tool"
    if not (name[0].isalpha() or name[0] == "_"):
        name = "_" + name
    if len(name) > _NAME_LIMIT:
        digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        name = f"{name[: _NAME_LIMIT - 9]}_{digest}"
    return name


@attrs.frozen
class BoundTool:
    """A tool offered to a model and what runs it.

    ``spec`` is what the model sees; ``source`` says where the call goes (``web:search``,
    ``python:my_func``); ``needs_approval`` makes the run ask the application's approver
    before each call.
    """

    spec: ToolSpec
    runner: Runner = attrs.field(eq=False, repr=False)
    source: str = ""
    needs_approval: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    def renamed(self, name: str) -> BoundTool:
        spec = ToolSpec(name, self.spec.description, self.spec.parameters, self.spec.strict)
        return attrs.evolve(self, spec=spec)

    def approval(self, needed: bool = True) -> BoundTool:
        """This tool, asking (or no longer asking) the approver before each call."""
        return attrs.evolve(self, needs_approval=needed)


def _wants(name: str, selection: bool | Collection[str]) -> bool:
    return selection if isinstance(selection, bool) else name in selection


async def hub_tools(
    tool: Tool,
    *,
    operations: Collection[str] | None = None,
    needs_approval: bool | Collection[str] = False,
    timeout: float | None = None,
) -> tuple[BoundTool, ...]:
    """The operations ``tool`` lists, each as a model tool that calls it through the hub.

    ``operations`` keeps only the named ones (an unknown name is a ``ValueError`` listing
    the offered ones); ``needs_approval`` is True for all or the operations that need it.
    """
    infos = list(await tool.list(timeout=timeout))
    if operations is not None:
        known = {info.name for info in infos}
        unknown = sorted(set(operations) - known)
        if unknown:
            raise ValueError(
                f"tool {tool.name!r} offers no operation(s) {', '.join(unknown)};"
                f" it offers: {', '.join(sorted(known)) or 'none'}"
            )
        infos = [info for info in infos if info.name in operations]
    bound = []
    for info in infos:
        spec = ToolSpec(
            portable_name(tool.name, info.name),
            _description(tool.name, info),
            info.input_schema or {"type": "object", "properties": {}},
        )
        bound.append(
            BoundTool(
                spec,
                _hub_runner(tool, info.name),
                f"{tool.name}:{info.name}",
                _wants(info.name, needs_approval),
            )
        )
    return tuple(bound)


def _description(tool: str, info: ToolInfo) -> str:
    """The operation's own description; a declared result schema is told to the model too
    (no provider has a field for it), compactly and cut to a bound."""
    text = info.description or f"operation {info.name} of tool {tool}"
    if info.output_schema:
        shape = json.dumps(info.output_schema, separators=(",", ":"), sort_keys=True)
        if len(shape) <= _OUTPUT_SCHEMA_LIMIT:
            text = f"{text}\nReturns JSON matching: {shape}"
    return text


def _hub_runner(tool: Tool, operation: str) -> Runner:
    async def run(call: ToolCall, time_left: float | None) -> ToolResultPart:
        result = await tool.call_with(operation, call.arguments, timeout=time_left)
        return ToolResultPart.from_result(call, result)

    return run


def function_tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    needs_approval: bool = False,
) -> BoundTool:
    """A Python function as a model tool: its signature is the schema, its docstring the
    description; a call runs it (awaited when it is a coroutine function) with the
    arguments the model gave, and its return value is the result (text, or JSON)."""
    spec = ToolSpec.from_function(fn, name=name, description=description)

    async def run(call: ToolCall, time_left: float | None) -> ToolResultPart:
        value = fn(**call.arguments)
        if inspect.isawaitable(value):
            value = await value
        return ToolResultPart.for_call(call, "" if value is None else value)

    return BoundTool(spec, run, f"python:{getattr(fn, '__qualname__', spec.name)}", needs_approval)


@attrs.frozen
class ToolBox:
    """The tools of one request or run: the specs to send and the binding of each name."""

    specs: tuple[ToolSpec, ...]
    bound: Mapping[str, BoundTool] = attrs.field(factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.bound


def _is_hub_tool(item: object) -> bool:
    from patchwire.model import Tool

    return isinstance(item, Tool)


async def resolve_tools(items: Sequence[Any]) -> ToolBox:
    """``tools=`` as specs and bindings.

    Items: ``hub.tool(...)`` handles (every operation it lists), :class:`BoundTool` values
    or sequences of them (``await tool.as_tools()``), functions (bound: a run can call
    them), record types and :class:`ToolSpec` values (offered only: nothing runs them).
    Names are unique: a hub operation whose portable name is taken gets ``_2``...; two
    application tools with one name are a ``ValueError``.
    """
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise TypeError(
            "tools must be a list of hub tools, ToolSpec values, functions or record types"
        )
    bound: list[BoundTool] = []
    plain: list[Any] = []
    for item in items:
        if _is_hub_tool(item):
            bound.extend(await hub_tools(item))
        elif isinstance(item, BoundTool):
            bound.append(item)
        elif (
            isinstance(item, Sequence)
            and not isinstance(item, str | bytes)
            and all(isinstance(b, BoundTool) for b in item)
        ):
            bound.extend(item)
        elif callable(item) and not isinstance(item, type | ToolSpec):
            bound.append(function_tool(item))
        else:
            plain.append(item)
    specs = list(as_tool_specs(plain))
    taken = {s.name for s in specs}
    by_name: dict[str, BoundTool] = {}
    for tool in bound:
        if tool.name in taken and not tool.source.startswith("python:"):
            tool = tool.renamed(_free(tool.name, taken))
        elif tool.name in taken:
            raise ValueError(f"two tools share the name {tool.name!r}; give one another name")
        taken.add(tool.name)
        by_name[tool.name] = tool
        specs.append(tool.spec)
    return ToolBox(tuple(specs), by_name)


def _free(name: str, taken: Collection[str]) -> str:
    for n in range(2, 10_000):
        suffix = f"_{n}"
        candidate = name[: _NAME_LIMIT - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
    raise ValueError(f"too many tools named like {name!r}")


# --- declared argument types (CLI commands, web operations) ------------------------------

#: the JSON Schema types a configured argument may declare
ARGUMENT_TYPES = ("string", "integer", "number", "boolean")


@attrs.frozen
class ArgumentType:
    """What a configured tool's ``arguments`` table says of one argument: its JSON Schema
    ``type``, a ``description`` for the model, and the allowed values (``enum``)."""

    type: str = "string"
    description: str = ""
    enum: tuple[Any, ...] | None = None

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.description:
            out["description"] = self.description
        if self.enum is not None:
            out["enum"] = list(self.enum)
        return out

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not of this type (None when it is)."""
        ok = {
            "string": isinstance(value, str),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
        }[self.type]
        if not ok:
            return f"expected {self.type}, got {type(value).__name__}"
        if self.enum is not None and value not in self.enum:
            return f"expected one of {list(self.enum)}"
        return None


def parse_argument_types(
    raw: Mapping[str, Any], names: Collection[str], error: Callable[[str], Exception]
) -> dict[str, ArgumentType]:
    """An ``arguments`` table: ``name = "integer"`` or ``name = {type, description, enum}``.

    ``names`` are the arguments the template takes; ``error(message)`` builds the
    configuration error to raise (naming the table and key).
    """
    out: dict[str, ArgumentType] = {}
    for name, entry in raw.items():
        if name not in names:
            raise error(
                f"'{name}' is not an argument of this template; it takes:"
                f" {', '.join(sorted(names)) or 'no arguments'}"
            )
        spec = {"type": entry} if isinstance(entry, str) else entry
        if not isinstance(spec, Mapping) or set(spec) - {"type", "description", "enum"}:
            raise error(
                f"argument '{name}': give a type name or a table with type, description, enum"
            )
        kind = spec.get("type", "string")
        if kind not in ARGUMENT_TYPES:
            raise error(f"argument '{name}': type must be one of {', '.join(ARGUMENT_TYPES)}")
        description = spec.get("description", "")
        enum = spec.get("enum")
        if not isinstance(description, str) or not (enum is None or isinstance(enum, list)):
            raise error(f"argument '{name}': description is text and enum a list of values")
        declared = ArgumentType(kind, description, None if enum is None else tuple(enum))
        bad = [v for v in declared.enum or () if declared.problem(v) not in (None,)]
        if bad:
            raise error(f"argument '{name}': enum holds values that are not {kind}")
        out[str(name)] = declared
    return out


def arguments_schema(
    names: Collection[str],
    required: Collection[str],
    declared: Mapping[str, ArgumentType],
    default: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON Schema of a configured tool's arguments: declared types where given,
    ``default`` (e.g. ``{"type": "string"}``) for the rest."""
    return {
        "type": "object",
        "properties": {
            n: declared[n].schema() if n in declared else dict(default) for n in sorted(names)
        },
        "required": sorted(required),
    }
