"""Token-endpoint answers become tokens or classified errors; settings are checked at load.

Integration: a scripted aiohttp token endpoint on 127.0.0.1; virtual time moved by hand.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from patchwire.auth.base import AuthContext
from patchwire.auth.jwt_bearer import jwt_bearer_auth
from patchwire.auth.oauth2 import OAuth2ClientCredentials, oauth2_client_credentials_auth
from patchwire.clock import VirtualClock
from patchwire.errors import (
    AuthError,
    ConfigError,
    IntegrationError,
    PatchwireError,
    RateLimitedError,
    TransientError,
)
from patchwire.events import Event, EventKind
from patchwire.redact import Redactor
from patchwire.secrets import EnvSource, FileSource, SecretResolver

from .scripted import NoAnswer, Reply, ScriptedEndpoint, scripted, token

SECRET = "client-secret-7f3a9c2e"

pytestmark = pytest.mark.integration


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def context(
    clock: VirtualClock, session: aiohttp.ClientSession, events: list[Event] | None = None
) -> AuthContext:
    resolver = SecretResolver(
        {"env": EnvSource(environ={"SECRET": SECRET}), "file": FileSource()}, clock, Redactor()
    )
    return AuthContext(
        connector="svc",
        clock=clock,
        secrets=resolver,
        session=lambda: session,
        emit=(events.append if events is not None else lambda e: None),
        source="patchwire.toml",
        table="connectors.svc.auth",
    )


def scheme(ctx: AuthContext, url: str, **extra: Any) -> OAuth2ClientCredentials:
    built = oauth2_client_credentials_auth(
        ctx,
        {
            "scheme": "oauth2_client_credentials",
            "token_url": url,
            "client_id": "cid",
            "client_secret": "env:SECRET",
            **extra,
        },
    )
    assert isinstance(built, OAuth2ClientCredentials)
    return built


@pytest.mark.parametrize(
    ("reply", "error", "status", "words"),
    [
        (Reply(500, {"error": "server_error"}), TransientError, 500, "HTTP 500"),
        (Reply(503, "down", {"Retry-After": "7"}), TransientError, 503, "HTTP 503"),
        (Reply(429, {}, {"Retry-After": "3"}), RateLimitedError, 429, "rate limiting"),
        (Reply(401, {"error": "invalid_client"}), AuthError, 401, "invalid_client"),
        (
            Reply(400, {"error": "invalid_scope", "error_description": "no such scope"}),
            AuthError,
            400,
            "invalid_scope: no such scope",
        ),
        (Reply(404, "<html>nope</html>"), AuthError, 404, "check the token endpoint URL"),
        (Reply(200, "{not json"), IntegrationError, 200, "not JSON"),
        (Reply(200, ["a"]), IntegrationError, 200, "not an object"),
        (Reply(200, {"token_type": "Bearer"}), IntegrationError, 200, "access_token"),
        (token("tok-abcdef", token_type="mac"), IntegrationError, 200, "'mac'"),
        (token("tok-abcdef", expires_in="soon"), IntegrationError, 200, "expires_in"),
        (token("tok-abcdef", expires_in=-5), IntegrationError, 200, "expires_in"),
    ],
)
async def test_failures_are_classified_and_name_the_endpoint(
    reply: Reply,
    error: type[PatchwireError],
    status: int,
    words: str,
    session: aiohttp.ClientSession,
) -> None:
    clock = VirtualClock(autojump=False)
    events: list[Event] = []
    async with scripted(ScriptedEndpoint([reply])) as endpoint:
        auth = scheme(context(clock, session, events), endpoint.url)
        with pytest.raises(error) as info:
            await auth.apply({}, {})
    err = info.value
    assert type(err) is error
    assert err.status == status and err.connector == "svc"
    assert endpoint.url in err.message and words in err.message
    assert SECRET not in str(err) + repr(err)
    assert "tok-abcdef" not in str(err)
    if "Retry-After" in reply.headers:
        assert err.retry_after == float(reply.headers["Retry-After"])
    [failed] = events
    assert failed.kind is EventKind.CREDENTIAL_FAILED and failed.category == err.category.value


async def test_a_token_endpoint_that_does_not_answer_is_transient(
    session: aiohttp.ClientSession,
) -> None:
    clock = VirtualClock(autojump=False)
    async with scripted(ScriptedEndpoint([NoAnswer(lambda: clock.advance(6))])) as endpoint:
        auth = scheme(context(clock, session), endpoint.url, timeout=5)
        with pytest.raises(TransientError) as info:
            await auth.apply({}, {})
    assert "did not answer within 5 s" in info.value.message


async def test_an_unreachable_token_endpoint_is_transient(session: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    auth = scheme(context(VirtualClock(autojump=False), session), f"http://127.0.0.1:{port}/t")
    with pytest.raises(TransientError) as info:
        await auth.apply({}, {})
    assert "could not be reached" in info.value.message


async def test_string_expires_in_and_lowercase_bearer_are_accepted(
    session: aiohttp.ClientSession,
) -> None:
    clock = VirtualClock(autojump=False)
    async with scripted(
        ScriptedEndpoint([token("tok-1234", expires_in="120", token_type="bearer")])
    ) as endpoint:
        auth = scheme(context(clock, session), endpoint.url, audience="https://api.example")
        headers: dict[str, str] = {}
        await auth.apply(headers, {})
    assert headers == {"Authorization": "Bearer tok-1234"}
    assert auth.cache.token is not None and auth.cache.token.expires_in == 120
    assert endpoint.forms[0]["audience"] == "https://api.example"


async def test_the_token_is_registered_for_redaction(session: aiohttp.ClientSession) -> None:
    clock = VirtualClock(autojump=False)
    ctx = context(clock, session)
    async with scripted(ScriptedEndpoint([token("tok-redact-me-please")])) as endpoint:
        await scheme(ctx, endpoint.url).apply({}, {})
    assert ctx.secrets.redact("got tok-redact-me-please") == "got ****"


async def test_a_refused_client_is_retried_only_after_its_secret_rotated(
    session: aiohttp.ClientSession, tmp_path: Any
) -> None:
    clock = VirtualClock(autojump=False)
    secret_file = tmp_path / "secret"
    secret_file.write_text("old-secret-value\n")
    events: list[Event] = []
    ctx = context(clock, session, events)
    refused = Reply(401, {"error": "invalid_client"})
    async with scripted(ScriptedEndpoint([refused, refused, token("tok-new-0001")])) as endpoint:
        auth = scheme(ctx, endpoint.url, client_secret=f"file:{secret_file}", client_auth="post")
        with pytest.raises(AuthError):
            await auth.apply({}, {})
        assert await auth.refresh() is False  # same secret: no second request
        assert len(endpoint.forms) == 1
        secret_file.write_text("new-secret-value\n")
        assert await auth.refresh() is True
        with pytest.raises(AuthError):
            await auth.apply({}, {})
        headers: dict[str, str] = {}
        await auth.apply(headers, {})
    assert [f["client_secret"] for f in endpoint.forms] == [
        "old-secret-value",
        "new-secret-value",
        "new-secret-value",
    ]
    assert headers["Authorization"] == "Bearer tok-new-0001"
    assert [e.kind for e in events] == [
        EventKind.CREDENTIAL_FAILED,
        EventKind.CREDENTIAL_FAILED,
        EventKind.CREDENTIAL_ACQUIRED,  # the first token, though not the first request
    ]


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key", "words"),
    [
        ({"client_secret": "hunter2-literal"}, "client_secret", "credentials never go in"),
        ({"token_url": "http://auth.example.com/token"}, "token_url", "must use https"),
        ({"token_url": "ftp://x/y"}, "token_url", "http(s) URL"),
        ({"client_auth": "jwt"}, "client_auth", "'basic'"),
        ({"scopes": [1, 2]}, "scopes", "list of scope names"),
        ({"leeway": -1}, "leeway", ">= 0"),
        ({"tokenurl": "x"}, "tokenurl", "unknown key"),
    ],
)
def test_oauth2_settings_errors_name_the_key(
    settings: dict[str, Any], key: str, words: str
) -> None:
    clock = VirtualClock()
    ctx = context(clock, None)  # type: ignore[arg-type]
    base = {
        "scheme": "oauth2_client_credentials",
        "token_url": "https://auth.example.com/token",
        "client_id": "cid",
        "client_secret": "env:SECRET",
    }
    with pytest.raises(ConfigError) as info:
        oauth2_client_credentials_auth(ctx, {**base, **settings})
    err = info.value
    assert err.key == key and err.table == "connectors.svc.auth" and err.source == "patchwire.toml"
    assert words in str(err)
    assert "hunter2-literal" not in str(err)


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({}, "key_file"),
        ({"key_file": "env:SECRET", "private_key": "env:SECRET"}, "key_file"),
        ({"private_key": "env:SECRET", "token_url": "https://t.example/token"}, "issuer"),
        ({"private_key": "env:SECRET", "issuer": "me"}, "token_url"),
        ({"private_key": "-----BEGIN PRIVATE KEY-----"}, "private_key"),
        (
            {
                "private_key": "env:SECRET",
                "issuer": "me",
                "token_url": "https://t.example/token",
                "algorithm": "HS256",
            },
            "algorithm",
        ),
    ],
)
def test_jwt_bearer_settings_errors_name_the_key(settings: dict[str, Any], key: str) -> None:
    ctx = context(VirtualClock(), None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as info:
        jwt_bearer_auth(ctx, {"scheme": "jwt_bearer", **settings})
    assert info.value.key == key
    assert "BEGIN PRIVATE KEY" not in str(info.value)


async def test_a_key_file_that_is_not_a_service_account_is_an_auth_error(tmp_path: Any) -> None:
    path = tmp_path / "sa.json"
    path.write_text('{"type": "service_account", "client_email": "x@y"}')
    ctx = context(VirtualClock(), None)  # type: ignore[arg-type]
    with pytest.raises(AuthError) as info:
        jwt_bearer_auth(ctx, {"scheme": "jwt_bearer", "key_file": f"file:{path}"})
    assert "private_key" in info.value.message and f"file:{path}" in info.value.message


async def test_a_large_token_response_arriving_in_pieces_is_read_whole(
    session: aiohttp.ClientSession,
) -> None:
    clock = VirtualClock(autojump=False)
    padding = "x" * 200_000  # several TCP reads
    reply = Reply(200, {"access_token": "tok-big-0001", "expires_in": 60, "note": padding})
    async with scripted(ScriptedEndpoint([reply])) as endpoint:
        headers: dict[str, str] = {}
        await scheme(context(clock, session), endpoint.url).apply(headers, {})
    assert headers["Authorization"] == "Bearer tok-big-0001"


async def test_a_token_response_over_the_limit_is_an_integration_error(
    session: aiohttp.ClientSession,
) -> None:
    clock = VirtualClock(autojump=False)
    reply = Reply(200, {"access_token": "tok-huge-0001", "note": "x" * 300_000})
    async with scripted(ScriptedEndpoint([reply])) as endpoint:
        with pytest.raises(IntegrationError, match="body over"):
            await scheme(context(clock, session), endpoint.url).apply({}, {})
