"""rate_limit_info first asks whether any of its six headers came, in one look (issue 19:
six case-insensitive look-ups on every reply, most of them from servers that send none).
That look must find each header alone, in any case, in aiohttp's headers as in a dict."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.limiter import RateLimitInfo
from patchwire_openai.ratelimit import rate_limit_info

HEADERS = {
    "x-ratelimit-limit-requests": ("60", {"requests_limit": 60}),
    "x-ratelimit-remaining-requests": ("59", {"requests_remaining": 59}),
    "x-ratelimit-reset-requests": ("1s", {"requests_reset": 1.0}),
    "x-ratelimit-limit-tokens": ("150000", {"tokens_limit": 150000}),
    "x-ratelimit-remaining-tokens": ("149984", {"tokens_remaining": 149984}),
    "x-ratelimit-reset-tokens": ("6m0s", {"tokens_reset": 360.0}),
}
OTHERS = {"x-request-id": "req-1", "Content-Type": "application/json", "Server": "sim"}


def received(headers: dict[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(headers))


@pytest.mark.parametrize("name", sorted(HEADERS))
@pytest.mark.parametrize("spelling", [str.lower, str.upper, str.title])
def test_each_header_alone_is_read_in_any_case(name: str, spelling: object) -> None:
    text, fields = HEADERS[name]
    sent = {**OTHERS, spelling(name): text}  # type: ignore[operator]
    assert rate_limit_info(received(sent)) == RateLimitInfo(**fields)


def test_a_reply_without_them_says_nothing() -> None:
    assert rate_limit_info(received(OTHERS)) is None
    assert rate_limit_info(received({"x-ratelimit-limit": "5", "ratelimit-remaining": "4"})) is None
    assert rate_limit_info(OTHERS) is None


@given(st.sets(st.sampled_from(sorted(HEADERS))))
def test_aiohttps_headers_and_a_dict_give_the_same_answer(names: set[str]) -> None:
    sent = {**OTHERS, **{name: HEADERS[name][0] for name in names}}
    fields = {key: value for name in names for key, value in HEADERS[name][1].items()}
    # a window whose limit did not come still reports what did
    want = RateLimitInfo(**fields) if fields else None
    assert rate_limit_info(received(sent)) == rate_limit_info(sent) == want
