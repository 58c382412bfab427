"""Proxies: one rule on every outgoing path, checked against a real proxy.

A real ``tinyproxy`` (Debian package ``tinyproxy``; scripts/provision.sh installs it) is
started per test on a free loopback port and logs every request it forwards; the tests read
that log to see which requests went through it. Model calls and token requests (the hub's
session), web fetches (the web connector's own guarded session) and MCP over HTTP (httpx)
all follow ``HTTP(S)_PROXY``/``NO_PROXY`` and the ``proxy`` settings alike.

Integration: real subprocesses and servers on 127.0.0.1, real time.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from patchwire.connector import Attempt, Capability, Connector
from patchwire.errors import ConfigError, InvalidRequestError, PatchwireError
from patchwire.hookspecs import hookimpl
from patchwire.http import send
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.proxy import ProxyRules
from patchwire.registry import ConnectorRegistrar
from patchwire.testing.loopback import serve_app
from patchwire.types import Completion, CompletionRequest

pytestmark = pytest.mark.integration

PROXY_USER = "alice"
PROXY_PASSWORD = "pr0xy-pa55word-9f3e"
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
_REQUEST = re.compile(r"Request \(file descriptor \d+\): (\S+) (\S+) HTTP")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TinyProxy:
    """One tinyproxy process on 127.0.0.1; ``requests()`` reads what it forwarded."""

    def __init__(self, folder: Path, credentials: tuple[str, str] | None) -> None:
        program = shutil.which("tinyproxy")
        if program is None:
            pytest.fail(
                "tinyproxy is not on PATH: run scripts/provision.sh (apt-get install tinyproxy)",
                pytrace=False,
            )
        self.port = _free_port()
        self.log = folder / f"tinyproxy-{self.port}.log"
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 30",
            f'LogFile "{self.log}"',
            "LogLevel Connect",
            "MaxClients 50",
            "Allow 127.0.0.1",
            "DisableViaHeader Yes",
        ]
        if credentials is not None:
            lines.append(f"BasicAuth {credentials[0]} {credentials[1]}")
        conf = folder / f"tinyproxy-{self.port}.conf"
        conf.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen(
            [program, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail("tinyproxy did not start", pytrace=False)
                time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self) -> list[str]:
        text = self.log.read_text() if self.log.exists() else ""
        return [f"{method} {target}" for method, target in _REQUEST.findall(text)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def proxies(tmp_path: Path) -> Iterator[Callable[..., TinyProxy]]:
    started: list[TinyProxy] = []

    def start(credentials: tuple[str, str] | None = None) -> TinyProxy:
        proxy = TinyProxy(tmp_path, credentials)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variable from the machine running the tests leaks into them."""
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def env_proxy(proxies: Callable[..., TinyProxy], monkeypatch: pytest.MonkeyPatch) -> TinyProxy:
    """A proxy named by ``HTTP_PROXY``, as a machine behind one is set up."""
    proxy = proxies()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    return proxy


Upstream = Callable[[], Awaitable[str]]
#: requests the upstream servers received, as "METHOD http://127.0.0.1:PORT/path"
SERVED: list[str] = []


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    """Starts loopback HTTP servers that answer ``/answer`` and an OAuth2 ``/token``."""
    SERVED.clear()

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        SERVED.append(f"{request.method} http://{request.host}{request.path}")
        response: web.StreamResponse = await handler(request)
        return response

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=f"answer via {request.headers.get('Authorization', '-')}")

    async def token(request: web.Request) -> web.Response:
        return web.json_response(
            {"access_token": "tok-123", "token_type": "Bearer", "expires_in": 3600}
        )

    async with AsyncExitStack() as servers:

        async def start() -> str:
            app = web.Application(middlewares=[record])
            app.router.add_get("/answer", answer)
            app.router.add_post("/token", token)
            return await servers.enter_async_context(serve_app(app))

        yield start


class Getter(Connector):
    """One GET of ``{base_url}/answer`` per attempt: a model call on the hub's session."""

    type_name = "getter"
    capabilities = frozenset({Capability.COMPLETE})

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        response = await send(attempt, "GET", f"{self.ctx.config.base_url}/answer")
        return Completion(text=response.text(), model=request.model)


