"""patchwire's conformance suite, run against the openai connector and its simulator."""

from __future__ import annotations

import pytest
from patchwire.testing.conformance import (
    CompleteConformance,
    EmbedConformance,
    PluginConformance,
    StreamConformance,
    StructuredOutputConformance,
    ToolsConformance,
)
from patchwire_openai.plugin import OpenAIPlugin

pytestmark = pytest.mark.integration  # the simulator is a real server on loopback


class OpenAI:
    plugin = OpenAIPlugin()
    wire = "openai"
    model = "gpt-4o-mini"


class TestOpenAIPlugin(OpenAI, PluginConformance):
    embed_model = "text-embedding-3-small"


class TestOpenAIComplete(OpenAI, CompleteConformance):
    pass


class TestOpenAIStream(OpenAI, StreamConformance):
    pass


class TestOpenAIEmbed(OpenAI, EmbedConformance):
    model = "text-embedding-3-small"


class TestOpenAITools(OpenAI, ToolsConformance):
    pass


class TestOpenAIStructuredOutput(OpenAI, StructuredOutputConformance):
    pass
