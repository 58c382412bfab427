"""Access tokens and the cache that keeps one per scheme: refreshed before expiry, single-flight.

However many calls find the token stale (or are told by a 401 that it is refused), exactly
one token request is in flight; everyone else waits for its answer. The request runs in
its own task, so a caller whose deadline passes stops waiting without cancelling it for the
others. Expiry is measured on the hub's clock, not the wall clock (so virtual time drives
it in tests), from the moment the request was sent, which errs on the early side.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from contextvars import ContextVar
from types import MappingProxyType

import attrs

from patchwire.clock import Clock
from patchwire.secrets import Secret

__all__ = ["AccessToken", "TokenCache"]


@attrs.frozen
class AccessToken:
    """What a token endpoint granted. ``value`` never shows itself."""

    value: Secret
    token_type: str = "Bearer"
    expires_in: float | None = None  # seconds, as the endpoint said; None: until refused
    scope: str | None = None
    #: what a delegated grant returned for refreshing it (``patchwire.auth.delegated``)
    refresh_token: Secret | None = None

    def authorization(self) -> str:
        """The ``Authorization`` header value."""
        return f"{self.token_type} {self.value.reveal()}"


@attrs.frozen
class _Held:
    token: AccessToken
    refresh_at: float
    generation: int


# Which token generation each cache handed to the current task, so that a task refreshing
# after a 401 can tell whether someone already replaced the token it was refused with.
# Values are replaced, never mutated: child tasks get a copy of the context, not a share.
_SEEN: ContextVar[Mapping[int, int]] = ContextVar(
    "patchwire_token_generation_seen", default=MappingProxyType({})
)
_KEYS = itertools.count(1)


class TokenCache:
    """Holds one token from ``fetch`` and replaces it ``leeway`` seconds before it expires.

    For short-lived tokens the leeway is capped at half the lifetime, so a 60 s token is
    still used for 30 s rather than refetched on every call.
    """

    def __init__(
        self,
        clock: Clock,
        fetch: Callable[[], Awaitable[AccessToken]],
        *,
        leeway: float = 60.0,
    ) -> None:
        if leeway < 0:
            raise ValueError("leeway must be >= 0")
        self._clock = clock
        self._fetch = fetch
        self._leeway = leeway
        self._held: _Held | None = None
        self._inflight: asyncio.Task[_Held] | None = None
        self._generation = 0
        self._key = next(_KEYS)
        #: token requests started so far (a number for tests and ``patchwire doctor``)
        self.requests = 0

    @property
    def token(self) -> AccessToken | None:
        """The current token, if one was obtained and has not been refused."""
        return self._held.token if self._held is not None else None

    def fresh(self) -> bool:
        held = self._held
        return held is not None and self._clock.now() < held.refresh_at

    async def get(self) -> AccessToken:
        """A token that is not within ``leeway`` of its expiry, fetching one if needed."""
        held = self._held
        if held is None or self._clock.now() >= held.refresh_at:
            held = await self._join()
        self._remember(held.generation)
        return held.token

    async def refresh(self) -> AccessToken:
        """A token other than the one this task was last given (the server refused that one).

        When another task already replaced it, that newer token is returned without a
        request: one refresh per refused token, however many calls were refused.
        """
        seen = _SEEN.get().get(self._key)
        held = self._held
        if (
            held is not None
            and seen is not None
            and held.generation > seen
            and self._clock.now() < held.refresh_at
        ):
            self._remember(held.generation)
            return held.token
        if self._inflight is None:
            self._held = None
        held = await self._join()
        self._remember(held.generation)
        return held.token

    async def aclose(self) -> None:
        task, self._inflight = self._inflight, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task

    def _remember(self, generation: int) -> None:
        seen = _SEEN.get()
        if seen.get(self._key) != generation:
            _SEEN.set(MappingProxyType({**seen, self._key: generation}))

    async def _join(self) -> _Held:
        task = self._inflight
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._obtain(), name="patchwire-token-request"
            )
            self._inflight = task
            task.add_done_callback(self._settled)
        return await asyncio.shield(task)

    async def _obtain(self) -> _Held:
        self.requests += 1
        sent = self._clock.now()
        token = await self._fetch()
        lifetime = token.expires_in
        if lifetime is None:
            refresh_at = math.inf
        else:
            refresh_at = sent + lifetime - min(self._leeway, lifetime / 2)
        self._generation += 1
        held = _Held(token, refresh_at, self._generation)
        self._held = held
        return held

    def _settled(self, task: asyncio.Task[_Held]) -> None:
        if self._inflight is task:
            self._inflight = None
        # Every waiter may have given up (deadlines); mark the outcome as seen so a failed
        # request is not reported again as "exception never retrieved".
        if not task.cancelled():
            task.exception()

    def __repr__(self) -> str:
        state = "empty" if self._held is None else ("fresh" if self.fresh() else "stale")
        return f"<TokenCache {state} generation={self._generation} requests={self.requests}>"
