"""Properties of the proxy rule (patchwire.proxy), without a network: precedence and secrecy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.proxy import DIRECT, ProxyRules
from yarl import URL

_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")

hosts = st.sampled_from(["api.example.com", "auth.example.net", "127.0.0.1", "internal.corp"])
settings_ = st.one_of(
    st.none(),
    st.just(DIRECT),
    st.sampled_from(["http://hub-proxy:3128", "http://u:p4ss@cred-proxy:8080"]),
)
env_proxies = st.one_of(st.none(), st.sampled_from(["http://env-proxy:3128"]))


@contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for n in _VARS for name in (n, n.lower())}
    try:
        for name in saved:
            os.environ.pop(name, None)
        for name, value in values.items():
            if value is not None:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


@settings(max_examples=200)
@given(hosts, settings_, settings_, env_proxies, st.booleans())
def test_no_proxy_wins_then_connector_then_hub_then_environment_and_no_url_has_credentials(
    host: str, hub: str | None, own: str | None, env: str | None, listed: bool
) -> None:
    rules = ProxyRules(hub, None, "<test>")
    rules.add("c", own, ["https://api.example.com/v1"])  # the connector's own origin
    url = f"https://{host}/path"
    with environment({"HTTPS_PROXY": env, "NO_PROXY": host if listed else None}):
        chosen = rules.for_url(url)
        scoped = rules.scoped(own).for_url(url)
    if listed:
        assert chosen is None and scoped is None
        return
    decided = own if host == "api.example.com" and own is not None else hub
    expected = env if decided is None else (None if decided == DIRECT else decided)
    if expected is None:
        assert chosen is None
        return
    assert chosen is not None
    assert chosen.url.host == URL(expected).host
    assert chosen.url.user is None and chosen.url.password is None
    assert (chosen.auth is not None) == ("@" in expected)
    assert "p4ss" not in repr(chosen) and "p4ss" not in str(chosen.url)
