"""Every hub tool is a model tool: a web operation, a CLI command, an MCP tool and a Python
function give the same kind of ToolSpec, under names every provider accepts, with the
tool's own description and declared argument types; a call maps back to what it names."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire import ToolCall
from patchwire.connector import ToolInfo
from patchwire.errors import ConfigError, InvalidRequestError
from patchwire.hub import Hub
from patchwire.run_tools import BoundTool, function_tool, portable_name, resolve_tools
from patchwire.tools import _PORTABLE_NAME

CLI = {
    "type": "cli",
    "commands": {
        "repeat": {
            "argv": [
                sys.executable,
                "-c",
                "import sys; print(sys.argv[1] * int(sys.argv[2]))",
                "{text}",
                "{count}",
            ],
            "description": "the text, count times",
            "arguments": {
                "count": "integer",
                "text": {"type": "string", "description": "what to repeat", "enum": ["a", "b"]},
            },
        }
    },
}
WEB = {
    "type": "web",
    "base_url": "http://127.0.0.1:9",
    "allow_private": True,
    "operations": {
        "weather": {
            "url": "/w?city={city}&days={days}",
            "description": "the sky in a city",
            "arguments": {"days": {"type": "integer", "description": "how many days"}},
        }
    },
}


def shout(text: str, times: int = 1) -> str:
    """Shout the text.

    Args:
        text: what to shout
    """
    return text.upper() * times


def hub(**connectors: Any) -> Hub:
    return Hub.from_dict({"connectors": connectors})


async def test_cli_web_and_function_tools_give_one_kind_of_spec_with_declared_types() -> None:
    async with hub(cli=CLI, web=WEB) as h:
        box = await resolve_tools([h.tool("cli"), h.tool("web"), shout])
    specs = {s.name: s for s in box.specs}
    assert set(specs) == {"cli_repeat", "web_fetch", "web_weather", "shout"}
    repeat = specs["cli_repeat"].parameters
    assert repeat["properties"] == {
        "count": {"type": "integer"},
        "text": {"type": "string", "description": "what to repeat", "enum": ["a", "b"]},
    }
    assert repeat["required"] == ["count", "text"]
    weather = specs["web_weather"].parameters["properties"]
    assert weather == {"city": {}, "days": {"type": "integer", "description": "how many days"}}
    assert specs["cli_repeat"].description == "the text, count times"
    assert specs["shout"].description == "Shout the text."
    assert box.bound["cli_repeat"].source == "cli:repeat"
    assert box.bound["shout"].source.startswith("python:")


async def test_a_call_maps_back_to_its_command_and_declared_types_are_checked() -> None:
    async with hub(cli=CLI) as h:
        (repeat,) = await h.tool("cli").as_tools()
        result = await repeat.runner(ToolCall("c1", repeat.name, {"text": "a", "count": 3}), 10.0)
        assert result.text.strip() == "aaa" and result.call_id == "c1"
        with pytest.raises(InvalidRequestError, match="argument 'count': expected integer"):
            await repeat.runner(ToolCall("c2", repeat.name, {"text": "a", "count": "3"}), 10.0)
        with pytest.raises(InvalidRequestError, match="expected one of"):
            await repeat.runner(ToolCall("c3", repeat.name, {"text": "c", "count": 1}), 10.0)


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"nope": "integer"}, "'nope' is not an argument"),
        ({"count": "float"}, "type must be one of"),
        ({"count": {"type": "integer", "enum": ["x"]}}, "enum holds values that are not integer"),
    ],
)
def test_a_bad_arguments_table_is_refused_at_load_naming_it(arguments: Any, says: str) -> None:
    table = {**CLI, "commands": {"repeat": {**CLI["commands"]["repeat"], "arguments": arguments}}}
    with pytest.raises(ConfigError, match=says) as info:
        hub(cli=table)
    assert "arguments" in str(info.value)


def test_an_mcp_tool_keeps_its_schema_and_states_its_result_shape() -> None:
    from patchwire.run_tools import _description

    info = ToolInfo(
        "files.read",
        "read a file",
        {"type": "object", "properties": {"path": {"type": "string"}}},
        {"type": "object", "properties": {"text": {"type": "string"}}},
    )
    assert portable_name("fs", info.name) == "fs_files_read"
    text = _description("fs", info)
    assert text.startswith("read a file\nReturns JSON matching: {")


@given(st.lists(st.text(min_size=0, max_size=90), min_size=1, max_size=3))
def test_portable_names_are_valid_for_every_provider_and_deterministic(pieces: list[str]) -> None:
    name = portable_name(*pieces)
    assert _PORTABLE_NAME.match(name), name
    assert portable_name(*pieces) == name


async def test_names_that_clash_are_made_unique_and_two_functions_with_one_name_refused() -> None:
    async def noop(call: ToolCall, left: float | None) -> Any:
        raise AssertionError

    from patchwire.tools import ToolSpec

    first = BoundTool(ToolSpec("web_weather"), noop, "web:weather")
    second = BoundTool(ToolSpec("web_weather"), noop, "other:weather")
    box = await resolve_tools([first, second])
    assert [s.name for s in box.specs] == ["web_weather", "web_weather_2"]
    assert box.bound["web_weather_2"].source == "other:weather"
    with pytest.raises(ValueError, match="share the name"):
        await resolve_tools([function_tool(shout), function_tool(shout)])


async def test_a_stream_offers_bound_hub_tools_by_their_specs(
    plugin_host, virtual_clock, fake_scripts
) -> None:
    from patchwire.testing import FakeScript

    script = fake_scripts.setdefault("fake", FakeScript())
    async with Hub.from_dict({}, host=plugin_host, clock=virtual_clock) as h:
        bound = await h.tool("fake").as_tools()
        chunks = [c async for c in h.model("fake:m").stream("hi", tools=list(bound))]
    assert chunks and [t.name for t in script.calls[0].request.tools] == ["fake_echo"]


@pytest.mark.parametrize("how", ["complete", "stream"])
async def test_complete_and_stream_offer_hub_tool_handles_and_functions(
    plugin_host, virtual_clock, fake_scripts, how: str
) -> None:
    """`tools=[hub.tool(...), my_func]` works as it does for run(): the handle's operations
    are listed (awaited) before the request is sent, a stream included."""
    from patchwire.testing import FakeScript

    script = fake_scripts.setdefault("fake", FakeScript())
    async with Hub.from_dict({}, host=plugin_host, clock=virtual_clock) as h:
        model, tools = h.model("fake:m"), [h.tool("fake"), shout]
        if how == "complete":
            await model.complete("hi", tools=tools)
        else:
            stream = model.stream("hi", tools=tools)
            async for _ in stream:
                break  # stopping early closes the pipeline's stream with it
    assert [t.name for t in script.calls[0].request.tools] == ["fake_echo", "shout"]