class DefaultGetter(Connector):
    """Like a provider connector: a default base URL when the configuration names none."""

    type_name = "defaultgetter"
    capabilities = frozenset({Capability.COMPLETE})
    DEFAULT_BASE_URL = ""  # set by the test

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.base_url = ctx.config.base_url or type(self).DEFAULT_BASE_URL

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        response = await send(attempt, "GET", f"{self.base_url}/answer")
        return Completion(text=response.text(), model=request.model)


class GetterPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: ConnectorRegistrar) -> None:
        register("getter", Getter)
        register("defaultgetter", DefaultGetter)


@pytest.fixture
def host(plugin_host: PluginHost, register_plugin: Any) -> PluginHost:
    from patchwire_mcp.plugin import plugin as mcp_plugin
    from patchwire_web.plugin import plugin as web_plugin

    register_plugin(GetterPlugin(), "tests.proxy.getter")
    register_plugin(web_plugin, "patchwire-web")
    register_plugin(mcp_plugin, "patchwire-mcp")
    return plugin_host


def getter(base_url: str, **table: Any) -> dict[str, Any]:
    return {
        "type": "getter",
        "base_url": base_url,
        "cache": {"ttl": 0},
        "retry": {"max_attempts": 1},
        **table,
    }


# --- the environment ------------------------------------------------------------------------


async def test_a_model_call_goes_through_the_environments_proxy(
    host: PluginHost,
    env_proxy: TinyProxy,
    upstream: Upstream,
) -> None:
    base = await upstream()
    async with Hub.from_dict({"connectors": {"m": getter(base)}}, host=host) as hub:
        reply = await hub.model("m:any").complete("hi")
    assert reply.text == "answer via -"
    assert env_proxy.requests() == [f"GET {base}/answer"]


@pytest.mark.parametrize(
    ("provider", "model", "env"),
    [
        ("openai", "gpt-4o-mini", "OPENAI_API_KEY"),
        ("anthropic", "claude-haiku-4-5", "ANTHROPIC_API_KEY"),
        ("gemini", "gemini-2.5-flash", "GEMINI_API_KEY"),
    ],
)
async def test_each_provider_connector_calls_through_the_environments_proxy(
    plugin_host: PluginHost,
    register_plugin: Any,
    env_proxy: TinyProxy,
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
    model: str,
    env: str,
) -> None:
    """The real connectors, not only the hub session: each one's POST goes through tinyproxy."""
    from patchwire.testing.simulator import Simulator
    from patchwire_anthropic.plugin import AnthropicPlugin
    from patchwire_gemini.plugin import GeminiPlugin
    from patchwire_openai.plugin import OpenAIPlugin

    for plugin, name in ((OpenAIPlugin(), "openai"), (AnthropicPlugin(), "anthropic")):
        register_plugin(plugin, name)
    register_plugin(GeminiPlugin(), "gemini")
    monkeypatch.setenv(env, "sim-key-through-the-proxy")
    async with Simulator(
        provider, plugin_host=plugin_host, keys=["sim-key-through-the-proxy"]
    ) as sim:
        table = {"base_url": sim.base_url, "cache": {"ttl": 0}, "retry": {"max_attempts": 1}}
        async with Hub.from_dict({"connectors": {provider: table}}, host=plugin_host) as hub:
            reply = await hub.model(f"{provider}:{model}").complete("hi")
    assert reply.text
    assert [r for r in env_proxy.requests() if r.startswith("POST " + sim.base_url)], (
        env_proxy.requests()
    )


