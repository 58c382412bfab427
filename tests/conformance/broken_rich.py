"""Rich-call fakes: the openai connector (which passes the rich-call checks) with one
defect each, for the rules only a connector claiming tools or structured output can break.
Subclasses only: the openai connector's own files are not touched."""

from __future__ import annotations

from typing import Any

import attrs
from patchwire.connector import Attempt
from patchwire.hookspecs import hookimpl
from patchwire.parts import ToolCall
from patchwire.types import Completion, CompletionRequest
from patchwire_openai.connector import OpenAIConnector
from patchwire_openai.plugin import OpenAIPlugin


def openai_plugin_for(connector: type[OpenAIConnector]) -> OpenAIPlugin:
    class BrokenOpenAIPlugin(OpenAIPlugin):
        @hookimpl
        def patchwire_register_connectors(self, register: Any) -> None:
            register("openai", connector)

    return BrokenOpenAIPlugin()


def _without(request: CompletionRequest, **features: Any) -> CompletionRequest:
    assert request.features is not None
    return attrs.evolve(request, features=attrs.evolve(request.features, **features))


class DropsTools(OpenAIConnector):
    """Forgets to send the tools (an author who only reads ``messages``)."""

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        return await super().complete(_without(request, tools=(), tool_choice=None), attempt)


class LosesArguments(OpenAIConnector):
    """Keeps the calls' names but not their arguments."""

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        result = await super().complete(request, attempt)
        parts = tuple(
            ToolCall(p.id, p.name, {}, "{}") if isinstance(p, ToolCall) else p for p in result.parts
        )
        return attrs.evolve(result, parts=parts)


class DropsSchema(OpenAIConnector):
    """Sends the prompt without the output schema."""

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        return await super().complete(_without(request, output=None), attempt)
