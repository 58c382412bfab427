"""patchwire's conformance suite, run against the Anthropic connector and its simulator."""

from __future__ import annotations

import pytest
from patchwire.testing.conformance import (
    CompleteConformance,
    PluginConformance,
    StreamConformance,
    StructuredOutputConformance,
    ToolsConformance,
)
from patchwire_anthropic.plugin import AnthropicPlugin

pytestmark = pytest.mark.integration  # the simulator is a real server on loopback


class Anthropic:
    plugin = AnthropicPlugin()
    wire = "anthropic"
    model = "claude-haiku-4-5"


class TestAnthropicPlugin(Anthropic, PluginConformance):
    pass


class TestAnthropicComplete(Anthropic, CompleteConformance):
    pass


class TestAnthropicStream(Anthropic, StreamConformance):
    pass


class TestAnthropicTools(Anthropic, ToolsConformance):
    pass


class TestAnthropicStructuredOutput(Anthropic, StructuredOutputConformance):
    pass
