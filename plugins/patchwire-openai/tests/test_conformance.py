"""patchwire's conformance suite, run against the openai connector and its simulator."""

from __future__ import annotations

from typing import Any

import pytest
from patchwire.plugins import PluginHost
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

    def connector_table(self, base_url: str) -> dict[str, Any]:
        # Embedding attempts are bounded by embed_timeout (120 s by default), not timeout.
        return {**super().connector_table(base_url), "embed_timeout": self.ATTEMPT_TIMEOUT}

    @pytest.mark.xfail(
        strict=True,
        reason="core's EmbeddingBatcher keeps sending a batch whose every caller was"
        " cancelled, so its task outlives the call until the attempt times out",
    )
    async def test_cancelled_call_leaves_no_task(self, conformance_host: PluginHost) -> None:
        await super().test_cancelled_call_leaves_no_task(conformance_host)
