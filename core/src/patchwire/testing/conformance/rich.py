"""Rich calls: ``tools`` and ``structured_output``, for connectors that claim them.

The server (the simulator) decides which tools the model calls and with which arguments,
and writes a JSON answer for an output schema; the checks compare what the result holds
with what it sent, and that the request carried the tools and the schema natively.
"""

from __future__ import annotations

import json
from typing import Any

from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.conformance.harness import Run, SimulatedSuite
from patchwire.testing.conformance.rules import require
from patchwire.tools import ToolSpec

__all__ = ["StructuredOutputConformance", "ToolsConformance"]

WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CLOCK = ToolSpec(
    "get_time",
    "The local time in a city",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "hour24": {"type": "boolean"}},
        "required": ["city", "hour24"],
    },
)
ANSWER = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
    "required": ["answer", "confidence"],
    "additionalProperties": False,
}
ASK = "What is the weather and the time in Paris?"


def _calls(parts: Any) -> list[tuple[str, Any]]:
    return [(c.name, dict(c.arguments)) for c in parts]


class ToolsConformance(SimulatedSuite):
    """Subclass with ``plugin``, ``wire`` and ``model`` for a connector claiming ``tools``."""

    operation = "complete"

    def _sent_tools(self, run: Run) -> tuple[list[str], list[tuple[str, Any]]]:
        record = run.records[-1]
        offered = [t.name for t in record.request.tools] if record.request is not None else []
        reply = record.reply
        made = [(c.name, json.loads(c.arguments)) for c in reply.tool_calls] if reply else []
        return offered, made

    def _check_sent(self, run: Run, error: Any = None) -> list[tuple[str, Any]]:
        offered, made = self._sent_tools(run)
        require(
            offered == [WEATHER.name, CLOCK.name],
            "tools-sent",
            expected=f"the request offers {[WEATHER.name, CLOCK.name]} in the provider's shape",
            observed=f"the server read tools {offered}",
            frame=run.frame(error),
        )
        return made

    async def test_tool_calls_are_what_the_server_sent(self, conformance_host: PluginHost) -> None:
        async with self.run(conformance_host) as run:
            model = run.hub.model(f"{self.connector_name}:{self.model}")
            error = await run.error_of(
                model.complete(ASK, tools=[WEATHER, CLOCK], tool_choice="required", max_tokens=256)
            )
            made = self._check_sent(run, error)
            require(
                error is None,
                "claimed-works",
                expected="a completion with tool calls",
                observed=str(error),
                frame=run.frame(error),
            )
            result = await model.complete(
                ASK, tools=[WEATHER, CLOCK], tool_choice="required", max_tokens=256
            )
            made = self._check_sent(run)
            got = _calls(result.tool_calls)
            ids = [c.id for c in result.tool_calls]
            require(
                got == made
                and result.finish_reason == "tool_calls"
                and all(isinstance(i, str) and i for i in ids)
                and len(set(ids)) == len(ids),
                "faithful-tool-calls",
                expected=f"calls {made} in order, distinct ids, finish_reason 'tool_calls'",
                observed=f"calls {got}, ids {ids}, finish_reason {result.finish_reason!r}",
                frame=run.frame(),
            )

    async def test_streamed_tool_calls_are_what_the_server_sent(
        self, conformance_host: PluginHost
    ) -> None:
        async with self.run(conformance_host) as run:
            model = run.hub.model(f"{self.connector_name}:{self.model}")
            chunks = [
                c
                async for c in model.stream(
                    ASK, tools=[WEATHER, CLOCK], tool_choice="required", max_tokens=256
                )
            ]
            made = self._check_sent(run)
            got = _calls(chunks[-1].tool_calls) if chunks else []
            require(
                got == made,
                "faithful-tool-calls",
                expected=f"the final chunk's parts carry the calls {made}",
                observed=f"{got}",
                frame=run.frame(),
            )

    async def test_tool_choice_none_answers_in_text(self, conformance_host: PluginHost) -> None:
        async with self.run(conformance_host) as run:
            model = run.hub.model(f"{self.connector_name}:{self.model}")
            result = await model.complete(
                ASK, tools=[WEATHER, CLOCK], tool_choice="none", max_tokens=64
            )
            sent = run.records[-1].reply
            require(
                not result.tool_calls and result.text == sent.text,
                "faithful-tool-calls",
                expected=f"no calls and the server's text {sent.text!r} (tool_choice='none')",
                observed=f"calls {_calls(result.tool_calls)}, text {result.text!r}",
                frame=run.frame(),
            )


class StructuredOutputConformance(SimulatedSuite):
    """Subclass with ``plugin``, ``wire`` and ``model`` for a connector claiming
    ``structured_output``."""

    operation = "complete"

    async def invoke(self, hub: Hub) -> Any:
        model = hub.model(f"{self.connector_name}:{self.model}")
        return await model.complete("Answer with confidence.", output=ANSWER, max_tokens=512)

    async def test_parsed_is_what_the_server_sent(self, conformance_host: PluginHost) -> None:
        async with self.run(conformance_host) as run:
            error = await run.error_of(self.invoke(run.hub))
            request = run.records[-1].request if run.records else None
            schema = request.output_schema if request is not None else None
            require(
                schema is not None,
                "structured-sent",
                expected="the output schema sent with the provider's native mechanism",
                observed="the server read no output schema",
                frame=run.frame(error),
            )
            require(
                error is None,
                "claimed-works",
                expected="a completion parsed against the schema",
                observed=str(error),
                frame=run.frame(error),
            )
            result = await self.invoke(run.hub)
            sent = run.records[-1].reply
            require(
                result.text == sent.text and result.parsed == json.loads(sent.text),
                "faithful-text",
                expected=f"text {sent.text!r} and parsed equal to it",
                observed=f"text {result.text!r}, parsed {result.parsed!r}",
                frame=run.frame(),
            )
