"""patchwire's conformance suite, run against the Anthropic connector and its simulator."""

from __future__ import annotations

from patchwire.testing.conformance import SimulatedModelConformance
from patchwire_anthropic.plugin import AnthropicPlugin


class TestAnthropicConformance(SimulatedModelConformance):
    plugin = AnthropicPlugin()
    wire = "anthropic"
    connector_type = "anthropic"
    model = "claude-haiku-4-5"