async def test_no_proxy_sends_the_hosts_it_names_direct(
    host: PluginHost,
    env_proxy: TinyProxy,
    upstream: Upstream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = await upstream()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    table = {"m": getter(base), "n": getter(await upstream(), proxy=env_proxy.url)}
    async with Hub.from_dict(
        {"connectors": table, "hub": {"proxy": env_proxy.url}}, host=host
    ) as hub:
        await hub.model("m:any").complete("hi")
        await hub.model("n:any").complete("hi")
    assert env_proxy.requests() == [], "NO_PROXY wins over the variables and over every setting"


async def test_a_token_request_goes_through_the_proxy_like_the_call(
    host: PluginHost,
    env_proxy: TinyProxy,
    upstream: Upstream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = await upstream()
    monkeypatch.setenv("PW_PROXY_TEST_SECRET", "client-secret-value-81d2")
    auth = {
        "scheme": "oauth2_client_credentials",
        "token_url": f"{base}/token",
        "client_id": "patchwire",
        "client_secret": "env:PW_PROXY_TEST_SECRET",
    }
    async with Hub.from_dict({"connectors": {"m": getter(base, auth=auth)}}, host=host) as hub:
        reply = await hub.model("m:any").complete("hi")
    assert reply.text == "answer via Bearer tok-123"
    assert env_proxy.requests() == [f"POST {base}/token", f"GET {base}/answer"]


async def test_an_https_call_is_tunnelled_through_the_proxy(
    host: PluginHost,
    proxies: Callable[..., TinyProxy],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Providers speak HTTPS: the proxy sees a CONNECT to the origin, never the request."""
    proxy = proxies()
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text="secure answer")

    app = web.Application()
    app.router.add_get("/answer", answer)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    async with serve_app(app, ssl_context=server_tls) as base:
        table = getter(base, tls={"ca_bundle": str(ca_file)})
        async with Hub.from_dict({"connectors": {"m": table}}, host=host) as hub:
            assert (await hub.model("m:any").complete("hi")).text == "secure answer"
    assert proxy.requests() == [f"CONNECT {base.removeprefix('https://')}"]


# --- settings -------------------------------------------------------------------------------


async def test_the_hub_setting_applies_and_a_connector_can_go_direct(
    host: PluginHost, proxies: Callable[..., TinyProxy], upstream: Upstream
) -> None:
    proxy = proxies()
    via, direct = await upstream(), await upstream()
    table = {"via": getter(via), "direct": getter(direct, proxy="direct")}
    async with Hub.from_dict({"connectors": table, "hub": {"proxy": proxy.url}}, host=host) as hub:
        await hub.model("via:any").complete("hi")
        await hub.model("direct:any").complete("hi")
    assert proxy.requests() == [f"GET {via}/answer"]


async def test_a_connector_setting_beats_the_environment(
    host: PluginHost,
    proxies: Callable[..., TinyProxy],
    upstream: Upstream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env_proxy, own_proxy = proxies(), proxies()
    base = await upstream()
    monkeypatch.setenv("HTTP_PROXY", env_proxy.url)
    async with Hub.from_dict(
        {"connectors": {"m": getter(base, proxy=own_proxy.url)}}, host=host
    ) as hub:
        await hub.model("m:any").complete("hi")
    assert own_proxy.requests() == [f"GET {base}/answer"] and env_proxy.requests() == []


async def test_proxy_credentials_from_a_reference_are_sent_and_never_shown(
    host: PluginHost,
    proxies: Callable[..., TinyProxy],
    upstream: Upstream,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = proxies((PROXY_USER, PROXY_PASSWORD))
    base = await upstream()
    good = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"
    wrong = f"http://{PROXY_USER}:not-{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"
    monkeypatch.setenv("CORP_PROXY", good)
    monkeypatch.setenv("CORP_PROXY_WRONG", wrong)
    table = {"ok": getter(base), "bad": getter(await upstream(), proxy="env:CORP_PROXY_WRONG")}
    config = {"connectors": table, "hub": {"proxy": "env:CORP_PROXY"}}
    caplog.set_level(logging.DEBUG)
    async with Hub.from_dict(config, host=host) as hub:
        assert (await hub.model("ok:any").complete("hi")).text == "answer via -"
        with pytest.raises(PatchwireError) as refused:
            await hub.model("bad:any").complete("hi")
        assert PROXY_PASSWORD not in repr(hub.config)
    assert [f"GET {base}/answer"] == SERVED, "the wrong password got no further"
    assert refused.value.category.value == "auth", "a refused proxy credential is auth"
    shown = [str(refused.value), repr(refused.value), caplog.text]
    cause: BaseException | None = refused.value
    while cause is not None:
        shown += [str(cause), repr(cause)]
        cause = cause.__cause__ or cause.__context__
    for text in shown:
        assert PROXY_PASSWORD not in text


def test_a_literal_proxy_url_with_a_password_is_a_config_error_that_does_not_echo_it(
    host: PluginHost,
) -> None:
    literal = f"http://{PROXY_USER}:{PROXY_PASSWORD}@proxy.example:3128"
    for config in (
        {"hub": {"proxy": literal}},
        {"connectors": {"m": getter("http://127.0.0.1:1", proxy=literal)}},
    ):
        with pytest.raises(ConfigError) as info:
            Hub.from_dict(config, host=host)
        assert "proxy" in str(info.value) and "reference" in str(info.value)
        assert PROXY_PASSWORD not in str(info.value) and PROXY_USER not in str(info.value)


async def test_a_connectors_proxy_covers_its_default_base_url(
    host: PluginHost,
    proxies: Callable[..., TinyProxy],
    upstream: Upstream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = proxies()
    default, other = await upstream(), await upstream()
    monkeypatch.setattr(DefaultGetter, "DEFAULT_BASE_URL", default)
    table = {
        "d": {"type": "defaultgetter", "proxy": proxy.url, "cache": {"ttl": 0}},
        "m": getter(other),
    }
    async with Hub.from_dict({"connectors": table}, host=host) as hub:
        await hub.model("d:any").complete("hi")
        await hub.model("m:any").complete("hi")
    assert proxy.requests() == [f"GET {default}/answer"]


def test_a_proxy_setting_that_is_not_a_url_is_a_config_error(host: PluginHost) -> None:
    with pytest.raises(ConfigError, match="proxy"):
        Hub.from_dict({"hub": {"proxy": "socks5://127.0.0.1:1080"}}, host=host)


def test_no_proxy_is_read_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = ProxyRules(None, None, "<test>")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert rules.for_url("https://api.example.com/v1") is not None
    monkeypatch.setenv("NO_PROXY", ".example.com")
    assert rules.for_url("https://api.example.com/v1") is None
    assert rules.for_url("https://other.test/") is not None


# --- connectors with their own clients ---------------------------------------------------


async def test_a_web_fetch_goes_through_the_proxy(
    host: PluginHost,
    env_proxy: TinyProxy,
    upstream: Upstream,
) -> None:
    base = await upstream()
    table = {"type": "web", "allow_private": True, "respect_robots": False, "cache": {"ttl": 0}}
    async with Hub.from_dict({"connectors": {"site": table}}, host=host) as hub:
        result = await hub.tool("site").call("fetch", url=f"{base}/answer")
    assert result.text == "answer via -"
    assert env_proxy.requests() == [f"GET {base}/answer"]


async def test_a_proxy_does_not_bypass_the_web_ssrf_guard(
    host: PluginHost,
    env_proxy: TinyProxy,
    upstream: Upstream,
) -> None:
    """The proxy's own (loopback) address is allowed, but a target that resolves to a
    private address is refused before anything is sent, proxy or not."""
    port = (await upstream()).rsplit(":", 1)[1]
    table = {
        "type": "web",
        "respect_robots": False,
        "cache": {"ttl": 0},
        "retry": {"max_attempts": 1},
    }
    async with Hub.from_dict({"connectors": {"site": table}}, host=host) as hub:
        with pytest.raises(InvalidRequestError, match="refused to connect"):
            await hub.tool("site").call("fetch", url=f"http://localhost:{port}/answer")
        with pytest.raises(InvalidRequestError, match="refused to connect"):
            await hub.tool("site").call("fetch", url=f"http://127.0.0.1:{port}/answer")
    assert env_proxy.requests() == []


async def test_mcp_over_http_follows_the_proxy_setting(
    host: PluginHost, proxies: Callable[..., TinyProxy], tmp_path: Path
) -> None:
    proxy = proxies()
    toolbox = Path(__file__).parents[2] / "plugins/patchwire-mcp/tests/servers/toolbox.py"
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(toolbox), "http", "--port", "0", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        line = (await asyncio.wait_for(server.stdout.readline(), 30)).decode()
        assert line.startswith("PORT "), line
        url = f"http://127.0.0.1:{int(line.split()[1])}/mcp"
        table = {"type": "mcp", "url": url, "proxy": proxy.url, "retry": {"max_attempts": 1}}
        async with Hub.from_dict({"connectors": {"tb": table}}, host=host) as hub:
            echo = await hub.tool("tb").call("echo", text="through")
        assert echo.output == [{"type": "text", "text": "through"}]
        assert f"POST {url}" in proxy.requests()
    finally:
        server.kill()
        await server.wait()
