"""patchwire's conformance suite against the Gemini connector and its simulator."""

from __future__ import annotations

import pytest
from patchwire.testing.conformance import SimulatedModelConformance
from patchwire_gemini.plugin import GeminiPlugin

pytestmark = pytest.mark.integration  # real HTTP to the simulator on loopback


class TestGeminiCompletionConformance(SimulatedModelConformance):
    plugin = GeminiPlugin()
    wire = "gemini"
    connector_type = "gemini"
    model = "gemini-2.5-flash"


class TestGeminiEmbeddingConformance(SimulatedModelConformance):
    plugin = GeminiPlugin()
    wire = "gemini"
    connector_type = "gemini"
    model = "gemini-embedding-001"
    operation = "embed"
