"""patchwire's conformance suite, run against the openai connector and its simulator."""

from __future__ import annotations

import pytest
from patchwire.testing.conformance import SimulatedModelConformance
from patchwire_openai.plugin import OpenAIPlugin

pytestmark = pytest.mark.integration  # the simulator is a real server on loopback


class TestOpenAICompletionConformance(SimulatedModelConformance):
    plugin = OpenAIPlugin()
    wire = "openai"
    connector_type = "openai"
    model = "gpt-4o-mini"


class TestOpenAIEmbeddingConformance(SimulatedModelConformance):
    plugin = OpenAIPlugin()
    wire = "openai"
    connector_type = "openai"
    model = "text-embedding-3-small"
    operation = "embed"
