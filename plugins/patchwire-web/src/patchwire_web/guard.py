"""The SSRF guard: no connection to a private, loopback or link-local address by default.

A check on the host name alone is not enough: ``localhost``, ``127.0.0.1.nip.io`` or a name
whose DNS answer changes between the check and the connection would all pass it. The
guard therefore sits in the resolver of the connector's own session, so the addresses it
approves are the ones aiohttp connects to; IP literals, which aiohttp never resolves, are
checked before each request (and each redirect). An IPv6 address is also judged by the
IPv4 address it embeds, if any (6to4, Teredo, NAT64, IPv4-mapped/-compatible/-translated,
ISATAP): ``2002:a00:1::1`` is 10.0.0.1 reached through a 6to4 relay.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = ["AddressRefused", "GuardedResolver", "embedded_ipv4", "literal_refusal", "refusal"]


class AddressRefused(OSError):
    """Raised by the resolver; the connector turns it into ``InvalidRequestError``."""


# IPv6 forms that carry an IPv4 address, and where: a packet to one of them reaches that
# IPv4 host through a tunnel, a translator or the host's own stack.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215 local-use prefix
_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291 IPv4-compatible (deprecated)
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 IPv4-translated


def _v4(bits: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(bits & 0xFFFFFFFF)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses ``ip`` embeds, each with the name of the form that embeds it."""
    bits = int(ip)
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if ip.ipv4_mapped is not None:
        found.append(("an IPv4-mapped address", ip.ipv4_mapped))
    if ip in _TRANSLATED:
        found.append(("an IPv4-translated address", _v4(bits)))
    if ip in _COMPATIBLE and int(ip) > 1:  # :: and ::1 are not IPv4 addresses
        found.append(("an IPv4-compatible address", _v4(bits)))
    if ip in _NAT64:
        found.append(("a NAT64 address", _v4(bits)))
    if ip in _NAT64_LOCAL:
        # RFC 6052 /48: the IPv4 address is split around the reserved "u" octet (bits 64-71).
        found.append(
            ("a NAT64 address", _v4(((bits >> 64) & 0xFFFF) << 16 | (bits >> 40) & 0xFFFF))
        )
    if ip.sixtofour is not None:
        found.append(("a 6to4 address", ip.sixtofour))
    if ip.teredo is not None:
        server, client = ip.teredo
        found.append(("a Teredo address", server))
        found.append(("a Teredo address", client))
    # ISATAP: an interface identifier of 00-00-5E-FE (u/g bits aside) then the IPv4 address.
    if (bits >> 32) & 0xFCFFFFFF == 0x00005EFE:
        found.append(("an ISATAP address", _v4(bits)))
    return found


def _own_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "not a public address"
    return None


def refusal(address: str) -> str | None:
    """Why ``address`` (an IP address) may not be connected to, or None when it is public.

    An IPv6 address that embeds an IPv4 address (mapped, translated, compatible, NAT64,
    6to4, Teredo, ISATAP) is refused when the embedded address would be, whatever the
    IPv6 address looks like on its own: it reaches that IPv4 host.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # the same host, judged as IPv4 (public ones allowed)
        else:
            for form, inner in embedded_ipv4(ip):
                reason = _own_refusal(inner)
                if reason is not None:
                    return f"{form} embedding {inner}, {reason}"
    return _own_refusal(ip)


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
