"""Attack: a server redirects a call to another origin to collect its credential (issue 13, item 1).

A provider (or anything answering at its address) that replies 301/302/303/307/308 to
another host used to receive Anthropic's ``x-api-key`` and Gemini's ``x-goog-api-key`` on
the second hop, because aiohttp drops only ``Authorization`` across origins. Now:

- model and tool connectors do not follow redirects: the call ends as ``integration``,
  naming the redirect target's origin, and the other origin sees nothing;
- where redirects are followed (core's ``send(allow_redirects=True)``, the web connector),
  a hop to another origin carries none of what the auth scheme attached: header, query
  parameter, cookie, client certificate, whatever the scheme (core's or a plugin's) called it;
- the web connector's headers filled from call arguments stay behind too, unless the
  operation lists them in ``forward_headers``.

Integration: real aiohttp servers on 127.0.0.1 (a second port is a second origin), a real
OAuth2 authorization server (authlib's, from ``tests/auth``) and real TLS with ``trustme``
certificates. Time is virtual and never advanced: nothing here waits on it.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
import trustme
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.auth.attached import Attached, attach, origin_of
from patchwire.auth.base import AuthContext, AuthScheme
from patchwire.clock import VirtualClock
from patchwire.connector import Attempt, Capability, Connector, Setting
from patchwire.errors import IntegrationError
from patchwire.hookspecs import hookimpl
from patchwire.http import send
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.registry import AuthRegistrar, ConnectorRegistrar
from patchwire.types import ToolRequest, ToolResult
from patchwire_anthropic.plugin import AnthropicPlugin
from patchwire_gemini.plugin import GeminiPlugin
from patchwire_openai.plugin import OpenAIPlugin
from patchwire_web.plugin import plugin as web_plugin

from ..auth.authserver import AuthServer, Client, serve
from ..auth.test_oauth2 import SA_EMAIL, _ec_pem, _service_account

pytestmark = pytest.mark.integration

REDIRECTS = (301, 302, 303, 307, 308)
KEY = "pw-sec-Kq7vTz0xR4mN8bY2wQ5e"  # what every static scheme sends
CLIENT_ID = "redirect-client"
CLIENT_SECRET = "pw-sec-client-Hj3kL9pQ2sV6"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


# --- two origins on loopback ------------------------------------------------------------------


@attrs.frozen
class Seen:
    """One request as a server received it."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: str
    body: bytes
    certificate: bool  # whether the client presented a TLS certificate

    def text(self) -> str:
        return json.dumps([self.method, self.path, dict(self.headers), self.query]) + repr(
            self.body
        )


@attrs.define
class Origin:
    """A server that records every request; it redirects when ``redirect`` is set."""

    url: str = ""
    seen: list[Seen] = attrs.field(factory=list)
    redirect: tuple[int, str] | None = None  # for every path
    routes: dict[str, tuple[int, str]] = attrs.field(factory=dict)  # by path


