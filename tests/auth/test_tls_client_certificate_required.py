"""A server that requires a client certificate and drops the connection without an alert.

Under TLS 1.3 the client finishes its half of the handshake before the server checks the
client certificate; asyncio's TLS servers (like many proxies) then just close the
connection. Read alone that is a network blip; patchwire remembers that this server asked
for a certificate and never answered, so the call is ``auth``: not retried, escalated.

Integration: real TLS servers on 127.0.0.1 (aiohttp, certificates from ``trustme``) and the
real clock, because the retries that must not happen would sleep on it.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from patchwire.connector import Attempt, Capability, Connector
from patchwire.errors import AuthError, TransientError
from patchwire.hookspecs import hookimpl
from patchwire.http import send
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.registry import ConnectorRegistrar
from patchwire.types import Completion, CompletionRequest

pytestmark = pytest.mark.integration


class Getter(Connector):
    """One GET of base_url per attempt."""

    type_name = "getter"
    capabilities = frozenset({Capability.COMPLETE})

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        assert self.ctx.config.base_url is not None
        response = await send(attempt, "GET", self.ctx.config.base_url)
        return Completion(text=response.text(), model=request.model)


class GetterPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: ConnectorRegistrar) -> None:
        register("getter", Getter)


@pytest.fixture
def host(plugin_host: PluginHost, register_plugin: Any) -> PluginHost:
    register_plugin(GetterPlugin(), "tests.getter")
    return plugin_host


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


ServerFactory = Callable[[ssl.VerifyMode, Callable[[web.Request], Any]], Any]


@pytest.fixture
async def tls_server(ca: trustme.CA) -> AsyncIterator[ServerFactory]:
    """Starts aiohttp TLS servers on loopback; each asks for client certificates as told."""
    runners: list[web.AppRunner] = []

    async def start(mode: ssl.VerifyMode, handler: Callable[[web.Request], Any]) -> str:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        ca.configure_trust(context)
        context.verify_mode = mode
        app = web.Application()
        app.router.add_get("/", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        runners.append(runner)
        return f"https://127.0.0.1:{runner.addresses[0][1]}/"

    yield start
    for runner in runners:
        await runner.cleanup()


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


def make_hub(host: PluginHost, url: str, ca_file: Path, dead: Path, **tls: str) -> Hub:
    return Hub.from_dict(
        {
            "hub": {"dead_letter": str(dead)},
            "connectors": {
                "svc": {
                    "type": "getter",
                    "base_url": url,
                    "cache": {"ttl": 0},
                    "breaker": {"enabled": False},
                    "retry": {"max_attempts": 4, "initial": 0.01, "cap": 0.02},
                    "tls": {"ca_bundle": str(ca_file), **tls},
                }
            },
        },
        host=host,
    )


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


async def test_no_client_certificate_for_a_server_that_requires_one_is_auth_not_retried(
    host: PluginHost, tls_server: ServerFactory, ca_file: Path, tmp_path: Path
) -> None:
    url = await tls_server(ssl.CERT_REQUIRED, hello)
    dead = tmp_path / "dead.jsonl"
    async with make_hub(host, url, ca_file, dead) as hub:
        with pytest.raises(AuthError) as info:
            await hub.model("svc:any").complete("hi")
    assert info.value.attempts == 1, "a missing certificate is not retried"
    assert "asked for a TLS client certificate" in info.value.message
    assert "[connectors.svc.tls]" in info.value.message
    escalated = [json.loads(line) for line in dead.read_text().splitlines()]
    assert len(escalated) == 1 and escalated[0]["category"] == "auth"


async def test_an_untrusted_client_certificate_dropped_without_an_alert_is_auth(
    host: PluginHost, tls_server: ServerFactory, ca_file: Path, tmp_path: Path
) -> None:
    url = await tls_server(ssl.CERT_REQUIRED, hello)
    stranger = trustme.CA().issue_cert("intruder@clients.example")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    stranger.cert_chain_pems[0].write_to_path(str(cert))
    stranger.private_key_pem.write_to_path(str(key))
    tls = {"client_cert": f"file:{cert}", "client_key": f"file:{key}"}
    async with make_hub(host, url, ca_file, tmp_path / "dead.jsonl", **tls) as hub:
        with pytest.raises(AuthError) as info:
            await hub.model("svc:any").complete("hi")
    assert info.value.attempts == 1


async def test_the_right_client_certificate_is_answered(
    host: PluginHost, tls_server: ServerFactory, ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    url = await tls_server(ssl.CERT_REQUIRED, hello)
    good = ca.issue_cert("good@clients.example")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    good.cert_chain_pems[0].write_to_path(str(cert))
    good.private_key_pem.write_to_path(str(key))
    tls = {"client_cert": f"file:{cert}", "client_key": f"file:{key}"}
    async with make_hub(host, url, ca_file, tmp_path / "dead.jsonl", **tls) as hub:
        assert (await hub.model("svc:any").complete("hi")).text == "hello"


async def test_a_drop_by_a_server_that_asked_and_has_answered_stays_transient(
    host: PluginHost, tls_server: ServerFactory, ca_file: Path, tmp_path: Path
) -> None:
    """A server that only asks for a certificate (optional), and has answered this client,
    dropping a later connection is a network failure, retried as before."""
    served = 0

    async def flaky(request: web.Request) -> web.Response:
        nonlocal served
        served += 1
        if served > 1:
            assert request.transport is not None
            request.transport.abort()
        return web.Response(text="hello")

    url = await tls_server(ssl.CERT_OPTIONAL, flaky)
    async with make_hub(host, url, ca_file, tmp_path / "dead.jsonl") as hub:
        assert (await hub.model("svc:any").complete("first")).text == "hello"
        with pytest.raises(TransientError) as info:
            await hub.model("svc:any").complete("second")
    assert info.value.attempts == 4, "retried: this server does not require a certificate"
