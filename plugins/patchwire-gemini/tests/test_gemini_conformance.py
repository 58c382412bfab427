"""patchwire's conformance suite against the Gemini connector and its simulator."""

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
from patchwire_gemini.plugin import GeminiPlugin

pytestmark = pytest.mark.integration  # real HTTP to the simulator on loopback


class Gemini:
    plugin = GeminiPlugin()
    wire = "gemini"
    model = "gemini-2.5-flash"


class TestGeminiPlugin(Gemini, PluginConformance):
    embed_model = "gemini-embedding-001"


class TestGeminiComplete(Gemini, CompleteConformance):
    pass


class TestGeminiStream(Gemini, StreamConformance):
    pass


class TestGeminiEmbed(Gemini, EmbedConformance):
    model = "gemini-embedding-001"


class TestGeminiTools(Gemini, ToolsConformance):
    pass


class TestGeminiStructuredOutput(Gemini, StructuredOutputConformance):
    pass
