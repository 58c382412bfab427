"""The SSRF guard: addresses are judged after resolution, not by the host name."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire_web.guard import AddressRefused, GuardedResolver, literal_refusal, refusal

_NON_PUBLIC = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "0.0.0.0/8",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
]


@st.composite
def _address_in(draw: st.DrawFn, networks: list[str]) -> str:
    network = ipaddress.ip_network(draw(st.sampled_from(networks)))
    offset = draw(st.integers(0, network.num_addresses - 1))
    return str(network.network_address + offset)


@settings(max_examples=300, deadline=None)
@given(_address_in(_NON_PUBLIC))
def test_every_private_loopback_and_link_local_address_is_refused(address: str) -> None:
    """Invariant: no address in a private, loopback, link-local or otherwise non-public
    range is ever approved, written plainly or as an IPv4-mapped IPv6 address."""
    assert refusal(address) is not None
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        assert refusal(f"::ffff:{address}") is not None


@settings(max_examples=100, deadline=None)
@given(_address_in(["8.8.8.0/24", "1.1.1.0/24", "93.184.216.0/24", "2606:4700::/32"]))
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(address) is None


def test_reasons_name_the_kind_of_address() -> None:
    assert refusal("127.0.0.1") == "a loopback address"
    assert refusal("169.254.169.254") == "a link-local address"  # cloud metadata
    assert refusal("10.1.2.3") == "a private address"
    assert literal_refusal("[::1]") == "a loopback address"
    assert literal_refusal("example.org") is None


class _Answers(AbstractResolver):
    def __init__(self, *hosts: str) -> None:
        self.hosts = hosts

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=h, port=port, family=family, proto=0, flags=0)
            for h in self.hosts
        ]

    async def close(self) -> None:
        return None


async def test_a_public_name_that_resolves_to_a_private_address_is_refused() -> None:
    resolver = GuardedResolver(_Answers("10.0.0.7"))
    with pytest.raises(
        AddressRefused, match=r"innocent\.example resolves to 10\.0\.0\.7, a private"
    ):
        await resolver.resolve("innocent.example", 80)


async def test_only_public_answers_are_kept_so_only_they_are_connected_to() -> None:
    resolver = GuardedResolver(_Answers("127.0.0.1", "93.184.216.34"))
    answers = await resolver.resolve("mixed.example", 443)
    assert [a["host"] for a in answers] == ["93.184.216.34"]


async def test_a_name_resolving_to_a_6to4_address_of_a_private_one_is_refused() -> None:
    """Issue 13.6: the resolver judges an embedded IPv4 address like a plain one."""
    resolver = GuardedResolver(_Answers("2002:a00:7::1"))
    with pytest.raises(AddressRefused, match=r"6to4 address embedding 10\.0\.0\.7"):
        await resolver.resolve("innocent.example", 80, socket.AF_INET6)
