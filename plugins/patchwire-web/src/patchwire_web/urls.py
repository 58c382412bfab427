"""Which URLs the web connector fetches: http(s), a host that means one thing, a real port.

A URL that the standard library, yarl or aiohttp would reject, or would read differently
from one another, is refused before anything is sent, with the problem named: a port that
is not a number from 1 to 65535, an unclosed ``[`` around an IPv6 address, a character no
host name can hold. So is an IPv4 address in a legacy notation (``0x7f000001``,
``2130706433``, ``0177.0.0.1``, ``127.1``): resolvers turn those into addresses that the
text does not show (all four are 127.0.0.1), which is how SSRF filters get bypassed; the
one accepted form is four decimal numbers. Credentials in a URL (``user:pass@``) are refused
too, without echoing them: the connector's auth scheme sends credentials.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

import yarl

__all__ = ["UrlProblem", "check_url"]

# WHATWG URL: a host whose last label is a number is an IPv4 address, in any of the
# notations inet_aton accepts (decimal, 0x hex, 0-prefixed octal, 1 to 4 parts).
_NUMERIC_LABEL = re.compile(r"(0[xX][0-9A-Fa-f]*|[0-9]+)")
_CANONICAL_PART = re.compile(r"0|[1-9][0-9]{0,2}")
# Characters that cannot appear in a host name, before or after IDNA encoding.
_NOT_IN_HOST = frozenset('%\\"<>^`{|}[]/?#@:')


class UrlProblem(ValueError):
    """What is wrong with a URL, in words a caller can act on.

    ``detail`` says it without the URL, for messages that must not echo one (configuration,
    or a URL carrying credentials, which never appears in the message at all).
    """

    def __init__(self, url: str, detail: str, *, echo: bool = True) -> None:
        super().__init__(f"{url!r}: {detail}" if echo else detail)
        self.detail = detail


def _ipv4_problem(host: str) -> str | None:
    labels = host.split(".")
    if not _NUMERIC_LABEL.fullmatch(labels[-1] or (labels[-2] if len(labels) > 1 else "")):
        return None  # a name, not a number
    if len(labels) == 4 and all(
        _CANONICAL_PART.fullmatch(label) and int(label) <= 255 for label in labels
    ):
        return None
    return (
        f"host {host!r} is an IPv4 address in a legacy notation (hex, octal, a single number,"
        " fewer than four parts or a trailing dot), which resolvers read differently; write it"
        " as four decimal numbers such as 192.0.2.1"
    )


def _host_problem(parts: SplitResult, host: str) -> str | None:
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"host [{host}] is not an IPv6 address"
        return None
    if not host.strip("."):
        return "the URL has no host"
    for char in host:
        if char in _NOT_IN_HOST or char.isspace() or not char.isprintable():
            return f"host {host!r} contains {char!r}, which no host name can hold"
    if ".." in host:
        return f"host {host!r} has an empty label ('..')"
    return _ipv4_problem(host)


def check_url(url: str) -> str:
    """``url`` without its fragment, or ``UrlProblem`` naming what is wrong with it."""
    control = next((c for c in url if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if control is not None:
        # urlsplit silently drops tabs and line breaks: what it read is not what was given.
        raise UrlProblem(url, f"contains the control character {control!r}; percent-encode it")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UrlProblem(url, f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise UrlProblem(url, "not an http(s) URL")
    if "@" in parts.netloc:
        raise UrlProblem(
            url,
            "the URL carries credentials (user:password@); URLs with credentials are not"
            " accepted, the connector's auth scheme sends them",
            echo=False,
        )
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        given = parts.netloc.rpartition(":")[2]
        raise UrlProblem(url, f"port {given!r} is not a number from 1 to 65535")
    host = parts.hostname or ""
    problem = _host_problem(parts, host) if host else "the URL has no host"
    if problem is not None:
        raise UrlProblem(url, problem)
    try:
        parsed = yarl.URL(url)
    except ValueError as exc:
        raise UrlProblem(url, f"not a valid URL ({exc})") from None
    if not parsed.raw_host:
        raise UrlProblem(url, "the URL has no host")
    return parts._replace(fragment="").geturl()
