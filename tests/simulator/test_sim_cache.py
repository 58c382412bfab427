"""The simulator's prompt cache (issue 22): prefixes remembered per simulator, bounded,
deterministic, expiring on the clock the simulator passes in."""

from __future__ import annotations

from patchwire.testing.sim_cache import TTL_1H, TTL_5M, CacheBlock, CachePlan, PromptCache


def implicit(*tokens: int, minimum: int = 1024, granularity: int = 128) -> CachePlan:
    blocks = tuple(CacheBlock(f"block-{i}-{n}", n) for i, n in enumerate(tokens))
    return CachePlan(blocks, minimum=minimum, implicit_ttl=300.0, granularity=granularity)


def test_implicit_reads_the_longest_seen_prefix_in_steps_and_never_writes() -> None:
    cache = PromptCache()
    assert cache.use("k", implicit(1100, 10), 1110, now=0.0).read == 0
    use = cache.use("k", implicit(1100, 20), 1120, now=1.0)
    assert (use.read, use.written) == (1024, 0)  # 1100 rounded down to 8 x 128
    assert cache.use("k", implicit(1100, 10), 1110, now=2.0).read == 1024 + 0  # 1110 -> 1024
    assert cache.use("other", implicit(1100, 10), 1110, now=2.0).read == 0  # namespaces apart
    assert cache.use("k", implicit(500, 10), 510, now=3.0).read == 0  # too short to cache


def test_entries_expire_on_the_clock_and_a_read_refreshes_them() -> None:
    cache = PromptCache()
    cache.use("k", implicit(2000, minimum=1024, granularity=1), 2000, now=0.0)
    assert cache.use("k", implicit(2000, 5, granularity=1), 2005, now=299.0).read == 2000
    # The read at 299 s kept it alive until 599 s.
    assert cache.use("k", implicit(2000, 6, granularity=1), 2006, now=598.0).read == 2000
    assert cache.use("k", implicit(2000, 7, granularity=1), 2007, now=2000.0).read == 0


def test_memory_is_bounded_least_recently_used_first() -> None:
    cache = PromptCache(capacity=3)
    for n in range(10):
        cache.use("k", implicit(1024 + n, granularity=1), 1024 + n, now=0.0)
    assert len(cache) == 3
    assert cache.use("k", implicit(1024, granularity=1), 1024, now=1.0).read == 0
    assert cache.use("k", implicit(1033, granularity=1), 1033, now=1.0).read == 1033


def explicit(*blocks: tuple[int, float | None]) -> CachePlan:
    made = tuple(CacheBlock(f"b{i}", n, ttl) for i, (n, ttl) in enumerate(blocks))
    return CachePlan(made, minimum=1024)


def test_explicit_writes_up_to_each_breakpoint_by_ttl_class_then_reads() -> None:
    cache = PromptCache()
    plan = explicit((1500, TTL_1H), (600, TTL_5M), (40, None))
    first = cache.use("k", plan, 2140, now=0.0)
    assert (first.read, first.written_1h, first.written_5m) == (0, 1500, 600)
    again = cache.use("k", plan, 2140, now=10.0)
    assert (again.read, again.written) == (2100, 0)
    # After five minutes only the one-hour prefix is left: read it, write the rest again.
    later = cache.use("k", plan, 2140, now=400.0)
    assert (later.read, later.written_1h, later.written_5m) == (1500, 0, 600)


def test_explicit_caches_nothing_without_a_breakpoint_or_below_the_minimum() -> None:
    cache = PromptCache()
    assert cache.use("k", explicit((5000, None)), 5000, now=0.0).written == 0
    short = explicit((1000, TTL_5M), (10, None))
    assert cache.use("k", short, 1010, now=0.0).written == 0
    assert cache.use("k", short, 1010, now=1.0).read == 0
