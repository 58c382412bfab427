"""robots.txt: fetched once per site, kept for its own TTL, consulted before page fetches.

Answers follow RFC 9309: a 2xx body is the rules; a 4xx means there are none (everything
allowed); a 5xx or a failed connection means the site cannot say, which counts as
"disallow everything" for now, so the fetch fails as ``transient`` (retried later, never
remembered).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import cachetools
from patchwire.clock import Clock
from patchwire.errors import TransientError

__all__ = ["Robots", "origin"]

_SITES = 1024  # sites whose rules are remembered at once

#: fetch(robots_url) -> (status, body text)
Fetch = Callable[[str], Awaitable[tuple[int, str]]]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Robots:
    def __init__(self, clock: Clock, ttl: float, user_agent: str) -> None:
        self._user_agent = user_agent
        self._rules: cachetools.TTLCache[str, RobotFileParser] = cachetools.TTLCache(
            maxsize=_SITES, ttl=ttl, timer=clock.now
        )
        # One fetch per site however many calls ask at once; evicting a lock in use
        # costs at most one extra fetch.
        self._locks: cachetools.LRUCache[str, asyncio.Lock] = cachetools.LRUCache(maxsize=_SITES)

    async def allowed(self, url: str, fetch: Fetch) -> bool:
        site = origin(url)
        rules = self._rules.get(site)
        if rules is None:
            lock = self._locks.get(site)
            if lock is None:
                lock = self._locks[site] = asyncio.Lock()
            async with lock:
                rules = self._rules.get(site)
                if rules is None:
                    rules = await self._load(site, fetch)
                    self._rules[site] = rules
        return rules.can_fetch(self._user_agent, url)

    @staticmethod
    async def _load(site: str, fetch: Fetch) -> RobotFileParser:
        robots_url = f"{site}/robots.txt"
        status, text = await fetch(robots_url)
        rules = RobotFileParser(robots_url)
        if 200 <= status < 300:
            rules.parse(text.splitlines())
        elif 400 <= status < 500:
            rules.parse([])  # no rules: everything allowed
        else:
            raise TransientError(
                f"{robots_url} answered {status}; until it can be read, the site's pages are"
                " not fetched"
            )
        return rules
