"""Helpers for the auth tests: hub builders and log capture."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from patchwire.clock import Clock
from patchwire.events import Event
from patchwire.hub import Hub
from patchwire.plugins import PluginHost

CLIENT_ID = "patchwire-client"
CLIENT_SECRET = "s3cret-client-value-0123456789"
SECRET_ENV = "PW_TEST_CLIENT_SECRET"


def hub_for(
    host: PluginHost,
    clock: Clock,
    connector: dict[str, Any],
    *,
    events: list[Event] | None = None,
    hub: dict[str, Any] | None = None,
) -> Hub:
    """A hub with one ``fake`` connector configured by ``connector``: cache off, and one
    attempt unless the test asks for more, because a backoff sleep on a hand-driven clock
    would wait forever (the refresh-and-retry after a 401 is not a policy retry)."""
    table = {"cache": {"ttl": 0}, "retry": {"max_attempts": 1}, **connector}
    built = Hub.from_dict(
        {
            "connectors": {"fake": table},
            **({"hub": hub} if hub else {}),
        },
        host=host,
        clock=clock,
        seed=7,
    )
    if events is not None:
        built.bus.add("test", events.append)
    return built


def oauth2_table(token_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "scheme": "oauth2_client_credentials",
        "token_url": token_url,
        "client_id": CLIENT_ID,
        "client_secret": f"env:{SECRET_ENV}",
        "scopes": ["read"],
        **overrides,
    }


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record as a handler would print it, plus the raw messages and args."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(formatter.format(record))
        parts.append(str(record.msg))
        parts.append(repr(record.args))
        parts.append(repr(record.__dict__))
    return "\n".join(parts)
