"""What an auth scheme attached to an attempt, and the one origin it may be sent to.

The pipeline's auth layer records, for every attempt, which headers and query parameters
the scheme's ``apply`` added or changed and whether a TLS context (a client certificate)
came with them, whatever the scheme calls them. ``patchwire.http`` then sends none of it
to any origin but the one the credentials were configured for: the connector's
``base_url``, or else the first request the attempt sends. A scheme core has never seen
gets the rule without doing anything, because the record is taken around ``apply``
rather than asked of the scheme.
"""

from __future__ import annotations

import functools
import ssl
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from patchwire.auth.base import NoAuth

if TYPE_CHECKING:
    from patchwire.auth.base import AuthScheme
    from patchwire.connector import Attempt

__all__ = ["Attached", "Put", "attach", "origin_of", "put_directly", "remember_trust", "trust_only"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# TLS contexts that hold a client certificate, to the twin with the same trust and none.
_TRUST_ONLY: weakref.WeakKeyDictionary[ssl.SSLContext, ssl.SSLContext] = weakref.WeakKeyDictionary()


def remember_trust(context: ssl.SSLContext, trust: ssl.SSLContext) -> None:
    """Record that ``trust`` is ``context`` without its client certificate (the same when it has none)."""
    _TRUST_ONLY[context] = trust


def trust_only(context: ssl.SSLContext | None) -> ssl.SSLContext | None:
    """What may go to another origin of ``context``: its certificate-free twin when known
    (a ``[tls]`` table's CA bundle and ``verify`` still apply), else None, the default."""
    return _TRUST_ONLY.get(context) if context is not None else None


# Every request asks this of its URL and every attempt of its connector's base_url, and a
# connector sends to the same few URLs over and over: the parse is done once per URL
# (urlsplit caches its split the same way; the port and host parse is not cached there).
@functools.lru_cache(maxsize=256)
def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url``, lower-cased, with the scheme's default port filled in.

    Two URLs share an origin exactly when these strings are equal (RFC 6454: scheme, host
    and port). User information is not part of an origin. A URL whose port does not parse
    keeps its raw authority, which then matches nothing that parses.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return f"{scheme}://{parts.netloc.rpartition('@')[2].lower()}"
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = port if port is not None else _DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{host}:{port}" if port is not None else f"{scheme}://{host}"


@attrs.define
class Attached:
    """The credential material of one attempt and the origin it belongs to.

    ``headers``/``params`` are lower-cased names; None means "not recorded", and then
    everything in the attempt's headers and params counts as a credential (an attempt a
    test or a third party built by hand errs on the safe side). ``origin`` is bound on the
    first request when the configuration named none; copies of an attempt
    (``attrs.evolve``) share this object, so they share the binding.
    """

    headers: frozenset[str] | None = None
    params: frozenset[str] | None = None
    tls: bool = True
    origin: str | None = None

    @classmethod
    def nothing(cls) -> Attached:
        """The record of an attempt that carries no credential (a robots.txt fetch, say)."""
        return cls(frozenset(), frozenset(), False, None)

    def allows(self, url: str) -> bool:
        """Whether the attached credentials may be sent to ``url``; binds the origin on first use."""
        target = origin_of(url)
        if self.origin is None:
            self.origin = target
        return target == self.origin

    def is_header(self, name: str) -> bool:
        return self.headers is None or name.lower() in self.headers

    def is_param(self, name: str) -> bool:
        return self.params is None or name.lower() in self.params


async def attach(scheme: AuthScheme, attempt: Attempt, base_url: str | None) -> None:
    """Let ``scheme`` attach its credentials to ``attempt`` and record what it attached.

    The record is the difference between the attempt before and after ``apply``, so it
    holds whatever the scheme set (a header, a query parameter, a cookie header), under
    any name. The scheme's own TLS context is used when the connector's ``[tls]`` table
    gave none; either one counts as attached, since it may hold a client certificate.
    """
    headers, params = attempt.headers, attempt.params
    # The pipeline's attempts start with neither: then all that is there after ``apply`` is
    # what it attached, and there is nothing to copy or compare.
    headers_before = dict(headers) if headers else None
    params_before = dict(params) if params else None
    kind = type(scheme)
    put = _PUT.get(kind)
    if put is not None:
        # A static key: its put is what its apply awaits, called without the coroutine.
        # What it names is what it set, so on an empty dict that is the whole difference.
        names = put(scheme, headers, params)
        attached = names if headers_before is None else _changed(headers, headers_before)
    else:
        # NoAuth (exactly: a subclass may apply something) attaches nothing: no coroutine.
        if kind is not NoAuth:
            await scheme.apply(headers, params)
        attached = _changed(headers, headers_before)
    if attempt.ssl is None:
        attempt.ssl = scheme.ssl_context()
    # Attached(headers, params, tls, origin) with its slots stored here: the type call
    # into attrs' __init__ cost more than the stores, on every attempt (the class has no
    # validator, converter or setattr hook to skip; tests/auth/test_perf_attached_fill.py
    # holds that). Query parameters are nearly never attached: no _changed call for none.
    record: Attached = _new(Attached)
    record.headers = attached
    record.params = _changed(params, params_before) if params or params_before else _NOTHING
    record.tls = attempt.ssl is not None
    record.origin = origin_of(base_url) if base_url else None
    attempt.attached = record


_new = object.__new__

#: A scheme's synchronous apply: sets its credential in (headers, params) and returns the
#: lower-cased names of the headers it set.
Put = Callable[[Any, dict[str, str], dict[str, str]], frozenset[str]]
# By exact type (a subclass may override apply): the schemes whose apply only calls a put.
_PUT: dict[type, Put] = {}


def put_directly(kind: type, put: Put) -> None:
    """Have :func:`attach` call ``put`` for a scheme of exactly ``kind`` instead of awaiting
    its ``apply``, which must do nothing but call ``put`` (issue 19: a coroutine created and
    run on every attempt of every call with a static key)."""
    _PUT[kind] = put


def _changed(now: dict[str, str], before: dict[str, str] | None) -> frozenset[str]:
    """The lower-cased names ``apply`` added or changed, from the dict before (None: empty)."""
    if before is None:
        # Nothing attached (no query parameter, most schemes; no header, no auth at all):
        # the empty set, without a tuple and a cache look-up for it.
        return _lowered(tuple(now)) if now else _NOTHING
    return frozenset(k.lower() for k, v in now.items() if before.get(k) != v)


_NOTHING: frozenset[str] = frozenset()


# A scheme attaches the same names on every attempt (``Authorization``, say): their set is
# built once rather than per attempt. Names only, never values, are kept.
@functools.lru_cache(maxsize=64)
def _lowered(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(name.lower() for name in names)
