"""patchwire's conformance suite against the Gemini connector and its simulator."""

from __future__ import annotations

from typing import Any

import pytest
from patchwire.plugins import PluginHost
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

    def connector_table(self, base_url: str) -> dict[str, Any]:
        # Embedding attempts are bounded by embed_timeout, not timeout; the suite sets
        # only the latter, so a hang would last the 120 s default.
        return {**super().connector_table(base_url), "embed_timeout": self.ATTEMPT_TIMEOUT}

    @pytest.mark.xfail(
        strict=True,
        reason="core's EmbeddingBatcher keeps sending a batch whose every caller was"
        " cancelled, so its task outlives the call until the attempt times out",
    )
    async def test_cancelled_call_leaves_no_task(self, conformance_host: PluginHost) -> None:
        await super().test_cancelled_call_leaves_no_task(conformance_host)
