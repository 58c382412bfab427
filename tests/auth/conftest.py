"""Fixtures for the auth tests: the loopback authorization server and a hand-driven clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from patchwire.clock import VirtualClock

from .authserver import AuthServer, Client, serve
from .support import CLIENT_ID, CLIENT_SECRET, SECRET_ENV


@pytest.fixture
async def auth_server() -> AsyncIterator[AuthServer]:
    async with serve(AuthServer([Client(CLIENT_ID, CLIENT_SECRET)])) as server:
        yield server


@pytest.fixture
def manual_clock() -> VirtualClock:
    """Virtual time that moves only when a test advances it.

    Tests that talk to a loopback server use it: autojump would leap over the real I/O
    wait straight to the next timer (an attempt's timeout).
    """
    return VirtualClock(autojump=False)


@pytest.fixture
def client_secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    return CLIENT_SECRET
