"""The token cache on virtual time: refreshed before expiry, single-flight, cancellation-safe."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.auth.tokens import AccessToken, TokenCache
from patchwire.clock import VirtualClock, deadline_scope
from patchwire.errors import TransientError
from patchwire.secrets import Secret


class Endpoint:
    """A token endpoint double: each request takes ``latency`` virtual seconds."""

    def __init__(
        self, clock: VirtualClock, *, lifetime: float | None = 100.0, latency: float = 0.5
    ) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.latency = latency
        self.requests = 0
        self.fail_next = 0

    async def fetch(self) -> AccessToken:
        self.requests += 1
        number = self.requests
        await self.clock.sleep(self.latency)
        if self.fail_next:
            self.fail_next -= 1
            raise TransientError("token endpoint down")
        return AccessToken(Secret(f"token-{number}", "test"), expires_in=self.lifetime)


async def test_one_request_for_100_concurrent_callers_on_an_expired_token() -> None:
    clock = VirtualClock()
    endpoint = Endpoint(clock)
    cache = TokenCache(clock, endpoint.fetch, leeway=10)
    assert (await cache.get()).value.reveal() == "token-1"
    await clock.sleep(95)  # past refresh time (100 - 10)
    tokens = await asyncio.gather(*(cache.get() for _ in range(100)))
    assert endpoint.requests == 2
    assert {t.value.reveal() for t in tokens} == {"token-2"}


async def test_one_request_for_100_callers_refused_with_the_same_token() -> None:
    """Invariant: one refresh per refused token, however many callers were refused."""
    clock = VirtualClock()
    endpoint = Endpoint(clock)
    cache = TokenCache(clock, endpoint.fetch)

    async def refused_call() -> str:
        await cache.get()
        await clock.sleep(1)  # the provider answers 401 a moment later
        return (await cache.refresh()).value.reveal()

    async def late_refused_call() -> str:
        await cache.get()
        await clock.sleep(3)  # its 401 arrives after the refresh has finished
        return (await cache.refresh()).value.reveal()

    await cache.get()
    results = await asyncio.gather(
        *(refused_call() for _ in range(100)), *(late_refused_call() for _ in range(10))
    )
    assert endpoint.requests == 2
    assert set(results) == {"token-2"}


async def test_refresh_without_a_token_seen_in_this_task_forces_a_new_one() -> None:
    clock = VirtualClock()
    endpoint = Endpoint(clock)
    cache = TokenCache(clock, endpoint.fetch)
    await asyncio.create_task(cache.get())  # another task's token
    assert (await cache.refresh()).value.reveal() == "token-2"
    assert (await cache.refresh()).value.reveal() == "token-3"


async def test_a_caller_whose_deadline_passes_does_not_cancel_the_request_for_others() -> None:
    clock = VirtualClock()
    endpoint = Endpoint(clock, latency=5)
    cache = TokenCache(clock, endpoint.fetch)

    async def impatient() -> None:
        with deadline_scope(clock, clock.now() + 1):
            await cache.get()

    patient = asyncio.create_task(cache.get())
    with pytest.raises(TimeoutError):
        await impatient()
    token = await patient
    assert token.value.reveal() == "token-1"
    assert endpoint.requests == 1


async def test_a_failed_request_reaches_every_waiter_and_the_next_call_tries_again() -> None:
    clock = VirtualClock()
    endpoint = Endpoint(clock)
    endpoint.fail_next = 1
    cache = TokenCache(clock, endpoint.fetch)
    results = await asyncio.gather(*(cache.get() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, TransientError) for r in results)
    assert endpoint.requests == 1
    assert (await cache.get()).value.reveal() == "token-2"


async def test_a_token_without_expires_in_is_kept_until_refused() -> None:
    clock = VirtualClock()
    endpoint = Endpoint(clock, lifetime=None)
    cache = TokenCache(clock, endpoint.fetch)
    await cache.get()
    await clock.sleep(10 * 86400)
    await cache.get()
    assert endpoint.requests == 1
    assert (await cache.refresh()).value.reveal() == "token-2"


async def test_aclose_cancels_a_request_in_flight() -> None:
    clock = VirtualClock()
    endpoint = Endpoint(clock, latency=50)
    cache = TokenCache(clock, endpoint.fetch)
    waiter = asyncio.create_task(cache.get())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await cache.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert clock.pending() == 0


def test_repr_never_shows_the_token() -> None:
    token = AccessToken(Secret("very-secret-token", "test"), expires_in=60)
    assert "very-secret-token" not in repr(token)
    assert "very-secret-token" not in str(token)


@settings(max_examples=60, deadline=None)
@given(
    lifetime=st.floats(min_value=1, max_value=7200),
    leeway=st.floats(min_value=0, max_value=600),
    gaps=st.lists(st.floats(min_value=0, max_value=4000), min_size=1, max_size=30),
)
def test_a_handed_out_token_is_never_within_its_leeway_of_expiry(
    lifetime: float, leeway: float, gaps: list[float]
) -> None:
    """Invariant: every token get() returns has more than min(leeway, lifetime/2) seconds
    left (measured from when its request was sent), and a request is made only when the
    held token reached that point: requests == 1 + number of refresh points crossed."""

    async def scenario() -> None:
        clock = VirtualClock()
        sent_at: dict[str, float] = {}

        async def fetch() -> AccessToken:
            name = f"t{len(sent_at)}"
            sent_at[name] = clock.now()
            await clock.sleep(0.25)
            return AccessToken(Secret(name, "test"), expires_in=lifetime)

        cache = TokenCache(clock, fetch, leeway=leeway)
        margin = min(leeway, lifetime / 2)
        expected_requests = 0
        refresh_at = -1.0
        for gap in gaps:
            await clock.sleep(gap)
            if clock.now() >= refresh_at:
                expected_requests += 1
                refresh_at = clock.now() + lifetime - margin
            token = await cache.get()
            name = token.value.reveal()
            left = sent_at[name] + lifetime - clock.now()
            assert left >= margin - 0.25 - 1e-6
            assert left > 0
        assert len(sent_at) == expected_requests

    asyncio.run(scenario())
