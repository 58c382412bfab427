"""The simulator's prompt cache: prefixes it has seen, so replies report cache reads and writes.

Providers bill a prompt prefix they have already processed at a lower rate (a *read*),
and some charge extra for storing one (a *write*). A wire format describes a request's
prompt as :class:`CacheBlock` units in the order the provider reads them (tools, system,
messages) and says how its provider caches (:class:`CachePlan`); :class:`PromptCache`
remembers prefixes per simulator, keyed by a chained digest of the blocks, and answers
what one request read and wrote (:class:`CacheUse`), which each wire spells in its own
usage fields.

Two ways of caching, as the providers do:

* implicit (OpenAI, Gemini): every block boundary of a prompt at least ``minimum``
  tokens long is remembered; a later prompt reads its longest remembered prefix, rounded
  down to ``granularity`` tokens. Nothing is reported as written.
* explicit (Anthropic): only prefixes ending at a breakpoint are written, each with its
  breakpoint's time to live; a later prompt reads the longest remembered prefix ending
  at one of its block boundaries up to its last breakpoint, and writes the rest up to
  that breakpoint, split by time-to-live class.

Entries expire on the simulator's clock (a read refreshes one, as the providers do), and
at most ``capacity`` are kept, the least recently used dropped first, so memory stays
bounded however long a simulator runs. Everything is deterministic: no randomness, only
the request order and the clock.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = [
    "NO_CACHE_USE",
    "TTL_1H",
    "TTL_5M",
    "CacheBlock",
    "CachePlan",
    "CacheUse",
    "PromptCache",
    "canonical",
]

#: Anthropic's two time-to-live classes, in seconds
TTL_5M = 300.0
TTL_1H = 3600.0


@attrs.frozen
class CacheBlock:
    """One unit of a prompt: ``key`` is its canonical text (what must match byte for
    byte), ``tokens`` what it counts, ``breakpoint`` the time to live in seconds of an
    explicit cache breakpoint placed after it (None: no breakpoint)."""

    key: str
    tokens: int
    breakpoint: float | None = None


@attrs.frozen
class CachePlan:
    """How a request may use its provider's prompt cache.

    ``implicit_ttl`` set: implicit caching with that time to live; None: explicit
    breakpoints only. ``minimum``: the shortest prefix cached, in tokens.
    ``granularity``: reads are reported in multiples of it (OpenAI: 128).
    """

    blocks: tuple[CacheBlock, ...]
    minimum: int
    implicit_ttl: float | None = None
    granularity: int = 1


@attrs.frozen
class CacheUse:
    """What one request read from and wrote to the prompt cache, in tokens."""

    read: int = 0
    written_5m: int = 0
    written_1h: int = 0

    @property
    def written(self) -> int:
        return self.written_5m + self.written_1h


NO_CACHE_USE = CacheUse()


def canonical(value: Any) -> str:
    """A request fragment as a block key: the same JSON value gives the same text,
    whatever the order of its object keys."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _prefixes(namespace: str, blocks: Sequence[CacheBlock]) -> list[tuple[bytes, int]]:
    """(digest, tokens) of every prefix ending at a block boundary, shortest first."""
    digest = hashlib.sha256(namespace.encode("utf-8", "surrogatepass")).digest()
    out: list[tuple[bytes, int]] = []
    tokens = 0
    for block in blocks:
        digest = hashlib.sha256(digest + block.key.encode("utf-8", "surrogatepass")).digest()
        tokens += max(0, block.tokens)
        out.append((digest, tokens))
    return out


class PromptCache:
    """Prompt prefixes one simulator has seen, with their expiry instants."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        # digest -> (expires at, time to live)
        self._entries: OrderedDict[bytes, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def use(self, namespace: str, plan: CachePlan, total: int, now: float) -> CacheUse:
        """What a request of ``total`` prompt tokens read and wrote under ``plan`` at ``now``;
        its prefixes are remembered for the requests after it. ``namespace`` separates
        what must not share a cache (keys, models)."""
        prefixes = _prefixes(namespace, plan.blocks)
        if plan.implicit_ttl is not None:
            return self._implicit(plan, prefixes, total, now)
        return self._explicit(plan, prefixes, total, now)

    def _hit(self, digest: bytes, now: float) -> bool:
        entry = self._entries.get(digest)
        if entry is None:
            return False
        expires, ttl = entry
        if expires <= now:
            del self._entries[digest]
            return False
        self._entries[digest] = (now + ttl, ttl)  # a read refreshes the entry
        self._entries.move_to_end(digest)
        return True

    def _store(self, digest: bytes, ttl: float, now: float) -> None:
        old = self._entries.get(digest)
        # A shorter write never shortens a longer-lived entry.
        expires = max(now + ttl, old[0] if old is not None else 0.0)
        self._entries[digest] = (expires, max(ttl, old[1] if old is not None else 0.0))
        self._entries.move_to_end(digest)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def _longest_hit(self, prefixes: Sequence[tuple[bytes, int]], minimum: int, now: float) -> int:
        for digest, tokens in reversed(prefixes):
            if tokens >= minimum and self._hit(digest, now):
                return tokens
        return 0

    def _implicit(
        self, plan: CachePlan, prefixes: list[tuple[bytes, int]], total: int, now: float
    ) -> CacheUse:
        read = min(self._longest_hit(prefixes, plan.minimum, now), total)
        read -= read % max(1, plan.granularity)
        ttl = plan.implicit_ttl or 0.0
        for digest, tokens in prefixes:
            if tokens >= plan.minimum:
                self._store(digest, ttl, now)
        return CacheUse(read=read)

    def _explicit(
        self, plan: CachePlan, prefixes: list[tuple[bytes, int]], total: int, now: float
    ) -> CacheUse:
        marks = [i for i, block in enumerate(plan.blocks) if block.breakpoint is not None]
        if not marks:
            return NO_CACHE_USE
        last = marks[-1]
        read = min(self._longest_hit(prefixes[: last + 1], plan.minimum, now), total)
        written_5m = written_1h = 0
        covered = read  # tokens already read or written, from the start of the prompt
        for index in marks:
            digest, tokens = prefixes[index]
            tokens = min(tokens, total)
            if tokens < plan.minimum:
                continue  # too short to cache: processed as plain input
            ttl = plan.blocks[index].breakpoint or TTL_5M
            self._store(digest, ttl, now)
            if tokens > covered:
                # The tokens between the previous breakpoint and this one take this
                # breakpoint's time-to-live class.
                if ttl >= TTL_1H:
                    written_1h += tokens - covered
                else:
                    written_5m += tokens - covered
                covered = tokens
        return CacheUse(read=read, written_5m=written_5m, written_1h=written_1h)
