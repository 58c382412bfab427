"""Attack: reaching a private address through the web connector (issue 13, item 6).

Two holes were open. An IPv6 address that embeds a private IPv4 one (6to4 ``2002::/16``
above all, whose relay delivers to the embedded address) was judged as a public IPv6
address. And URLs that the standard library, yarl and aiohttp read differently ended as
``integration`` errors or a raw ``ValueError``, and ``0x7f000001`` was resolved to
127.0.0.1 and fetched when private addresses were allowed, though the URL never showed it.
Now every embedding of a non-public IPv4 address is refused, and a URL with a legacy IPv4
notation, a bad port or a broken host is ``invalid_request`` naming the problem before
anything is sent. The server here is a real aiohttp app on loopback (integration).
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.errors import IntegrationError, InvalidRequestError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire_web.guard import literal_refusal, refusal
from patchwire_web.plugin import plugin

# Any 32-bit address, weighted towards the ranges an attacker aims at: loopback, 10/8,
# link-local (cloud metadata), 192.168/16 and 172.16/12.
_TARGETS = st.one_of(
    st.integers(0, 2**32 - 1),
    st.integers(0x7F000000, 0x7FFFFFFF),
    st.integers(0x0A000000, 0x0AFFFFFF),
    st.integers(0xA9FE0000, 0xA9FEFFFF),
    st.integers(0xC0A80000, 0xC0A8FFFF),
    st.integers(0xAC100000, 0xAC1FFFFF),
)


@st.composite
def _non_public_v4(draw: st.DrawFn) -> ipaddress.IPv4Address:
    """An IPv4 address the guard refuses on its own."""
    return draw(_TARGETS.map(ipaddress.IPv4Address).filter(lambda a: refusal(str(a)) is not None))


def _v6(bits: int) -> str:
    return str(ipaddress.IPv6Address(bits))


@st.composite
def _embeddings(draw: st.DrawFn) -> tuple[ipaddress.IPv4Address, str, str]:
    """A non-public IPv4 address, one IPv6 form that embeds it, and that form's name."""
    v4 = draw(_non_public_v4())
    inner = int(v4)
    rest = draw(st.integers(0, 2**80 - 1))  # the bits a form leaves free
    public_v4 = int(ipaddress.IPv4Address("93.184.216.34"))
    forms = {
        "mapped": (0xFFFF << 32) | inner,
        "translated": (0xFFFF << 48) | inner,
        "compatible": inner,
        "nat64": (0x64FF9B << 96) | inner,
        # RFC 6052 /48: prefix, 16 bits of the address, the zero u octet, 16 more bits.
        "nat64-local": (0x0064FF9B0001 << 80)
        | ((inner >> 16) << 64)
        | ((inner & 0xFFFF) << 40)
        | (rest & (2**40 - 1)),
        "6to4": (0x2002 << 112) | (inner << 80) | (rest & (2**80 - 1)),
        "teredo-server": (0x20010000 << 96) | (inner << 64) | (rest & (2**64 - 1)),
        "teredo-client": (0x20010000 << 96)
        | (public_v4 << 64)
        | (rest & (2**32 - 1)) << 32
        | (inner ^ 0xFFFFFFFF),
        "isatap": (0x26064700 << 96)
        | ((rest & (2**32 - 1)) << 64)
        | (draw(st.sampled_from([0x00005EFE, 0x02005EFE])) << 32)
        | inner,
    }
    name = draw(st.sampled_from(sorted(forms)))
    return v4, name, _v6(forms[name])


@settings(max_examples=500, deadline=None)
@given(_embeddings())
def test_every_embedding_of_a_private_ipv4_address_is_refused(
    embedding: tuple[ipaddress.IPv4Address, str, str],
) -> None:
    """Invariant: for any IPv4 address the guard refuses (private, loopback, link-local or
    otherwise non-public), every IPv6 form that embeds it (mapped, translated, compatible,
    NAT64 /96 and /48, 6to4, Teredo server and client, ISATAP) is refused, as a literal and
    as a resolved address (one rule judges both)."""
    v4, form, address = embedding
    assert refusal(address) is not None, f"{address}, the {form} form of {v4}"
    assert literal_refusal(f"[{address}]") is not None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("2002:a00:1::1", "a 6to4 address embedding 10.0.0.1, a private address"),
        ("2002:7f00:1::", "a 6to4 address embedding 127.0.0.1, a loopback address"),
        ("2002:a9fe:a9fe::", "a 6to4 address embedding 169.254.169.254, a link-local"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "a Teredo address embedding 10.0.0.1"),
        ("::7f00:1", "an IPv4-compatible address embedding 127.0.0.1"),
        ("64:ff9b::a00:1", "a NAT64 address embedding 10.0.0.1"),
    ],
)
def test_the_reason_names_the_form_and_the_embedded_address(address: str, reason: str) -> None:
    assert (refusal(address) or "").startswith(reason)


