"""``client_auth = "private_key_jwt"`` (RFC 7523 §2.2): the client authenticates to the token
endpoint with an assertion signed by its private key instead of a secret, checked by
authlib's own client-assertion verifier in the loopback authorization server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, Key, RSAKey
from patchwire.clock import VirtualClock
from patchwire.errors import AuthError
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript

from . import authserver
from .authserver import AuthServer, Client, serve
from .support import CLIENT_ID, SECRET_ENV, hub_for, oauth2_table

pytestmark = pytest.mark.integration


def pem_of(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class _Assertion(JWTBearerClientAssertion):  # type: ignore[misc]
    audience = ""

    def get_audiences(self) -> list[str]:
        return [self.audience]

    def resolve_client_public_key(self, client: Client, headers: Any) -> Key:
        assert client.public_key is not None
        return client.public_key

    def validate_jti(self, claims: Any, jti: str) -> bool:
        return True


@pytest.fixture(params=["rsa", "ec"])
async def signed(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AuthServer]:
    if request.param == "rsa":
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public: Key = RSAKey.import_key(pem_of(private))
    else:
        private = ec.generate_private_key(ec.SECP256R1())
        public = ECKey.import_key(pem_of(private))
    monkeypatch.setenv(SECRET_ENV, pem_of(private))
    # The test server's client-credentials grant takes this method too, for these tests.
    methods = [*authserver._ClientCredentials.TOKEN_ENDPOINT_AUTH_METHODS, "client_assertion_jwt"]
    monkeypatch.setattr(authserver._ClientCredentials, "TOKEN_ENDPOINT_AUTH_METHODS", methods)
    client = Client(CLIENT_ID, auth_methods=(_Assertion.CLIENT_AUTH_METHOD,), public_key=public)
    server = AuthServer([client])
    async with serve(server) as running:
        verifier = _Assertion()
        verifier.audience = running.url
        running.register_client_auth_method(_Assertion.CLIENT_AUTH_METHOD, verifier)
        yield running


async def test_a_signed_client_assertion_buys_a_token_and_no_key_is_sent(
    signed: AuthServer, plugin_host: PluginHost, fake_scripts: dict[str, FakeScript]
) -> None:
    def answer(request: Any, attempt: Any) -> Any:
        return "ok" if signed.valid(attempt.headers.get("Authorization")) else AuthError("no")

    fake_scripts["fake"] = FakeScript(default=answer)
    table = oauth2_table(signed.url, client_auth="private_key_jwt")
    async with hub_for(plugin_host, VirtualClock(autojump=False), {"auth": table}) as hub:
        reply = await hub.model("fake:m").complete("hi")
    assert reply.text == "ok"
    [form] = signed.forms
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert form["client_id"] == CLIENT_ID
    assert "client_secret" not in form and "PRIVATE KEY" not in str(form)
    assert signed.issued[0]["client_id"] == CLIENT_ID


async def test_an_assertion_signed_by_another_key_is_refused_as_auth(
    signed: AuthServer,
    plugin_host: PluginHost,
    fake_scripts: dict[str, FakeScript],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_ENV, pem_of(ec.generate_private_key(ec.SECP256R1())))
    fake_scripts["fake"] = FakeScript(default="ok")
    table = oauth2_table(signed.url, client_auth="private_key_jwt")
    async with hub_for(plugin_host, VirtualClock(autojump=False), {"auth": table}) as hub:
        with pytest.raises(AuthError) as refused:
            await hub.model("fake:m").complete("hi")
    assert "PRIVATE KEY" not in str(refused.value)
    assert signed.issued == []
