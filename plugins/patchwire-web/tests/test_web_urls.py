"""URL checks: one reading of every URL, and the problem named when there is none."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire_web.urls import UrlProblem, check_url

_ADDRESSES = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)


@st.composite
def _legacy(draw: st.DrawFn) -> str:
    """Another notation inet_aton reads as the same IPv4 address, never the canonical one."""
    address = draw(_ADDRESSES)
    octets = address.packed
    value = int(address)
    form = draw(st.sampled_from(["integer", "hex", "octal-part", "short", "hex-part", "dot"]))
    if form == "integer":
        return str(value)
    if form == "hex":
        return hex(value)
    if form == "octal-part":
        index = draw(st.integers(0, 3))
        parts = [str(o) for o in octets]
        parts[index] = "0" + oct(octets[index])[2:]
        return ".".join(parts)
    if form == "short":  # a.b.c with c the last 16 bits, or a.b with b the last 24
        if draw(st.booleans()):
            return f"{octets[0]}.{octets[1]}.{value & 0xFFFF}"
        return f"{octets[0]}.{value & 0xFFFFFF}"
    if form == "hex-part":
        return ".".join([hex(octets[0]), *(str(o) for o in octets[1:])])
    return f"{address}."


@settings(max_examples=300, deadline=None)
@given(_legacy(), st.sampled_from(["", ":8080"]))
def test_no_legacy_ipv4_notation_is_ever_accepted(host: str, port: str) -> None:
    """Invariant: a host a resolver would read as an IPv4 address is accepted only written
    as four decimal numbers, so the address the guard judges is the one the URL shows."""
    with pytest.raises(UrlProblem, match="legacy notation"):
        check_url(f"http://{host}{port}/path")


@settings(max_examples=100, deadline=None)
@given(_ADDRESSES)
def test_canonical_ipv4_addresses_are_accepted(address: ipaddress.IPv4Address) -> None:
    assert check_url(f"https://{address}:443/x?y=1#frag") == f"https://{address}:443/x?y=1"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/a?b=c",
        "http://xn--bcher-kva.example/",
        "https://bücher.example/",
        "http://[2606:4700::1]:8443/",
        "http://host_with_underscore.example/",
        "http://example.org./",
        "http://192.0.2.1/",
        "http://1e100.net/",
    ],
)
def test_ordinary_urls_pass(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.org/", "not an http(s) URL"),
        ("http:///nohost", "has no host"),
        ("http://example.org:65536/", "port '65536'"),
        ("http://example.org:-1/", "port '-1'"),
        ("http://example.org:http/", "port 'http'"),
        ("http://[::1/", "not a valid URL"),
        ("http://exa mple.org/", "contains ' '"),
        ("http://exa\tmple.org/", "control character '\\t'"),
        ("http://example..org/", "empty label"),
        ("http://example.org%2F@x/", "carries credentials"),
    ],
)
def test_each_problem_is_named(url: str, problem: str) -> None:
    with pytest.raises(UrlProblem) as info:
        check_url(url)
    assert problem in str(info.value)


def test_credentials_are_never_echoed() -> None:
    with pytest.raises(UrlProblem) as info:
        check_url("https://alice:s3cret-token@example.org/")
    assert "s3cret" not in str(info.value) and "alice" not in str(info.value)
