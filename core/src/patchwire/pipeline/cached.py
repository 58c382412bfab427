"""The cache stage (DESIGN §5: single-flight): the key a call is cached under, if any,
and the shapes of what each operation stores."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from patchwire.cache import entry_shape, is_vector
from patchwire.cachekey import cache_key
from patchwire.events import EventKind
from patchwire.pipeline.record import Recorder
from patchwire.pipeline.target import Request, Target
from patchwire.types import CallOptions, Completion, ToolResult

__all__ = ["EMBED_ENTRY", "TOOL_ENTRY", "completion_entry", "from_cache", "key_for"]

# What embed and tool calls cache; a shared store's answer of another shape is a miss.
EMBED_ENTRY = entry_shape(is_vector, int, (float, int, type(None)))
TOOL_ENTRY = entry_shape(ToolResult, int)

Key = tuple[str, float | None]


@functools.lru_cache(maxsize=32)
def completion_entry(targets: int) -> Callable[[object], bool]:
    """What a completion caches for a route of ``targets`` targets: (reply, index,
    attempts). Made once per route length, not per call."""
    return entry_shape(Completion, lambda i: type(i) is int and 0 <= i < targets, int)


def key_for(
    targets: Sequence[Target],
    operation: str,
    request: Request | Callable[[Target], Request],
    options: CallOptions,
) -> Key | None:
    """The cache key and ttl for this call, or None when the cache is not consulted.
    ``request`` may be a request function, so an uncached call never builds it."""
    rt = targets[0].runtime
    if rt.cache is None or options.cache is False:
        return None
    if callable(request):
        request = request(targets[0])
    if options.cache is not True and not rt.connector.is_deterministic(request):
        return None
    ttl = options.cache_ttl
    if ttl is None:
        ttl = rt.connector.ttl_for(request)
    # A call's own ttl is part of the key, so a short-ttl caller is never served an
    # entry stored by a long-ttl one (the ttl bounds the age of what it gets).
    scope = None if options.cache_ttl is None else f"ttl={options.cache_ttl!r}"
    if options.principal is not None:
        # A reply fetched with one user's credentials is never served to another.
        scope = f"{scope or ''}|principal={options.principal.id}"
    # One target's label as it is (the join of one item): no generator for the common case.
    route = targets[0].label if len(targets) == 1 else "|".join([t.label for t in targets])
    return cache_key(route, scope, operation, request), ttl


async def from_cache(
    record: Recorder,
    targets: Sequence[Target],
    operation: str,
    key: Key,
    call_id: int,
    compute: Callable[[], Any],
    accept: Callable[[object], bool],
) -> tuple[Any, bool]:
    """The cached entry or the one ``compute`` makes (shared with concurrent identical
    calls); ``accept`` says which stored values are entries of this operation's shape."""
    first = targets[0]
    cache = first.runtime.cache
    assert cache is not None  # key_for gave a key
    value, hit = await cache.get_or_call(key[0], compute, ttl=key[1], accept=accept)
    kind = EventKind.CACHE_HIT if hit else EventKind.CACHE_MISS
    record.event(kind, first.runtime.name, first.model, call_id, operation)
    return value, hit
