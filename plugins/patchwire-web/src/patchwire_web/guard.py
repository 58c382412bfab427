"""The SSRF guard: no connection to a private, loopback or link-local address by default.

A check on the host name alone is not enough: ``localhost``, ``127.0.0.1.nip.io`` or a name
whose DNS answer changes between the check and the connection would all pass it. The
guard therefore sits in the resolver of the connector's own session, so the addresses it
approves are the ones aiohttp connects to; IP literals, which aiohttp never resolves, are
checked before each request (and each redirect).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = ["AddressRefused", "GuardedResolver", "literal_refusal", "refusal"]


class AddressRefused(OSError):
    """Raised by the resolver; the connector turns it into ``InvalidRequestError``."""


def refusal(address: str) -> str | None:
    """Why ``address`` (an IP address) may not be connected to, or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "not a public address"
    return None


def literal_refusal(host: str) -> str | None:
    """Why ``host`` may not be connected to when it is an IP literal; None for names."""
    try:
        return refusal(host.strip("[]"))
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """Resolves through ``inner`` and keeps only public addresses; none left: refused.

    ``trusted`` names hosts exempt from the guard: the configured proxies (a corporate proxy
    usually has a private address). The targets reached through a proxy are checked by the
    connector before each request instead, since this resolver never sees them.
    """

    def __init__(
        self, inner: AbstractResolver, trusted: Callable[[str], bool] = lambda host: False
    ) -> None:
        self._inner = inner
        self._trusted = trusted

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._trusted(host):
            return results
        allowed = [r for r in results if refusal(r["host"]) is None]
        if not allowed:
            first = results[0]["host"] if results else "no address"
            reason = refusal(first) if results else "unresolvable"
            raise AddressRefused(f"{host} resolves to {first}, {reason}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()
