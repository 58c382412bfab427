"""Fixtures: a plugin host with the fake and openai connectors, the authorization server
with a client allowed the authorization-code, refresh and token-exchange grants."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from patchwire.clock import VirtualClock
from patchwire.plugins import PluginHost
from patchwire.testing.fake import FakePlugin
from patchwire_openai.plugin import plugin as openai_plugin

from tests.auth.authserver import TOKEN_EXCHANGE, AuthServer, Client, serve

CLIENT_ID = "patchwire-app"
CLIENT_SECRET = "app-secret-0123456789abcdef"
SECRET_ENV = "PW_TEST_APP_SECRET"
REDIRECT = "http://127.0.0.1:9/callback"


@pytest.fixture
def host() -> PluginHost:
    built = PluginHost(load_entry_points=False)
    built.register(FakePlugin(), "patchwire.testing.fake", distribution="patchwire")
    built.register(openai_plugin, "patchwire_openai.plugin", distribution="patchwire-openai")
    return built


@pytest.fixture
def manual_clock() -> VirtualClock:
    """Moves only when a test advances it: the loopback servers' I/O is real."""
    return VirtualClock(autojump=False)


@pytest.fixture
def app_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    return CLIENT_SECRET


def app_client() -> Client:
    return Client(
        CLIENT_ID,
        CLIENT_SECRET,
        grant_types=("authorization_code", "refresh_token", TOKEN_EXCHANGE),
        redirect_uris=(REDIRECT,),
    )


@pytest.fixture
async def auth_server() -> AsyncIterator[AuthServer]:
    async with serve(AuthServer([app_client()], expires_in=120)) as server:
        yield server
