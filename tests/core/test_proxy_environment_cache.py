"""The environment's proxy variables are cached between requests (patchwire.proxy._Environment)
but a change to the environment applies to the very next request."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire import proxy
from patchwire.errors import ConfigError
from patchwire.proxy import ProxyRules

NAMES = ["HTTP_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "PATCHWIRE_UNRELATED"]
VALUES = ["http://proxy-a.example:3128", "http://proxy-b.example:8080", "api.example", "*", ""]
URLS = ["http://api.example/v1", "https://api.example/v1", "http://other.example/x"]


@contextmanager
def environment_kept() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in NAMES}
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        saved.setdefault(name, os.environ.get(name))
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def answer(rules: ProxyRules, url: str) -> str | None:
    try:
        proxy = rules.for_url(url)
    except ConfigError as err:  # a malformed variable: the same error either way
        return f"error: {err}"
    return None if proxy is None else str(proxy.url)


def test_a_variable_set_between_two_requests_applies_to_the_second() -> None:
    rules = ProxyRules(None, None, "test")
    with environment_kept():
        assert rules.for_url(URLS[0]) is None
        os.environ["HTTP_PROXY"] = VALUES[0]
        first = rules.for_url(URLS[0])
        assert first is not None and first.url.host == "proxy-a.example"
        os.environ["HTTP_PROXY"] = VALUES[1]  # same variables, new value
        second = rules.for_url(URLS[0])
        assert second is not None and second.url.host == "proxy-b.example"
        os.environ["NO_PROXY"] = "api.example"
        assert rules.for_url(URLS[0]) is None
        del os.environ["NO_PROXY"], os.environ["HTTP_PROXY"]
        assert rules.for_url(URLS[0]) is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(NAMES),
            st.none() | st.sampled_from(VALUES),
            st.sampled_from(URLS),
        ),
        max_size=12,
    )
)
def test_cached_answer_always_equals_urllibs_fresh_answer(
    steps: list[tuple[str, str | None, str]],
) -> None:
    rules = ProxyRules(None, None, "test")
    with environment_kept():
        for name, value, url in steps:
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
            got = answer(rules, url)
            fresh = proxy._environment
            proxy._environment = proxy._Environment()  # nothing read yet: reads now
            try:
                want = answer(rules, url)
            finally:
                proxy._environment = fresh
            assert got == want
