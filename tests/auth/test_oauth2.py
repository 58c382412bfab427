"""OAuth2 client credentials and JWT bearer through the Hub, against authlib's own server.

Integration: real aiohttp on 127.0.0.1, a real authorization server (authlib's
``AuthorizationServer`` with its ``ClientCredentialsGrant`` and ``JWTBearerGrant``). Time
is virtual and moved by hand (``manual_clock``), so expiry is exact and nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from patchwire.clock import VirtualClock
from patchwire.errors import AuthError, PatchwireError
from patchwire.events import Event, EventKind
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript

from .authserver import AuthServer, Client, serve
from .support import CLIENT_ID, CLIENT_SECRET, hub_for, oauth2_table

pytestmark = pytest.mark.integration


def resource(server: AuthServer) -> Any:
    """The fake provider: accepts live tokens from ``server``, answers 401 otherwise."""

    def answer(request: Any, attempt: Any) -> Any:
        if server.valid(attempt.headers.get("Authorization")):
            return "ok"
        return AuthError("invalid access token", status=401)

    return answer


def kinds(events: list[Event]) -> list[EventKind]:
    return [e.kind for e in events if e.operation == "auth"]


@pytest.mark.parametrize("client_auth", ["basic", "post"])
async def test_client_credentials_token_is_accepted_by_the_server(
    client_auth: str,
    auth_server: AuthServer,
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    client_secret_env: str,
) -> None:
    fake_scripts["fake"] = FakeScript(default=resource(auth_server))
    events: list[Event] = []
    table = oauth2_table(auth_server.url, client_auth=client_auth, scopes="read write")
    async with hub_for(plugin_host, manual_clock, {"auth": table}, events=events) as hub:
        reply = await hub.model("fake:m").complete("hi")
    assert reply.text == "ok"
    assert auth_server.requests == 1
    form = auth_server.forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "read write"
    assert ("client_secret" in form) == (client_auth == "post")
    assert auth_server.issued[0]["scope"] == "read write"
    assert kinds(events) == [EventKind.CREDENTIAL_ACQUIRED]
    acquired = next(e for e in events if e.kind is EventKind.CREDENTIAL_ACQUIRED)
    assert acquired.data["scheme"] == "oauth2_client_credentials"
    assert acquired.connector == "fake"


async def test_token_is_reused_until_shortly_before_expiry_then_refreshed_once(
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    client_secret_env: str,
) -> None:
    async with serve(AuthServer([Client(CLIENT_ID, CLIENT_SECRET)], expires_in=120)) as server:
        fake_scripts["fake"] = FakeScript(default=resource(server))
        events: list[Event] = []
        table = oauth2_table(server.url, leeway=30)
        async with hub_for(plugin_host, manual_clock, {"auth": table}, events=events) as hub:
            model = hub.model("fake:m")
            await model.complete("a")
            manual_clock.advance(89)  # refresh point: 120 - 30 = 90
            await model.complete("b")
            assert server.requests == 1
            manual_clock.advance(2)
            await model.complete("c")
            await model.complete("d")
            assert server.requests == 2
    headers = [c.headers["Authorization"] for c in fake_scripts["fake"].calls]
    assert headers[0] == headers[1] != headers[2] == headers[3]
    assert kinds(events) == [EventKind.CREDENTIAL_ACQUIRED, EventKind.CREDENTIAL_REFRESHED]


async def test_exactly_one_token_request_for_100_concurrent_calls_on_an_expired_token(
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    client_secret_env: str,
) -> None:
    async with serve(AuthServer([Client(CLIENT_ID, CLIENT_SECRET)], expires_in=300)) as server:
        fake_scripts["fake"] = FakeScript(default=resource(server))
        async with hub_for(plugin_host, manual_clock, {"auth": oauth2_table(server.url)}) as hub:
            model = hub.model("fake:m")
            await model.complete("warm up")
            manual_clock.advance(301)
            replies = await asyncio.gather(*(model.complete(f"q{i}") for i in range(100)))
    assert all(r.text == "ok" for r in replies)
    assert server.requests == 2
    assert {c.headers["Authorization"] for c in fake_scripts["fake"].calls[1:]} == {
        f"Bearer {server.tokens[1]}"
    }


async def test_invalid_client_is_an_auth_error_naming_connector_and_endpoint(
    auth_server: AuthServer,
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    wrong = "wrong-secret-value-98765"
    monkeypatch.setenv("PW_TEST_CLIENT_SECRET", wrong)
    fake_scripts["fake"] = FakeScript(default=resource(auth_server))
    events: list[Event] = []
    dead = tmp_path / "dead.jsonl"
    async with hub_for(
        plugin_host,
        manual_clock,
        {"auth": oauth2_table(auth_server.url)},
        events=events,
        hub={"dead_letter": str(dead)},
    ) as hub:
        with pytest.raises(AuthError) as info:
            await hub.model("fake:m").complete("hi")
    text = str(info.value)
    assert "fake" in text and auth_server.url in text and "invalid_client" in text
    assert wrong not in text + repr(info.value)
    assert info.value.code == "invalid_client"
    # An env: secret cannot rotate, so the refused client is not asked twice.
    assert auth_server.requests == 1
    assert fake_scripts["fake"].calls == []
    failed = [e for e in events if e.kind is EventKind.CREDENTIAL_FAILED]
    assert failed and failed[0].category == "auth" and failed[0].data["scheme"]
    escalated = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [f["category"] for f in escalated] == ["auth"]


async def test_provider_401_gets_a_new_token_and_one_retry(
    auth_server: AuthServer,
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    client_secret_env: str,
) -> None:
    fake_scripts["fake"] = FakeScript(default=resource(auth_server))
    async with hub_for(plugin_host, manual_clock, {"auth": oauth2_table(auth_server.url)}) as hub:
        model = hub.model("fake:m")
        await model.complete("first")
        auth_server.revoke_all()  # the provider stops accepting the cached token
        reply = await model.complete("second")
    assert reply.text == "ok"
    assert reply.attempts == 2
    assert auth_server.requests == 2


async def test_a_second_401_fails_fast_as_auth_and_escalates(
    auth_server: AuthServer,
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    client_secret_env: str,
    tmp_path: Path,
) -> None:
    fake_scripts["fake"] = FakeScript(default=AuthError("token not accepted", status=401))
    dead = tmp_path / "dead.jsonl"
    async with hub_for(
        plugin_host,
        manual_clock,
        {"auth": oauth2_table(auth_server.url)},
        hub={"dead_letter": str(dead)},
    ) as hub:
        with pytest.raises(AuthError) as info:
            await hub.model("fake:m").complete("hi")
    assert info.value.attempts == 2
    assert auth_server.requests == 2  # the first token and exactly one refresh
    assert [json.loads(line)["category"] for line in dead.read_text().splitlines()] == ["auth"]


async def test_403_never_refreshes(
    auth_server: AuthServer,
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    client_secret_env: str,
) -> None:
    fake_scripts["fake"] = FakeScript(default=AuthError("forbidden", status=403))
    async with hub_for(plugin_host, manual_clock, {"auth": oauth2_table(auth_server.url)}) as hub:
        with pytest.raises(AuthError) as info:
            await hub.model("fake:m").complete("hi")
    assert info.value.attempts == 1
    assert auth_server.requests == 1


# --- JWT bearer (RFC 7523) ------------------------------------------------------------------


def _rsa_pem() -> tuple[str, RSAKey]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, RSAKey.import_key(private.public_key())


def _ec_pem() -> tuple[str, ECKey]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return pem, ECKey.import_key(private.public_key())


SA_EMAIL = "svc@project.iam.example.com"


def _service_account(server: AuthServer, pem: str, path: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "client_email": SA_EMAIL,
                "private_key": pem,
                "private_key_id": "key-1",
                "token_uri": server.url,
            }
        )
    )
    return path


async def test_jwt_bearer_with_a_service_account_key_file(
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    tmp_path: Path,
) -> None:
    pem, public = _rsa_pem()
    client = Client(
        SA_EMAIL,
        grant_types=("urn:ietf:params:oauth:grant-type:jwt-bearer",),
        public_key=public,
    )
    async with serve(AuthServer([client], expires_in=600)) as server:
        key_file = _service_account(server, pem, tmp_path / "sa.json")
        fake_scripts["fake"] = FakeScript(default=resource(server))
        events: list[Event] = []
        table = {"scheme": "jwt_bearer", "key_file": f"file:{key_file}", "scopes": ["read"]}
        async with hub_for(plugin_host, manual_clock, {"auth": table}, events=events) as hub:
            model = hub.model("fake:m")
            assert (await model.complete("a")).text == "ok"
            manual_clock.advance(601)
            assert (await model.complete("b")).text == "ok"
        assert server.requests == 2
        form = server.forms[0]
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        token = jwt.decode(form["assertion"], public)
        assert token.header["kid"] == "key-1" and token.header["alg"] == "RS256"
        assert token.claims["iss"] == SA_EMAIL
        assert token.claims["aud"] == server.url
        assert token.claims["scope"] == "read"
        assert token.claims["exp"] - token.claims["iat"] == 3600
    assert kinds(events) == [EventKind.CREDENTIAL_ACQUIRED, EventKind.CREDENTIAL_REFRESHED]
    assert all(e.data["scheme"] == "jwt_bearer" for e in events if e.operation == "auth")


async def test_jwt_bearer_with_a_pem_key_reference_and_issuer(
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    tmp_path: Path,
) -> None:
    pem, public = _ec_pem()
    issuer = "robot@example.com"
    client = Client(
        issuer, grant_types=("urn:ietf:params:oauth:grant-type:jwt-bearer",), public_key=public
    )
    async with serve(AuthServer([client])) as server:
        key = tmp_path / "key.pem"
        key.write_text(pem)
        fake_scripts["fake"] = FakeScript(default=resource(server))
        table = {
            "scheme": "jwt_bearer",
            "private_key": f"file:{key}",
            "issuer": issuer,
            "subject": "user-42",
            "token_url": server.url,
        }
        async with hub_for(plugin_host, manual_clock, {"auth": table}) as hub:
            assert (await hub.model("fake:m").complete("a")).text == "ok"
        claims = jwt.decode(server.forms[0]["assertion"], public).claims
        assert claims["sub"] == "user-42" and claims["iss"] == issuer


async def test_jwt_bearer_signed_with_a_key_the_server_does_not_know_is_auth(
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    tmp_path: Path,
) -> None:
    pem, _ = _rsa_pem()
    _, other_public = _rsa_pem()
    client = Client(
        SA_EMAIL,
        grant_types=("urn:ietf:params:oauth:grant-type:jwt-bearer",),
        public_key=other_public,
    )
    async with serve(AuthServer([client])) as server:
        key_file = _service_account(server, pem, tmp_path / "sa.json")
        fake_scripts["fake"] = FakeScript(default=resource(server))
        table = {"scheme": "jwt_bearer", "key_file": f"file:{key_file}"}
        async with hub_for(plugin_host, manual_clock, {"auth": table}) as hub:
            with pytest.raises(AuthError) as info:
                await hub.model("fake:m").complete("a")
    assert info.value.code == "invalid_grant"
    assert "PRIVATE KEY" not in str(info.value)


async def test_doctor_check_obtains_a_token_or_raises(
    auth_server: AuthServer,
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PW_TEST_CLIENT_SECRET", CLIENT_SECRET)
    async with hub_for(plugin_host, manual_clock, {"auth": oauth2_table(auth_server.url)}) as hub:
        scheme: Any = hub.runtime("fake").auth
        assert (await scheme.check()).startswith(f"obtained from {auth_server.url}")
        described = scheme.describe()
        assert described["client_secret"] == "env:PW_TEST_CLIENT_SECRET"
        assert CLIENT_SECRET not in repr(described)
    monkeypatch.setenv("PW_TEST_CLIENT_SECRET", "not-the-secret")
    async with hub_for(plugin_host, manual_clock, {"auth": oauth2_table(auth_server.url)}) as hub:
        with pytest.raises(PatchwireError):
            await hub.runtime("fake").auth.check()  # type: ignore[attr-defined]
