"""The template's tests: patchwire's conformance suite against Acme's simulator, one class
per capability the connector claims, and tests of Acme's own behaviour.

Copy this pattern: register your wire format as a simulator (``wire.py``), subclass the
conformance classes for what your connector claims, and add tests for what is particular
to your provider.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from aiohttp import web
from patchwire.connector import Attempt
from patchwire.errors import QuotaExhaustedError
from patchwire.hub import Hub
from patchwire.limiter import RateLimitInfo
from patchwire.plugins import PluginHost
from patchwire.testing.conformance import (
    CompleteConformance,
    EmbedConformance,
    PluginConformance,
    StreamConformance,
)
from patchwire.testing.loopback import serve_app
from patchwire.testing.sim_wire import ErrorKind
from patchwire.testing.simulator import SimLimits, Simulator
from patchwire_acme.connector import AcmeConnector
from patchwire_acme.plugin import AcmePlugin

pytestmark = pytest.mark.integration  # the simulator is a real HTTP server on loopback


class Acme:
    plugin = AcmePlugin()
    wire = "acme"
    model = "acme-small"


class TestAcmePlugin(Acme, PluginConformance):
    embed_model = "acme-embed"


class TestAcmeComplete(Acme, CompleteConformance):
    pass


class TestAcmeStream(Acme, StreamConformance):
    pass


class TestAcmeEmbed(Acme, EmbedConformance):
    model = "acme-embed"


@pytest.fixture
def acme_host(plugin_host: PluginHost, monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    plugin_host.register(AcmePlugin(), "acme")
    monkeypatch.setenv("ACME_API_KEY", "acme-test-key")
    return plugin_host


async def test_no_credit_is_quota_exhausted_and_replies_are_priced(acme_host: PluginHost) -> None:
    async with Simulator("acme", plugin_host=acme_host, keys=["acme-test-key"]) as sim:
        config = {"connectors": {"acme": {"base_url": sim.base_url}}}
        async with Hub.from_dict(config, host=acme_host) as hub:
            reply = await hub.model("acme:acme-small").complete("shout", max_tokens=8)
            sim.force_error(ErrorKind.QUOTA_EXHAUSTED)
            with pytest.raises(QuotaExhaustedError) as info:
                await hub.model("acme:acme-small").complete("again")
    usage = reply.usage
    expected = (usage.input_tokens * 0.10 + usage.output_tokens * 0.40) / 1e6
    assert reply.cost == pytest.approx(expected)
    assert info.value.attempts == 1 and info.value.code == "no_credit"


async def test_rate_limit_headers_are_reported(
    acme_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[RateLimitInfo] = []
    original = AcmeConnector.report

    def spy(self: AcmeConnector, attempt: Attempt, headers: Mapping[str, str]) -> None:
        sink = attempt.report_limits
        assert sink is not None, "the pipeline hands every attempt a report_limits sink"

        def both(info: RateLimitInfo) -> None:
            reported.append(info)
            sink(info)

        attempt.report_limits = both
        original(self, attempt, headers)

    monkeypatch.setattr(AcmeConnector, "report", spy)
    limits = SimLimits(requests_per_minute=600, tokens_per_minute=100_000)
    async with Simulator("acme", plugin_host=acme_host, limits=limits) as sim:
        config = {"connectors": {"acme": {"base_url": sim.base_url}}}
        async with Hub.from_dict(config, host=acme_host) as hub:
            await hub.model("acme:acme-small").complete("hello", max_tokens=8)
    assert len(reported) == 1
    assert (reported[0].requests_limit, reported[0].tokens_limit) == (600, 100_000)
    assert reported[0].requests_remaining == 599


async def test_a_json_answer_to_a_stream_request_is_one_chunk_sent_once(
    acme_host: PluginHost,
) -> None:
    """A server that ignores "stream": true is answered once, its completion as one chunk."""
    requests = 0

    async def generate(request: web.Request) -> web.Response:
        nonlocal requests
        requests += 1
        answer = {"output": "whole", "finish": "stop", "usage": {"in": 3, "out": 1}}
        return web.json_response(answer)

    app = web.Application()
    app.router.add_post("/generate", generate)
    async with serve_app(app) as base_url:
        config = {"connectors": {"acme": {"base_url": base_url}}}
        async with Hub.from_dict(config, host=acme_host) as hub:
            chunks = [c async for c in hub.model("acme:acme-small").stream("hi")]
    assert [(c.text, c.finish_reason) for c in chunks] == [("whole", "stop")]
    assert requests == 1