@asynccontextmanager
async def origin(tls: ssl.SSLContext | None = None) -> AsyncIterator[Origin]:
    state = Origin()

    async def answer(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        peer = transport.get_extra_info("peercert") if transport is not None else None
        state.seen.append(
            Seen(
                request.method,
                request.path,
                dict(request.headers),
                request.query_string,
                await request.read(),
                bool(peer),
            )
        )
        redirect = state.routes.get(request.path, state.redirect)
        if redirect is not None:
            status, location = redirect
            return web.Response(status=status, headers={"Location": location})
        return web.json_response({"ok": True, "path": request.path})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    scheme = "https" if tls is not None else "http"
    state.url = f"{scheme}://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


# --- a connector that follows through core's send, and one that does not ---------------------


class Probe(Connector):
    """GETs ``{base_url}/start`` through core's ``send``: following redirects when its
    ``follow`` setting is true, else with the default (not following)."""

    type_name = "probe"
    capabilities = frozenset({Capability.TOOL})
    settings: ClassVar[Mapping[str, Setting]] = {
        "follow": Setting((bool,), False, "follow redirects")
    }

    async def call_tool(self, request: ToolRequest, attempt: Attempt) -> ToolResult:
        assert self.ctx.config.base_url is not None
        follow = bool(self.ctx.config.settings.get("follow"))
        response = await send(
            attempt, "GET", f"{self.ctx.config.base_url}/start", allow_redirects=follow
        )
        return ToolResult(output=response.json())


class Signed:
    """A third-party scheme core has never seen: a session cookie, a signature header and
    a signature query parameter, all carrying the key."""

    name = "signed_cookie"

    def __init__(self, ctx: AuthContext, settings: Mapping[str, Any]) -> None:
        self._ctx = ctx
        self._reference = str(settings["key"])

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        value = self._ctx.secrets.resolve(self._reference, where="test").reveal()
        headers["Cookie"] = f"session={value}"
        headers["X-Acme-Signature"] = f"v1={value}"
        params["acme_sig"] = value

    async def refresh(self) -> bool:
        return False

    def ssl_context(self) -> ssl.SSLContext | None:
        return None

    def describe(self) -> Mapping[str, str]:
        return {"scheme": self.name}

    async def aclose(self) -> None:
        return None


class TestPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_connectors(self, register: ConnectorRegistrar) -> None:
        register("probe", Probe)

    @hookimpl
    def patchwire_register_auth(self, register: AuthRegistrar) -> None:
        def factory(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
            return Signed(ctx, settings)

        register.scheme("signed_cookie", factory, secrets=("key",))


@pytest.fixture
def host(plugin_host: PluginHost) -> PluginHost:
    plugin_host.register(TestPlugin(), "tests.security.redirects")
    plugin_host.register(web_plugin, "web")
    plugin_host.register(OpenAIPlugin(), "openai")
    plugin_host.register(AnthropicPlugin(), "anthropic")
    plugin_host.register(GeminiPlugin(), "gemini")
    return plugin_host


# --- every scheme core ships, and one it has never seen -----------------------------------------


@attrs.frozen
class Credentials:
    """What a connector's table needs for one scheme, and how to see that it was sent."""

    auth: Mapping[str, Any] | None
    tls: Mapping[str, Any] | None
    secrets: Callable[[], list[str]]  # every value that must not reach the other origin
    client_tls: ssl.SSLContext | None = None  # the servers' TLS, for mTLS


class Pki:
    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("127.0.0.1")
        self.ca_file = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        client = self.ca.issue_cert("client@redirects.example")
        self.cert, self.key = folder / "client.crt", folder / "client.key"
        client.cert_chain_pems[0].write_to_path(str(self.cert))
        client.private_key_pem.write_to_path(str(self.key))

    def server_context(self, required: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        self.ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED if required else ssl.CERT_OPTIONAL
        return context


SCHEMES = (
    "api_key_header",
    "api_key_query",
    "bearer",
    "oauth2_client_credentials",
    "jwt_bearer",
    "mutual_tls",
    "plugin_signed_cookie",
)


@asynccontextmanager
async def credentials(
    scheme: str, stack: AsyncExitStack, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Credentials, Pki | None]]:
    monkeypatch.setenv("PW_SEC_KEY", KEY)
    monkeypatch.setenv("PW_SEC_CLIENT_SECRET", CLIENT_SECRET)
    static = lambda: [KEY]  # noqa: E731
    if scheme == "api_key_header":
        yield (
            Credentials(
                {"scheme": "api_key", "key": "env:PW_SEC_KEY", "header": "X-Key"}, None, static
            ),
            None,
        )
    elif scheme == "api_key_query":
        yield (
            Credentials(
                {"scheme": "api_key", "key": "env:PW_SEC_KEY", "query": "key"}, None, static
            ),
            None,
        )
    elif scheme == "bearer":
        yield Credentials({"scheme": "bearer", "token": "env:PW_SEC_KEY"}, None, static), None
    elif scheme == "plugin_signed_cookie":
        yield Credentials({"scheme": "signed_cookie", "key": "env:PW_SEC_KEY"}, None, static), None
    elif scheme == "oauth2_client_credentials":
        server = await stack.enter_async_context(
            serve(AuthServer([Client(CLIENT_ID, CLIENT_SECRET)]))
        )
        auth = {
            "scheme": "oauth2_client_credentials",
            "token_url": server.url,
            "client_id": CLIENT_ID,
            "client_secret": "env:PW_SEC_CLIENT_SECRET",
        }
        yield Credentials(auth, None, lambda: [CLIENT_SECRET, *server.tokens]), None
    elif scheme == "jwt_bearer":
        pem, public = _ec_pem()
        client = Client(SA_EMAIL, grant_types=(JWT_GRANT,), public_key=public)
        server = await stack.enter_async_context(serve(AuthServer([client])))
        key_file = _service_account(server, pem, folder / "sa.json")
        auth = {"scheme": "jwt_bearer", "key_file": f"file:{key_file}"}
        body = pem.split("-----")[2].replace("\n", "")
        yield Credentials(auth, None, lambda: [body[:40], *server.tokens]), None
    elif scheme == "mutual_tls":
        pki = Pki(folder)
        tls = {
            "client_cert": f"file:{pki.cert}",
            "client_key": f"file:{pki.key}",
            "ca_bundle": str(pki.ca_file),
        }
        yield Credentials(None, tls, lambda: []), pki
    else:
        raise AssertionError(scheme)


@attrs.frozen
class Scene:
    """Two origins, ``home`` answering every request with a redirect to ``away``."""

    creds: Credentials
    mtls: bool
    home: Origin
    away: Origin


@asynccontextmanager
async def scene(
    scheme: str, status: int, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Scene]:
    async with AsyncExitStack() as stack:
        creds, pki = await stack.enter_async_context(
            credentials(scheme, stack, folder, monkeypatch)
        )
        home_tls = pki.server_context(required=True) if pki else None
        away_tls = pki.server_context(required=False) if pki else None
        home = await stack.enter_async_context(origin(home_tls))
        away = await stack.enter_async_context(origin(away_tls))
        home.redirect = (status, f"{away.url}/landed?from=home")
        yield Scene(creds, pki is not None, home, away)


def hub_of(host: PluginHost, connectors: Mapping[str, Any]) -> Hub:
    """A hub on virtual time that nobody advances: loopback I/O never waits on it."""
    return Hub.from_dict({"connectors": connectors}, host=host, clock=VirtualClock(autojump=False))


def connector_table(creds: Credentials, base_url: str, **more: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "base_url": base_url,
        "retry": {"max_attempts": 1},
        "cache": {"ttl": 0},
        "timeout": 10,
        **more,
    }
    if creds.auth is not None:
        table["auth"] = dict(creds.auth)
    if creds.tls is not None:
        table["tls"] = dict(creds.tls)
    return table


def web_table(creds: Credentials, base_url: str, operations: Mapping[str, Any]) -> dict[str, Any]:
    """A web connector on loopback (allowed), robots.txt not consulted."""
    return connector_table(
        creds,
        base_url,
        type="web",
        allow_private=True,
        respect_robots=False,
        operations=operations,
    )


def assert_no_credential(seen: list[Seen], secrets: list[str], *, mtls: bool) -> None:
    assert seen, "the redirect was not followed: the test would prove nothing"
    for request in seen:
        text = request.text()
        for secret in secrets:
            assert secret not in text
        names = {name.lower() for name in request.headers}
        assert not names & {"authorization", "x-key", "cookie", "x-acme-signature"}
        assert "key=" not in request.query and "acme_sig" not in request.query
        if mtls:
            assert not request.certificate


def assert_sent_home(seen: list[Seen], secrets: list[str], *, mtls: bool) -> None:
    """The first origin did get the credential: the scheme really attached something."""
    assert seen
    first = seen[0]
    if mtls:
        assert first.certificate
    else:
        assert any(secret in first.text() for secret in secrets)


# --- following: every scheme, every redirect status --------------------------------------------


FOLLOWERS = ("web", "core_send")


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("follower", FOLLOWERS)
async def test_a_followed_redirect_to_another_origin_carries_no_credential(
    host: PluginHost,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    follower: str,
    scheme: str,
    status: int,
) -> None:
    async with scene(scheme, status, tmp_path, monkeypatch) as sc:
        if follower == "web":
            table = web_table(sc.creds, sc.home.url, {"go": {"url": "/start"}})
        else:
            table = connector_table(sc.creds, sc.home.url, type="probe", follow=True)
        async with hub_of(host, {"svc": table}) as hub:
            result = await hub.tool("svc").call("go")
        secrets = sc.creds.secrets()
    assert result.output == {"ok": True, "path": "/landed"}
    assert_sent_home(sc.home.seen, secrets, mtls=sc.mtls)
    assert_no_credential(sc.away.seen, secrets, mtls=sc.mtls)


async def test_same_origin_hops_keep_the_credential_and_leaving_drops_it_for_good(
    host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """home → home (same origin: key kept) → away (dropped) → home again: the credential
    belongs to its origin, so it is attached there and nowhere else."""
    async with scene("api_key_header", 307, tmp_path, monkeypatch) as sc:
        home, away = sc.home, sc.away
        home.redirect = None
        home.routes["/start"] = (307, f"{home.url}/second")
        home.routes["/second"] = (302, f"{away.url}/third")
        away.routes["/third"] = (302, f"{home.url}/back")
        table = connector_table(sc.creds, home.url, type="probe", follow=True)
        async with hub_of(host, {"svc": table}) as hub:
            result = await hub.tool("svc").call("go")
    assert result.output == {"ok": True, "path": "/back"}
    assert [s.path for s in home.seen] == ["/start", "/second", "/back"]
    assert all(s.headers.get("X-Key") == KEY for s in home.seen)
    assert_no_credential(away.seen, [KEY], mtls=False)


# --- not following: the default for model and tool connectors ----------------------------------


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("scheme", SCHEMES)
async def test_by_default_a_redirect_is_an_integration_error_naming_its_origin(
    host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheme: str, status: int
) -> None:
    async with scene(scheme, status, tmp_path, monkeypatch) as sc:
        table = connector_table(sc.creds, sc.home.url, type="probe")
        async with hub_of(host, {"svc": table}) as hub:
            with pytest.raises(IntegrationError) as info:
                await hub.tool("svc").call("go")
        secrets = sc.creds.secrets()
    error = info.value
    assert error.status == status and error.attempts == 1
    assert origin_of(sc.away.url) in error.message and "another origin" in error.message
    assert sc.away.seen == []
    for secret in secrets:
        assert secret not in f"{error} {error!r}"


# --- the three providers, through a Hub ----------------------------------------------------------

PROVIDERS = {
    # connector type: (secret header it sends, model)
    "openai": ("Authorization", "gpt-4o-mini"),
    "anthropic": ("x-api-key", "claude-haiku-4-5"),
    "gemini": ("x-goog-api-key", "gemini-2.5-flash"),
}


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
async def test_a_provider_redirect_is_not_followed_and_the_other_origin_sees_nothing(
    host: PluginHost, monkeypatch: pytest.MonkeyPatch, provider: str, status: int, stream: bool
) -> None:
    monkeypatch.setenv("PW_SEC_KEY", KEY)
    header, model_name = PROVIDERS[provider]
    async with origin() as home, origin() as away:
        home.redirect = (status, f"{away.url}/v1/collect")
        table = connector_table(
            Credentials(None, None, lambda: [KEY]), home.url, api_key="env:PW_SEC_KEY"
        )
        async with hub_of(host, {provider: table}) as hub:
            model = hub.model(f"{provider}:{model_name}")
            with pytest.raises(IntegrationError) as info:
                if stream:
                    async for _ in model.stream("hello", max_tokens=5):
                        pass
                else:
                    await model.complete("hello", max_tokens=5)
    assert away.seen == []
    assert len(home.seen) == 1 and KEY in home.seen[0].headers.get(header, "")
    error = info.value
    assert error.status == status
    assert origin_of(away.url) in error.message
    assert KEY not in f"{error} {error!r} {error.__cause__!r} {error.__context__!r}"


# --- the web connector's argument-filled headers ------------------------------------------------


@pytest.mark.parametrize("status", REDIRECTS)
async def test_headers_filled_from_arguments_stay_with_the_calls_origin_unless_forwarded(
    host: PluginHost, status: int
) -> None:
    token = "pw-sec-argument-Lm4nB7vC1x"
    operation = {
        "url": "/start",
        "headers": {
            "X-Token": "{tok}",
            "X-Trace": "{trace}",
            "X-Static": "always",
        },
        "forward_headers": ["x-trace"],
    }
    async with origin() as home, origin() as away:
        home.redirect = (status, f"{away.url}/landed")
        table = {
            "type": "web",
            "base_url": home.url,
            "allow_private": True,
            "respect_robots": False,
            "retry": {"max_attempts": 1},
            "operations": {"go": operation},
        }
        async with hub_of(host, {"site": table}) as hub:
            result = await hub.tool("site").call("go", tok=token, trace="trace-1")
    assert result.output["path"] == "/landed"
    assert home.seen[0].headers["X-Token"] == token
    landed = away.seen[0]
    assert "X-Token" not in landed.headers and token not in landed.text()
    assert landed.headers["X-Trace"] == "trace-1" and landed.headers["X-Static"] == "always"


@pytest.mark.parametrize("scheme", ["api_key_header", "api_key_query", "mutual_tls"])
async def test_a_web_operation_on_another_origin_than_base_url_goes_without_credentials(
    host: PluginHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    """The credentials belong to ``base_url``'s origin: an operation whose absolute URL is
    elsewhere (no redirect involved) sends none of them, one on base_url does."""
    async with scene(scheme, 307, tmp_path, monkeypatch) as sc:
        sc.home.redirect = None
        operations = {"go": {"url": "/start"}, "away": {"url": f"{sc.away.url}/page"}}
        table = web_table(sc.creds, sc.home.url, operations)
        async with hub_of(host, {"site": table}) as hub:
            await hub.tool("site").call("go")
            elsewhere = await hub.tool("site").call("away")
        secrets = sc.creds.secrets()
    assert elsewhere.output == {"ok": True, "path": "/page"}
    assert_sent_home(sc.home.seen, secrets, mtls=sc.mtls)
    assert_no_credential(sc.away.seen, secrets, mtls=sc.mtls)


def test_forward_headers_must_name_a_declared_header(host: PluginHost) -> None:
    from patchwire.errors import ConfigError

    operation = {"url": "/x", "headers": {"X-Token": "{tok}"}, "forward_headers": ["X-Other"]}
    table = {"type": "web", "base_url": "http://127.0.0.1:9", "operations": {"go": operation}}
    with pytest.raises(ConfigError, match="forward_headers") as info:
        Hub.from_dict({"connectors": {"site": table}}, host=host)
    assert "X-Token" in info.value.message


# --- the origin rule itself ------------------------------------------------------------------------

hosts = st.sampled_from(["127.0.0.1", "localhost", "api.example.com", "[::1]", "API.Example.COM"])
schemes = st.sampled_from(["http", "https"])
ports = st.one_of(st.none(), st.integers(1, 65535))


def _url(scheme: str, host: str, port: int | None, path: str) -> str:
    return f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"


@settings(max_examples=300)
@given(
    a=st.tuples(schemes, hosts, ports),
    b=st.tuples(schemes, hosts, ports),
    path=st.sampled_from(["", "/", "/v1/x?key=1", "/a#f"]),
)
def test_credentials_are_allowed_exactly_where_scheme_host_and_port_match(
    a: tuple[str, str, int | None], b: tuple[str, str, int | None], path: str
) -> None:
    defaults = {"http": 80, "https": 443}

    def norm(parts: tuple[str, str, int | None]) -> tuple[str, str, int]:
        scheme, host_name, port = parts
        return scheme, host_name.lower(), defaults[scheme] if port is None else port

    attached = Attached(frozenset({"x-key"}), frozenset(), False, None)
    assert attached.allows(_url(*a, "/first"))  # the first request binds the origin
    assert attached.allows(_url(*b, path)) == (norm(a) == norm(b))


class _Adds:
    """A scheme that sets ``Authorization`` and changes ``X-Kept``, whatever was there."""

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        headers["Authorization"] = "Bearer k"
        headers["X-Kept"] = "changed"
        params["Key"] = "k"

    def ssl_context(self) -> ssl.SSLContext | None:
        return None


async def test_the_record_is_what_apply_attached_on_a_fresh_attempt_and_on_a_filled_one() -> None:
    """A fresh attempt (the pipeline's) records every name apply left, lower-cased; one that
    already held headers and params records only those apply added or changed."""
    scheme: Any = _Adds()
    fresh = Attempt(number=1, clock=VirtualClock(), session=None)  # type: ignore[arg-type]
    await attach(scheme, fresh, "https://API.example.com/v1")
    assert fresh.attached.headers == {"authorization", "x-kept"}
    assert fresh.attached.params == {"key"}
    assert fresh.attached.origin == "https://api.example.com:443"
    again = Attempt(number=2, clock=VirtualClock(), session=None)  # type: ignore[arg-type]
    await attach(scheme, again, "https://API.example.com/v1")
    assert again.attached.headers == fresh.attached.headers
    filled = Attempt(
        number=1,
        clock=VirtualClock(),
        session=None,  # type: ignore[arg-type]
        headers={"X-Kept": "before", "Accept": "a"},
        params={"Key": "k", "q": "1"},
    )
    await attach(scheme, filled, None)
    assert filled.attached.headers == {"authorization", "x-kept"}
    assert filled.attached.params == frozenset()
    assert filled.attached.origin is None
