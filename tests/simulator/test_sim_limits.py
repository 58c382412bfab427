"""SimRateLimits: per-key token buckets per minute (pure, time passed in)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.testing.sim_limits import LimitKind, SimLimits, SimRateLimits

requests_ = st.lists(
    st.tuples(st.floats(0, 30), st.integers(0, 400)), min_size=1, max_size=60
)  # (seconds since the previous request, tokens)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 50), st.integers(1, 2000), requests_)
def test_admitted_work_never_exceeds_burst_plus_refill(
    rpm: int, tpm: int, plan: list[tuple[float, int]]
) -> None:
    """Invariant: in any interval [a, b], admitted requests <= rpm + rpm/60*(b-a), same for tokens;
    headers stay within [0, limit] and the reset within a minute."""
    limits = SimRateLimits(SimLimits(requests_per_minute=rpm, tokens_per_minute=tpm))
    now = 0.0
    admitted: list[tuple[float, int]] = []
    for gap, tokens in plan:
        now += gap
        if limits.admit("k", tokens, now) is None:
            admitted.append((now, tokens))
        state = limits.state("k", now)
        for window in state.windows().values():
            assert 0 <= window.remaining <= window.limit
            assert 0 <= window.reset <= 60 + 1e-6
    for i, (start, _) in enumerate(admitted):
        spent = 0
        for count, (when, tokens) in enumerate(admitted[i:], start=1):
            spent += tokens
            span = when - start
            assert count <= rpm + rpm / 60 * span + 1e-6
            assert spent <= tpm + tpm / 60 * span + 1e-6


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 20), st.integers(10, 500), st.integers(1, 200), st.integers(0, 40))
def test_waiting_the_advertised_time_is_enough(rpm: int, tpm: int, tokens: int, burst: int) -> None:
    """Invariant: after a refusal with a finite wait, the same request fits after that wait;
    a refusal charges nothing; a request bigger than the whole limit is too large, forever."""
    limits = SimRateLimits(SimLimits(requests_per_minute=rpm, tokens_per_minute=tpm))
    now = 0.0
    for _ in range(burst):
        limits.admit("k", tokens, now)
    before = limits.state("k", now)
    breach = limits.admit("k", tokens, now)
    if breach is None:
        return
    assert limits.state("k", now) == before
    if tokens > tpm:
        assert breach.too_large and breach.kind is LimitKind.TOKENS and math.isinf(breach.wait)
        assert limits.admit("k", tokens, now + 3600) is not None
        return
    assert not breach.too_large and 0 < breach.wait <= 60 + 1e-9
    assert limits.admit("k", tokens, now + breach.wait) is None


def test_keys_have_their_own_buckets() -> None:
    limits = SimRateLimits(SimLimits(requests_per_minute=1))
    assert limits.admit("a", 0, 0.0) is None
    assert limits.admit("a", 0, 0.0) is not None
    assert limits.admit("b", 0, 0.0) is None


def test_no_limits_admit_everything_and_report_nothing() -> None:
    limits = SimRateLimits(SimLimits())
    assert all(limits.admit("k", 10**9, 0.0) is None for _ in range(100))
    assert limits.state("k", 0.0).windows() == {}
