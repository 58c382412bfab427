"""HTTP caching of GET answers: freshness from ``Cache-Control: max-age``, then revalidation.

A stored answer is served without a request while it is fresh (``max-age`` minus the
``Age`` it already had). After that it is revalidated with ``If-None-Match`` /
``If-Modified-Since``; a 304 refreshes it and its body is served again. ``no-store`` keeps
an answer out; ``no-cache`` stores it but revalidates every time. An answer with neither
a validator nor a positive max-age is not stored: there would be nothing to gain. The
store is bounded in bytes (least recently used answers go first).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import cachetools
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.http import HttpResponse

__all__ = ["HttpCache", "Stored", "cache_control", "fresh_until"]

# Entry overhead counted on top of the body, so empty bodies still have a size.
_OVERHEAD = 512
# Headers of a 304 that describe the transfer, not the stored representation.
_NOT_UPDATED = frozenset({"content-length", "content-encoding", "transfer-encoding"})


def cache_control(headers: Mapping[str, str]) -> dict[str, str | None]:
    """Directives of ``Cache-Control``, names lowercased: ``{"max-age": "60", "no-cache": None}``."""
    out: dict[str, str | None] = {}
    for item in headers.get("Cache-Control", "").split(","):
        name, sep, value = item.strip().partition("=")
        if name:
            out[name.lower()] = value.strip().strip('"') if sep else None
    return out


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def fresh_until(headers: Mapping[str, str], now: float) -> float | None:
    """Until when an answer with ``headers`` received at ``now`` is fresh; None: do not store."""
    directives = cache_control(headers)
    if "no-store" in directives:
        return None
    if "no-cache" in directives:
        return now
    max_age = _seconds(directives.get("max-age"))
    if max_age is None:
        return now
    age = _seconds(headers.get("Age")) or 0.0
    return now + max(0.0, max_age - age)


@attrs.frozen
class Stored:
    response: HttpResponse
    fresh_until: float

    def fresh(self, now: float) -> bool:
        return now < self.fresh_until

    def validators(self) -> dict[str, str]:
        headers = self.response.headers
        out = {}
        if "ETag" in headers:
            out["If-None-Match"] = headers["ETag"]
        if "Last-Modified" in headers:
            out["If-Modified-Since"] = headers["Last-Modified"]
        return out


def _size(entry: Stored) -> int:
    return len(entry.response.body) + _OVERHEAD


class HttpCache:
    """Answers by request key, at most ``max_bytes`` of them."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._entries: cachetools.LRUCache[str, Stored] = cachetools.LRUCache(
            maxsize=max_bytes, getsizeof=_size
        )

    def get(self, key: str) -> Stored | None:
        return self._entries.get(key)

    def store(self, key: str, response: HttpResponse, now: float) -> None:
        until = fresh_until(response.headers, now)
        entry = Stored(response, until) if until is not None else None
        if entry is None or (until == now and not entry.validators()):
            self._entries.pop(key, None)
            return
        if _size(entry) > self._max_bytes:
            self._entries.pop(key, None)
            return
        self._entries[key] = entry

    def revalidated(self, key: str, stored: Stored, answer: HttpResponse, now: float) -> Stored:
        """The stored answer after a 304: its headers updated from the 304's, freshness renewed."""
        headers: CIMultiDict[str] = CIMultiDict(stored.response.headers)
        for name, value in answer.headers.items():
            if name.lower() not in _NOT_UPDATED:
                headers[name] = value
        response = attrs.evolve(stored.response, headers=CIMultiDictProxy(headers))
        until = fresh_until(response.headers, now)
        entry = Stored(response, now if until is None else until)
        if until is None:
            self._entries.pop(key, None)
        else:
            self._entries[key] = entry
        return entry
