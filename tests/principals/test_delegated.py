"""Acting for users with their own OAuth tokens, against authlib's authorization server.

Integration: real aiohttp on 127.0.0.1 — the authorization server (authlib's
authorization-code grant with PKCE, refresh-token grant, and an RFC 8693 grant) and a
provider that answers as the user whose token it was given. Virtual time, moved by hand,
drives expiry; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from patchwire import AuthError, Principal
from patchwire.clock import VirtualClock
from patchwire.errors import InvalidRequestError
from patchwire.escalation import Failure
from patchwire.events import Event, EventKind
from patchwire.hookspecs import hookimpl
from patchwire.plugins import PluginHost

from tests.auth.authserver import AuthServer

from .flows import consent, delegated_hub
from .provider import serve_provider

pytestmark = pytest.mark.integration


async def test_two_principals_concurrently_each_request_carries_its_own_token(
    host: PluginHost, manual_clock: VirtualClock, auth_server: AuthServer, app_secret: str
) -> None:
    async with (
        serve_provider(auth_server) as provider,
        delegated_hub(host, manual_clock, auth_server, provider.url) as hub,
    ):
        await consent(hub, "alice")
        await consent(hub, "bob")
        model = hub.model("openai:gpt-4o-mini")
        who = ["alice", "bob"] * 10
        replies = await asyncio.gather(*(model.complete("hi", principal=Principal(p)) for p in who))
    assert [r.text for r in replies] == [f"hello {p}" for p in who]
    assert sorted(user for user, _ in provider.seen) == sorted(who)
    tokens = {user: {t for u, t in provider.seen if u == user} for user in ("alice", "bob")}
    assert len(tokens["alice"]) == len(tokens["bob"]) == 1
    assert tokens["alice"] != tokens["bob"]
    # PKCE with S256 on the authorization request, the verifier on the code exchange.
    assert all(q["code_challenge_method"] == "S256" for q in auth_server.authorize_requests)
    assert all(
        "code_verifier" in f for f in auth_server.forms if f["grant_type"] == "authorization_code"
    )


async def test_acting_for_block_carries_the_principal(
    host: PluginHost, manual_clock: VirtualClock, auth_server: AuthServer, app_secret: str
) -> None:
    async with (
        serve_provider(auth_server) as provider,
        delegated_hub(host, manual_clock, auth_server, provider.url) as hub,
    ):
        await consent(hub, "carol")
        async with hub.acting_for(Principal("carol")):
            reply = await hub.model("openai:m").complete("hi")
        assert reply.text == "hello carol"
        with pytest.raises(AuthError, match="acts for users"):
            await hub.model("openai:m").complete("hi")  # no principal: the service has no token


async def test_refresh_for_one_principal_happens_once_and_does_not_touch_the_other(
    host: PluginHost, manual_clock: VirtualClock, auth_server: AuthServer, app_secret: str
) -> None:
    async with (
        serve_provider(auth_server) as provider,
        delegated_hub(host, manual_clock, auth_server, provider.url) as hub,
    ):
        await consent(hub, "alice")  # expires at t=120, refreshed from t=60
        manual_clock.advance(50)
        await consent(hub, "bob")  # expires at t=170, refreshed from t=110
        store = hub.token_store()
        bob_before = await store.load("openai:bob")
        manual_clock.advance(30)  # t=80: alice's token is due, bob's is not
        model = hub.model("openai:m")
        replies = await asyncio.gather(
            *(model.complete("hi", principal=Principal(p)) for p in ["alice", "bob"] * 8)
        )
        bob_after = await store.load("openai:bob")
    assert {r.text for r in replies} == {"hello alice", "hello bob"}
    refreshes = [f for f in auth_server.forms if f["grant_type"] == "refresh_token"]
    assert len(refreshes) == 1  # one for alice however many calls waited
    assert bob_before == bob_after
    alice_tokens = {t for u, t in provider.seen if u == "alice"}
    assert len(alice_tokens) == 1  # every alice call used the refreshed token


async def test_revoked_refresh_token_fails_that_principal_as_auth_and_escalates(
    host: PluginHost,
    manual_clock: VirtualClock,
    auth_server: AuthServer,
    app_secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    escalated: list[Failure] = []

    class Escalations:
        @hookimpl
        def patchwire_escalate(self, failure: Failure) -> None:
            escalated.append(failure)

    host.register(Escalations(), "test-escalations")
    events: list[Event] = []
    caplog.set_level(logging.DEBUG, logger="patchwire")
    async with (
        serve_provider(auth_server) as provider,
        delegated_hub(host, manual_clock, auth_server, provider.url, events=events) as hub,
    ):
        await consent(hub, "alice")
        await consent(hub, "bob")
        auth_server.revoke_refresh_tokens("alice")
        manual_clock.advance(100)  # both due for refresh; alice's refresh is refused
        with pytest.raises(AuthError) as caught:
            await hub.model("openai:m").complete("hi", principal=Principal("alice"))
        bob = await hub.model("openai:m").complete("hi", principal=Principal("bob"))
        # the entry is gone: alice fails fast until she authorizes again
        with pytest.raises(AuthError, match="must authorize"):
            await hub.model("openai:m").complete("hi", principal=Principal("alice"))
        await consent(hub, "alice")
        again = await hub.model("openai:m").complete("hi", principal=Principal("alice"))
    assert bob.text == "hello bob" and again.text == "hello alice"
    assert "principal 'alice' must authorize connector 'openai' again" in caught.value.message
    assert "invalid_grant" in caught.value.message
    assert [f.principal for f in escalated][:1] == ["alice"]
    assert all(f.category == "auth" for f in escalated)
    acquired = [e.data["principal"] for e in events if e.kind is EventKind.CREDENTIAL_ACQUIRED]
    assert acquired == ["alice", "bob", "alice"]  # each consent, per principal
    failed = [e for e in events if e.kind is EventKind.CREDENTIAL_FAILED]
    assert failed and failed[0].data["principal"] == "alice"
    # No token, access or refresh, in any event, error or log line.
    every_token = [
        v
        for r in auth_server.issued
        for k, v in r.items()
        if k in ("access_token", "refresh_token")
    ]
    text = "\n".join([caplog.text, repr(events), str(caught.value), repr(escalated)])
    assert every_token and not any(t in text for t in every_token)


async def test_token_exchange_narrows_scopes_for_the_downstream_service(
    host: PluginHost, manual_clock: VirtualClock, auth_server: AuthServer, app_secret: str
) -> None:
    async with serve_provider(auth_server) as upstream, serve_provider(auth_server) as downstream:
        extra = {
            "downstream": {
                "type": "openai",
                "base_url": downstream.url,
                "cache": {"ttl": 0},
                "retry": {"max_attempts": 1},
                "auth": {
                    "scheme": "oauth2_token_exchange",
                    "token_url": auth_server.url,
                    "client_id": "patchwire-app",
                    "client_secret": "env:PW_TEST_APP_SECRET",
                    "subject_connector": "openai",
                    "audience": "https://downstream.example",
                    "scopes": ["read"],
                },
            }
        }
        async with delegated_hub(host, manual_clock, auth_server, upstream.url, extra=extra) as hub:
            await consent(hub, "alice")
            reply = await hub.model("downstream:m").complete("hi", principal=Principal("alice"))
            full = await hub.model("openai:m").complete("hi", principal=Principal("alice"))
    assert reply.text == "hello alice" and full.text == "hello alice"
    exchanged = [f for f in auth_server.forms if f["grant_type"].endswith("token-exchange")]
    assert len(exchanged) == 1
    assert exchanged[0]["scope"] == "read"
    assert exchanged[0]["audience"] == "https://downstream.example"
    assert downstream.scopes == ["read"]  # narrower than the user's own token
    assert upstream.scopes == ["read write"]


async def test_a_callback_with_another_users_state_is_refused(
    host: PluginHost, manual_clock: VirtualClock, auth_server: AuthServer, app_secret: str
) -> None:
    async with (
        serve_provider(auth_server) as provider,
        delegated_hub(host, manual_clock, auth_server, provider.url) as hub,
    ):
        start = hub.begin_authorization("openai", "alice")
        with pytest.raises(AuthError, match="does not match a flow"):
            await hub.complete_authorization("openai", "mallory", code="x", state=start.state)
        assert "verifier" not in repr(start) and start.verifier.reveal() not in repr(start)
        with pytest.raises(InvalidRequestError):
            hub.begin_authorization("openai", "not a valid id!")
