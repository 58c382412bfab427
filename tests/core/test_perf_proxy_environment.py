"""The proxy rule's environment check (issue 19) compares the dict's size, its last key and
the proxy variables' values by identity instead of the whole environment: every way a
variable urllib reads can change between two requests must still apply to the second,
including the ones that keep the environment's size (one variable removed, another set)
and a one-byte last key, which os.environ may hand back as the same object."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire import proxy
from patchwire.proxy import ProxyRules

from tests.core.test_proxy_environment_cache import answer

_PROXY_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")
NAMES = [
    "HTTP_PROXY",
    "Http_Proxy",
    "http_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "REQUEST_METHOD",
    "PATCHWIRE_UNRELATED",
    "Q",  # one byte: os.environ shares its key object
]
VALUES = ["http://proxy-a.example:3128", "http://proxy-b.example:8080", "api.example", "*", "", "x"]
URLS = ["http://api.example/v1", "https://api.example/v1", "http://other.example/x"]


@contextmanager
def environment_kept() -> Iterator[pytest.MonkeyPatch]:
    """No variable these tests touch is set; each is as it was afterwards (set them
    through the monkeypatch given)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in {*NAMES, *_PROXY_NAMES, *(name.lower() for name in _PROXY_NAMES)}:
            patch.setenv(name, "")  # recorded as it was, so a test's own setting is undone
            patch.delenv(name)
        yield patch


@pytest.fixture(autouse=True)
def kept() -> Iterator[None]:
    with environment_kept():
        yield


def fresh(url: str) -> str | None:
    """The answer of a rule that has read nothing yet."""
    kept = proxy._environment
    proxy._environment = proxy._Environment()
    try:
        return answer(ProxyRules(None, None, "test"), url)
    finally:
        proxy._environment = kept


def test_a_variable_removed_and_a_proxy_set_keeps_the_size_and_still_applies() -> None:
    rules = ProxyRules(None, None, "test")
    os.environ["PATCHWIRE_UNRELATED"] = "1"
    assert answer(rules, URLS[0]) is None
    del os.environ["PATCHWIRE_UNRELATED"]
    os.environ["HTTP_PROXY"] = VALUES[0]  # same number of variables as before
    assert answer(rules, URLS[0]) == VALUES[0]


def test_a_one_byte_last_key_set_again_does_not_hide_a_new_proxy() -> None:
    rules = ProxyRules(None, None, "test")
    os.environ["PATCHWIRE_UNRELATED"] = "1"
    os.environ["Q"] = "1"  # the last key, one byte long
    assert answer(rules, URLS[1]) is None
    del os.environ["PATCHWIRE_UNRELATED"], os.environ["Q"]
    os.environ["HTTPS_PROXY"] = VALUES[1]
    os.environ["Q"] = "1"  # the same size and, for os.environ, the same last key object
    assert answer(rules, URLS[1]) == VALUES[1]


def test_a_proxy_value_changed_to_one_byte_applies() -> None:
    rules = ProxyRules(None, None, "test")
    os.environ["NO_PROXY"] = "api.example"
    assert answer(rules, URLS[0]) is None
    os.environ["HTTP_PROXY"] = VALUES[0]
    os.environ["NO_PROXY"] = "x"
    assert answer(rules, URLS[0]) == VALUES[0]
    os.environ["NO_PROXY"] = "*"
    assert answer(rules, URLS[0]) is None


def test_request_method_set_drops_the_upper_case_http_proxy() -> None:
    rules = ProxyRules(None, None, "test")
    os.environ["HTTP_PROXY"] = VALUES[0]
    assert answer(rules, URLS[0]) == VALUES[0]
    os.environ["REQUEST_METHOD"] = "GET"  # urllib's CGI rule
    assert answer(rules, URLS[0]) is None


def test_a_value_changed_outside_the_proxy_variables_keeps_the_reading() -> None:
    rules = ProxyRules(None, None, "test")
    os.environ["PATCHWIRE_UNRELATED"] = "before"
    os.environ["HTTPS_PROXY"] = VALUES[0]
    first = rules.for_url(URLS[1])
    reading = proxy._environment.reading()
    os.environ["PATCHWIRE_UNRELATED"] = "after"  # nothing urllib reads
    assert rules.for_url(URLS[1]) is first
    assert proxy._environment.reading() is reading
    os.environ["PATCHWIRE_UNRELATED"] = "again"
    os.environ["Q"] = "1"  # a variable added: read again
    assert proxy._environment.reading() is not reading


operations = st.lists(
    st.tuples(st.sampled_from(NAMES), st.none() | st.sampled_from(VALUES)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(operations, st.sampled_from(URLS)), max_size=10))
def test_every_answer_is_a_fresh_readings(
    steps: list[tuple[list[tuple[str, str | None]], str]],
) -> None:
    """Several changes between two requests (a variable removed and another set keeps
    the size; removing and setting the one-byte last key again keeps its object)."""
    with environment_kept() as patch:
        rules = ProxyRules(None, None, "test")
        for changes, url in steps:
            for name, value in changes:
                if value is None:
                    patch.delenv(name, raising=False)
                else:
                    patch.setenv(name, value)
            assert answer(rules, url) == fresh(url)
