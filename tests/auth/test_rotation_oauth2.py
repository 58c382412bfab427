"""Rotation of OAuth2 credentials without a restart: a client secret (and a JWT bearer
signing key) replaced in its ``file:`` source while the authorization server switches to
it, across a running workload, with no failed call.

Integration: authlib's authorization server on 127.0.0.1 (``authserver.py``), real aiohttp;
time is virtual and moved by hand (``manual_clock``).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from patchwire.clock import VirtualClock
from patchwire.events import Event, EventKind
from patchwire.plugins import PluginHost
from patchwire.testing import FakeScript

from .authserver import AuthServer, Client, serve
from .support import CLIENT_ID, hub_for, oauth2_table
from .test_oauth2 import resource

pytestmark = pytest.mark.integration

OLD_SECRET = "old-client-secret-0123456789"
NEW_SECRET = "new-client-secret-9876543210"


async def workload(model: Any, n: int) -> list[str]:
    replies = await asyncio.gather(
        *(model.complete(f"q{i}") for i in range(n)), return_exceptions=True
    )
    return [r.text if not isinstance(r, BaseException) else repr(r) for r in replies]


async def test_a_client_secret_rotated_in_its_file_is_read_on_invalid_client_with_no_failed_call(
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    tmp_path: Path,
) -> None:
    secret_file = tmp_path / "client_secret"
    secret_file.write_text(OLD_SECRET + "\n")
    client = Client(CLIENT_ID, OLD_SECRET)
    events: list[Event] = []
    async with serve(AuthServer([client], expires_in=3600)) as server:
        fake_scripts["fake"] = FakeScript(default=resource(server))
        table = oauth2_table(server.url, client_secret=f"file:{secret_file}", client_auth="post")
        async with hub_for(plugin_host, manual_clock, {"auth": table}, events=events) as hub:
            model = hub.model("fake:m")
            outcomes = await workload(model, 10)
            # The rotation: the server knows only the new secret and revokes the tokens
            # granted to the old one; the mounted file changes at the same moment. The
            # file source's 60 s TTL has not run out, so patchwire still holds the old one.
            client.client_secret = NEW_SECRET
            server.revoke_all()
            secret_file.write_text(NEW_SECRET + "\n")
            outcomes += await workload(model, 10)
            # And a token that expires later is renewed with the new secret straight away.
            manual_clock.advance(3601)
            outcomes += await workload(model, 10)
    assert outcomes == ["ok"] * 30
    secrets_sent = [form["client_secret"] for form in server.forms]
    # One refused request with the old secret, however many calls were refused: the re-read
    # happens inside the token request all of them wait on.
    assert secrets_sent == [OLD_SECRET, OLD_SECRET, NEW_SECRET, NEW_SECRET]
    auth = [e.kind for e in events if e.operation == "auth"]
    assert auth.count(EventKind.CREDENTIAL_FAILED) == 0  # the retry inside succeeded


async def test_an_env_client_secret_is_never_reread_so_a_refused_one_fails_once_as_auth(
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The documented rule for ``env:``: read once, at first use; rotating it takes a restart."""
    monkeypatch.setenv("PW_ROTATION_SECRET", OLD_SECRET)
    client = Client(CLIENT_ID, OLD_SECRET)
    async with serve(AuthServer([client])) as server:
        fake_scripts["fake"] = FakeScript(default=resource(server))
        table = oauth2_table(server.url, client_secret="env:PW_ROTATION_SECRET", client_auth="post")
        async with hub_for(plugin_host, manual_clock, {"auth": table}) as hub:
            before = await workload(hub.model("fake:m"), 3)
            client.client_secret = NEW_SECRET
            server.revoke_all()
            monkeypatch.setenv("PW_ROTATION_SECRET", NEW_SECRET)
            after = await workload(hub.model("fake:m"), 3)
    assert before == ["ok"] * 3
    assert all(o.startswith("AuthError") for o in after) and any(
        "invalid_client" in o for o in after
    )
    assert [form["client_secret"] for form in server.forms] == [OLD_SECRET, OLD_SECRET]


def _signing_key(folder: Path, name: str) -> tuple[Path, ECKey]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = folder / name
    path.write_bytes(pem)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, ECKey.import_key(public)


async def test_a_jwt_bearer_key_rotated_in_its_file_is_read_on_invalid_grant_with_no_failed_call(
    plugin_host: PluginHost,
    manual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
    tmp_path: Path,
) -> None:
    old_file, old_public = _signing_key(tmp_path, "old.pem")
    new_file, new_public = _signing_key(tmp_path, "new.pem")
    key_file = tmp_path / "signing.pem"
    key_file.write_bytes(old_file.read_bytes())
    client = Client(
        "svc@example",
        grant_types=("urn:ietf:params:oauth:grant-type:jwt-bearer",),
        public_key=old_public,
    )
    async with serve(AuthServer([client], expires_in=3600)) as server:
        fake_scripts["fake"] = FakeScript(default=resource(server))
        table = {
            "scheme": "jwt_bearer",
            "private_key": f"file:{key_file}",
            "issuer": "svc@example",
            "subject": "svc@example",
            "token_url": server.url,
        }
        async with hub_for(plugin_host, manual_clock, {"auth": table}) as hub:
            model = hub.model("fake:m")
            outcomes = await workload(model, 5)
            client.public_key = new_public  # the server trusts only the new key now
            server.revoke_all()
            key_file.write_bytes(new_file.read_bytes())
            outcomes += await workload(model, 5)
    assert outcomes == ["ok"] * 10
    assert server.requests == 3  # old key, refused old key, new key
    assert json.dumps(server.forms).count("assertion") == 3