def test_a_6to4_address_of_a_public_ipv4_address_is_still_allowed() -> None:
    # The rule is about what is embedded, not a blanket ban on 6to4.
    assert refusal("2002:5db8:d822::1") is None  # 93.184.216.34


# --- URLs that libraries read differently ---------------------------------------------------


@pytest.fixture
async def site() -> AsyncIterator[dict[str, Any]]:
    """A loopback server counting the requests that reach it."""
    state: dict[str, Any] = {"hits": 0}

    async def anything(request: web.Request) -> web.Response:
        state["hits"] += 1
        if request.path == "/bounce":
            # A Location the server chose: the loopback address in a legacy notation.
            location = f"http://0x7f000001:{state['port']}/landed"
            return web.Response(status=302, headers={"Location": location})
        return web.Response(text="reached", content_type="text/plain")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    state["port"] = runner.addresses[0][1]
    yield state
    await runner.cleanup()


def _hub(host: PluginHost, allow_private: bool) -> Hub:
    host.register(plugin, "web")
    connector = {
        "type": "web",
        "allow_private": allow_private,
        "respect_robots": False,
        "timeout": 3,
        "retry": {"max_attempts": 1},
    }
    return Hub.from_dict({"connectors": {"web": connector}}, host=host)


@pytest.mark.integration
@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://2130706433:P/", "port 'P' is not a number from 1 to 65535"),
        ("http://0x7f000001:{port}/", "legacy notation"),
        ("http://2130706433:{port}/", "legacy notation"),
        ("http://0177.0.0.1:{port}/", "legacy notation"),
        ("http://127.1:{port}/", "legacy notation"),
        ("http://127.0.0.1.:{port}/", "legacy notation"),
        ("http://[::1:{port}/", "not a valid URL"),
        ("http://[::1/", "not a valid URL"),
        ("http://127.0.0.1:99999/", "port '99999' is not a number"),
        ("http://127.0.0.1:0/", "port '0' is not a number"),
        ("http://%31%32%37.0.0.1:{port}/", "contains '%'"),
        ("http://a b:{port}/", "contains ' '"),
        ("http://[fe80::zz]:{port}/", "not a valid URL"),
    ],
)
async def test_a_url_libraries_disagree_on_is_invalid_request_naming_the_problem(
    plugin_host: PluginHost, site: dict[str, Any], allow_private: bool, url: str, problem: str
) -> None:
    async with _hub(plugin_host, allow_private) as hub:
        with pytest.raises(InvalidRequestError) as info:
            await hub.tool("web").call("fetch", url=url.format(port=site["port"]))
    assert problem in info.value.message
    assert info.value.attempts == 0
    assert site["hits"] == 0


@pytest.mark.integration
async def test_credentials_in_a_url_are_refused_without_being_echoed(
    plugin_host: PluginHost, site: dict[str, Any]
) -> None:
    secret = "hunter2-" + "x" * 12
    async with _hub(plugin_host, True) as hub:
        with pytest.raises(InvalidRequestError, match="carries credentials") as info:
            await hub.tool("web").call("fetch", url=f"http://me:{secret}@127.0.0.1:{site['port']}/")
    assert secret not in str(info.value)
    assert site["hits"] == 0


@pytest.mark.integration
async def test_an_embedded_private_address_is_refused_before_connecting(
    plugin_host: PluginHost,
) -> None:
    async with _hub(plugin_host, False) as hub:
        with pytest.raises(InvalidRequestError, match=r"6to4 address embedding 127\.0\.0\.1"):
            await hub.tool("web").call("fetch", url="http://[2002:7f00:1::1]:8080/")


@pytest.mark.integration
async def test_the_canonical_loopback_url_still_works_when_private_is_allowed(
    plugin_host: PluginHost, site: dict[str, Any]
) -> None:
    async with _hub(plugin_host, True) as hub:
        result = await hub.tool("web").call("fetch", url=f"http://127.0.0.1:{site['port']}/x")
    assert result.text == "reached"
    assert site["hits"] == 1


@pytest.mark.integration
async def test_a_redirect_to_a_legacy_notation_is_not_followed(
    plugin_host: PluginHost, site: dict[str, Any]
) -> None:
    """Even where private addresses are allowed, a Location whose host hides an address
    is the server answering in an unexpected form, not a URL to resolve and fetch."""
    async with _hub(plugin_host, True) as hub:
        with pytest.raises(IntegrationError, match="legacy notation") as info:
            await hub.tool("web").call("fetch", url=f"http://127.0.0.1:{site['port']}/bounce")
    assert "redirected to a URL that cannot be fetched" in info.value.message
    assert site["hits"] == 1  # the bounce itself, never /landed
