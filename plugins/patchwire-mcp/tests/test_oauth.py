"""An OAuth-protected MCP server, authorized per user with authlib's authorization server.

One aiohttp app on a loopback port serves the MCP endpoint (servers/jsonrpc.py), its
protected resource metadata, the authorization server's metadata, and authlib's token and
authorization endpoints (tests/auth/authserver.py). The MCP endpoint takes only live tokens
that authlib issued, and answers 401 with the resource-metadata challenge, or 403
``insufficient_scope`` when a tool needs more. Each user's connector has its own token store
and its own "browser" (the user consenting at once, named by ``X-User`` as authserver.py
wants). Integration tests: real HTTP on the real clock (the SDK times token expiry by the
wall clock, so the refresh test waits out a one-second token).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest
from aiohttp import web
from patchwire.errors import AuthError
from patchwire.hub import Hub
from patchwire.principals import Principal, current_principal
from patchwire_mcp import Authorization, MemoryTokenStore, attach
from patchwire_mcp.loopback import loopback_authorization

from tests.auth.authserver import AuthServer, Client

pytestmark = pytest.mark.integration

CLIENT_ID = "mcp-app"
REDIRECT = "http://127.0.0.1:33418/callback"
PRM = "/.well-known/oauth-protected-resource/mcp"


class Browser:
    """One user at the authorization page: consents at once (or, ``gone``, no longer).
    ``user`` None: whoever the call is for (the principal the redirect runs under)."""

    def __init__(self, user: str | None) -> None:
        self.user = user
        self.visits: list[dict[str, str]] = []
        self.gone = False
        self._query: dict[str, str] = {}

    async def redirect(self, url: str) -> None:
        self.visits.append(dict(parse_qsl(urlsplit(url).query)))
        if self.gone:
            self._query = {"error": "access_denied", "error_description": "the user left"}
            return
        async with httpx2.AsyncClient(follow_redirects=False) as http:
            user = self.user or str(getattr(current_principal(), "id", "service"))
            answer = await http.get(url, headers={"X-User": user})
        self._query = dict(parse_qsl(urlsplit(answer.headers["location"]).query))

    async def callback(self) -> Mapping[str, str]:
        return self._query

    def authorization(self, store: MemoryTokenStore) -> Authorization:
        return Authorization(redirect=self.redirect, callback=self.callback, store=store)


class Protected:
    """The resource server's rule: a live token, with ``required`` scopes for tools/call."""

    def __init__(self, auth: AuthServer) -> None:
        self.auth = auth
        self.required: set[str] = {"read"}

    async def guard(self, request: web.Request, method: str) -> web.Response | None:
        base = f"{request.scheme}://{request.host}"
        value = request.headers.get("Authorization", "").removeprefix("Bearer ")
        record = self.auth.live(value)
        if record is None:
            challenge = f'Bearer resource_metadata="{base}{PRM}", scope="read"'
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        granted = set((record.get("scope") or "").split())
        if method == "tools/call" and not self.required <= granted:
            wanted = " ".join(sorted(self.required))
            challenge = (
                f'Bearer error="insufficient_scope", scope="{wanted}",'
                f' resource_metadata="{base}{PRM}"'
            )
            return web.Response(status=403, headers={"WWW-Authenticate": challenge})
        request["user"] = record["user"]
        return None

    def routes(self, app: web.Application) -> None:
        auth = self.auth

        async def resource_metadata(request: web.Request) -> web.Response:
            base = f"{request.scheme}://{request.host}"
            return web.json_response(
                {
                    "resource": f"{base}/mcp",
                    "authorization_servers": [base],
                    "scopes_supported": ["read", "write", "admin"],
                }
            )

        async def server_metadata(request: web.Request) -> web.Response:
            base = f"{request.scheme}://{request.host}"
            return web.json_response(
                {
                    "issuer": base,
                    "authorization_endpoint": f"{base}/oauth/authorize",
                    "token_endpoint": f"{base}/oauth/token",
                    "response_types_supported": ["code"],
                    "grant_types_supported": ["authorization_code", "refresh_token"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["none"],
                    "scopes_supported": ["read", "write", "admin"],
                }
            )

        app.router.add_get(PRM, resource_metadata)
        app.router.add_get("/.well-known/oauth-authorization-server", server_metadata)
        app.router.add_post("/oauth/token", auth.token_endpoint)
        app.router.add_get("/oauth/authorize", auth.authorize_endpoint)


def auth_server(expires_in: int = 3600) -> AuthServer:
    client = Client(
        CLIENT_ID,
        scopes=("read", "write", "admin"),
        grant_types=("authorization_code", "refresh_token"),
        auth_methods=("none",),
        redirect_uris=(REDIRECT,),
    )
    return AuthServer([client], expires_in=expires_in)


def table(url: str) -> dict[str, Any]:
    return {
        "type": "mcp",
        "url": url,
        "retry": {"max_attempts": 1},
        "oauth": {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "scope": "read"},
    }


@asynccontextmanager
async def protected_mcp(jsonrpc: Any, protected: Protected) -> AsyncIterator[str]:
    """The MCP server on a loopback port, behind ``protected``'s rule: its URL."""
    server = jsonrpc.LegacyServer(guard=protected.guard)
    async with jsonrpc.serving(server, protected.routes) as url:
        yield url


def attach_browser(hub: Hub, name: str) -> Browser:
    """The user ``name`` consenting in their own browser, with their own token store."""
    browser = Browser(name)
    attach(hub, name, authorization=browser.authorization(MemoryTokenStore()))
    return browser


async def test_each_user_authorizes_once_and_calls_with_their_own_token(
    make_hub: Callable[..., Hub], jsonrpc: Any
) -> None:
    auth = auth_server()
    async with protected_mcp(jsonrpc, Protected(auth)) as url:
        hub = make_hub({"alice": table(url), "bob": table(url)})
        people = {name: Browser(name) for name in ("alice", "bob")}
        stores = {name: MemoryTokenStore() for name in people}
        for name, browser in people.items():
            attach(hub, name, authorization=browser.authorization(stores[name]))
        for name in people:
            assert (await hub.tool(name).call("whoami")).text == name
            assert (await hub.tool(name).call("whoami")).text == name
        alice_token = await stores["alice"].get_tokens()
        bob_token = await stores["bob"].get_tokens()
    assert alice_token is not None and bob_token is not None
    assert alice_token.access_token != bob_token.access_token
    for browser in people.values():
        # One consent each, with PKCE (S256) and the resource indicator.
        assert len(browser.visits) == 1
        visit = browser.visits[0]
        assert visit["code_challenge_method"] == "S256" and visit["code_challenge"]
        assert visit["resource"] == url and visit["scope"] == "read"
    users = sorted(str(record["user"]) for record in auth.issued)
    assert users == ["alice", "bob"]


async def test_an_expired_token_is_refreshed_without_asking_the_user_again(
    make_hub: Callable[..., Hub], jsonrpc: Any
) -> None:
    auth = auth_server(expires_in=1)
    async with protected_mcp(jsonrpc, Protected(auth)) as url:
        hub = make_hub({"alice": table(url)})
        browser = attach_browser(hub, "alice")
        assert (await hub.tool("alice").call("whoami")).text == "alice"
        # Real time: the SDK reads token expiry from the wall clock.
        await asyncio.sleep(1.5)
        assert (await hub.tool("alice").call("whoami")).text == "alice"
    assert len(browser.visits) == 1
    grants = [form.get("grant_type") for form in auth.forms]
    assert grants[0] == "authorization_code" and "refresh_token" in grants[1:]


async def test_insufficient_scope_steps_up_with_the_scopes_the_server_named(
    make_hub: Callable[..., Hub], jsonrpc: Any
) -> None:
    protected = Protected(auth_server())
    async with protected_mcp(jsonrpc, protected) as url:
        hub = make_hub({"alice": table(url)})
        browser = attach_browser(hub, "alice")
        assert (await hub.tool("alice").call("echo", text="plain")).text == "plain"
        protected.required = {"read", "admin"}
        assert (await hub.tool("alice").call("echo", text="more")).text == "more"
    assert len(browser.visits) == 2
    assert set(browser.visits[1]["scope"].split()) >= {"read", "admin"}


async def test_after_revocation_a_user_who_does_not_consent_again_gets_an_auth_error(
    make_hub: Callable[..., Hub], jsonrpc: Any
) -> None:
    auth = auth_server()
    async with protected_mcp(jsonrpc, Protected(auth)) as url:
        hub = make_hub({"alice": table(url)})
        browser = attach_browser(hub, "alice")
        assert (await hub.tool("alice").call("whoami")).text == "alice"
        auth.revoke_all()
        auth.revoke_refresh_tokens("alice")
        browser.gone = True
        with pytest.raises(AuthError) as refused:
            await hub.tool("alice").call("whoami")
    assert "the user left" in refused.value.message or "access_denied" in refused.value.message
    every_token = [*auth.tokens, *(r.get("refresh_token") or "" for r in auth.issued)]
    assert not any(token and token in str(refused.value) for token in every_token)


async def test_without_a_way_to_reach_the_user_the_error_says_how_to_give_one(
    make_hub: Callable[..., Hub], jsonrpc: Any
) -> None:
    auth = auth_server()
    async with protected_mcp(jsonrpc, Protected(auth)) as url:
        hub = make_hub({"alice": table(url)})
        with pytest.raises(AuthError) as refused:
            await hub.tool("alice").call("whoami")
    assert "patchwire_mcp.attach" in refused.value.message
    assert auth.authorize_requests == []


async def test_one_connector_keeps_each_principals_tokens_in_the_hubs_token_store(
    make_hub: Callable[..., Hub], jsonrpc: Any
) -> None:
    auth = auth_server()
    async with protected_mcp(jsonrpc, Protected(auth)) as url:
        hub = make_hub({"mcp": table(url)})
        browser = Browser(None)
        attach(hub, "mcp", authorization=Authorization(browser.redirect, browser.callback))
        for user in ("alice", "bob", "alice", "bob"):
            with hub.acting_for(Principal(user)):
                assert (await hub.tool("mcp").call("whoami")).text == user
        store = hub.token_store()
        alice = await store.load("mcp:mcp:alice")
        bob = await store.load("mcp:mcp:bob")
    # One consent per principal; each principal's token is theirs, kept by the hub.
    assert len(browser.visits) == 2
    assert alice is not None and bob is not None
    assert auth.user_of(f"Bearer {alice.access_token.reveal()}") == "alice"
    assert auth.user_of(f"Bearer {bob.access_token.reveal()}") == "bob"
    assert "Bearer" not in repr(alice) and alice.access_token.reveal() not in repr(alice)


async def test_the_loopback_helper_receives_the_code_at_its_redirect_uri(
    make_hub: Callable[..., Hub], jsonrpc: Any
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redirect_uri = f"http://127.0.0.1:{port}/done"
    auth = auth_server()
    auth.clients[CLIENT_ID].redirect_uris = (redirect_uri,)
    visits: list[asyncio.Task[None]] = []

    async def browse(url: str) -> None:
        # The user's browser: consents, then follows the redirect to the loopback listener.
        async with httpx2.AsyncClient(follow_redirects=True) as http:
            await http.get(url, headers={"X-User": "carol"})

    def open_url(url: str) -> None:
        visits.append(asyncio.get_running_loop().create_task(browse(url)))

    async with protected_mcp(jsonrpc, Protected(auth)) as url:
        hub = make_hub(
            {"mcp": {**table(url), "oauth": {"client_id": CLIENT_ID, "redirect_uri": redirect_uri}}}
        )
        attach(
            hub,
            "mcp",
            authorization=loopback_authorization(redirect_uri, open_url=open_url, timeout=30),
        )
        assert (await hub.tool("mcp").call("whoami")).text == "carol"
        await asyncio.gather(*visits)
    assert len(visits) == 1
