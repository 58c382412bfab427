"""Properties of the retry policy: it is a pure function, so every claim is checked over
generated (attempt, classification, draw, time left) rather than a few examples."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.classification import RETRYABLE, Classification
from patchwire.errors import Category
from patchwire.retry import RetryPolicy, parse_retry_after, parse_should_retry

PERMANENT = sorted(set(Category) - RETRYABLE)
FAST = settings(max_examples=200, deadline=None)

draws = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
seconds = st.floats(min_value=0.0, max_value=600.0)

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(min_value=1, max_value=10),
    initial=st.floats(min_value=0.0, max_value=10.0),
    cap=st.floats(min_value=0.0, max_value=120.0),
    jitter=st.sampled_from(["full", "decorrelated"]),
    max_hint=st.none() | seconds,
)

classifications = st.builds(
    Classification,
    category=st.sampled_from(list(Category)),
    retry_after=st.none() | seconds,
    should_retry=st.sampled_from([None, None, True, False]),
)


@FAST
@given(
    policy=policies,
    attempt=st.integers(min_value=1, max_value=50),
    classification=classifications,
    draw=draws,
    previous=st.none() | seconds,
)
def test_delay_within_zero_and_cap_or_at_least_the_hint(
    policy: RetryPolicy,
    attempt: int,
    classification: Classification,
    draw: float,
    previous: float | None,
) -> None:
    """Invariant: a granted delay is in [0, cap] without a hint, in [hint, max(cap, hint)] with one."""
    decision = policy.decide(attempt, classification, draw, None, previous)
    if not decision.retry:
        assert decision.delay == 0.0
        return
    hint = classification.retry_after
    assert decision.delay >= 0.0
    if hint is None:
        assert decision.delay <= policy.cap
    else:
        assert hint <= decision.delay <= max(policy.cap, hint)


@settings(max_examples=200, deadline=None)
@given(
    attempt=st.integers(min_value=1, max_value=10**18),
    initial=st.floats(min_value=1e-300, max_value=1e6),
    cap=st.floats(min_value=0.0, max_value=1e6),
    draw=draws,
    jitter=st.sampled_from(["full", "decorrelated"]),
)
def test_backoff_never_overflows_at_any_attempt(
    attempt: int, initial: float, cap: float, draw: float, jitter: str
) -> None:
    """Invariant: backoff is finite and within [0, cap] for attempt numbers up to 10**18."""
    policy = RetryPolicy(initial=initial, cap=cap, jitter=jitter)  # type: ignore[arg-type]
    delay = policy.backoff(attempt, draw)
    assert math.isfinite(delay)
    assert 0.0 <= delay <= cap


@pytest.mark.parametrize("attempt", [1, 2, 10, 1_000, 10**6, 10**9])
def test_full_jitter_at_huge_attempts_is_draw_times_cap(attempt: int) -> None:
    """Invariant: past the doubling that reaches the cap, full jitter is draw * cap."""
    policy = RetryPolicy(initial=1.0, cap=30.0)
    expected = 0.5 * min(30.0, 2.0 ** min(attempt - 1, 10))
    assert policy.backoff(attempt, 0.5) == expected


def test_full_jitter_follows_the_doubling_schedule() -> None:
    """Invariant: full jitter is draw * min(cap, initial * 2**(attempt-1))."""
    policy = RetryPolicy(initial=0.5, cap=8.0)
    assert [policy.backoff(a, 0.999) for a in range(1, 7)] == pytest.approx(
        [0.4995, 0.999, 1.998, 3.996, 7.992, 7.992]
    )
    assert policy.backoff(3, 0.0) == 0.0


@FAST
@given(
    initial=st.floats(min_value=0.0, max_value=10.0),
    cap=st.floats(min_value=0.0, max_value=60.0),
    previous=st.none() | st.floats(min_value=0.0, max_value=1e6),
    draw=draws,
)
def test_decorrelated_jitter_between_initial_and_three_times_previous(
    initial: float, cap: float, previous: float | None, draw: float
) -> None:
    """Invariant: decorrelated jitter is min(cap, uniform(initial, 3 * previous)), previous <= cap."""
    policy = RetryPolicy(initial=initial, cap=cap, jitter="decorrelated")
    delay = policy.backoff(1, draw, previous)
    base = initial if previous is None else min(previous, cap)
    low, high = sorted((initial, 3 * base))
    assert 0.0 <= delay <= cap
    assert delay <= high + 1e-9
    assert delay >= min(low, cap) - 1e-9


@FAST
@given(
    initial=st.floats(min_value=0.0, max_value=10.0),
    cap=st.floats(min_value=0.0, max_value=60.0),
    excess=st.floats(min_value=0.0, max_value=1e300),
    draw=draws,
)
def test_decorrelated_previous_wait_beyond_cap_counts_as_cap(
    initial: float, cap: float, excess: float, draw: float
) -> None:
    """Invariant: a previous wait stretched past the cap by a server hint draws from the
    same range as a previous wait of exactly cap, and never overflows."""
    policy = RetryPolicy(initial=initial, cap=cap, jitter="decorrelated")
    assert policy.backoff(2, draw, cap + excess) == policy.backoff(2, draw, cap)


def _run(
    policy: RetryPolicy,
    classification: Classification,
    draws: list[float],
    durations: list[float] | None = None,
    deadline: float | None = None,
) -> tuple[int, list[float], str]:
    """Follow the policy's decisions the way the pipeline does: (calls, granted waits, last reason)."""
    calls = 0
    elapsed = 0.0
    waits: list[float] = []
    previous: float | None = None
    while True:
        calls += 1
        if durations:
            elapsed += durations[(calls - 1) % len(durations)]
        time_left = None if deadline is None else deadline - elapsed
        draw = draws[(calls - 1) % len(draws)]
        decision = policy.decide(calls, classification, draw, time_left, previous)
        if not decision.retry:
            return calls, waits, decision.reason
        waits.append(decision.delay)
        elapsed += decision.delay
        previous = decision.delay


@FAST
@given(policy=policies, classification=classifications, draws=st.lists(draws, min_size=1))
def test_calls_never_exceed_max_attempts(
    policy: RetryPolicy, classification: Classification, draws: list[float]
) -> None:
    """Invariant: a loop that obeys the decisions makes at most max_attempts calls."""
    calls, _, reason = _run(policy, classification, draws)
    assert calls <= policy.max_attempts
    if reason == "exhausted":
        assert calls == policy.max_attempts


@FAST
@given(
    policy=policies,
    category=st.sampled_from(PERMANENT),
    should_retry=st.sampled_from([None, False]),
    attempt=st.integers(min_value=1, max_value=10),
    draw=draws,
    time_left=st.none() | seconds,
)
def test_permanent_categories_are_never_retried(
    policy: RetryPolicy,
    category: Category,
    should_retry: bool | None,
    attempt: int,
    draw: float,
    time_left: float | None,
) -> None:
    """Invariant: auth, invalid_request, integration, quota, circuit_open, config never retry
    unless the server explicitly says to."""
    classification = Classification(category, retry_after=1.0, should_retry=should_retry)
    decision = policy.decide(attempt, classification, draw, time_left)
    assert not decision.retry
    assert decision.reason == ("permanent" if should_retry is None else "server_said_no")


@FAST
@given(
    policy=policies,
    classification=classifications,
    draws=st.lists(draws, min_size=1),
    durations=st.lists(st.floats(min_value=0.0, max_value=30.0), min_size=1),
    deadline=st.floats(min_value=0.0, max_value=300.0),
)
def test_deadline_is_never_overrun_by_a_granted_wait(
    policy: RetryPolicy,
    classification: Classification,
    draws: list[float],
    durations: list[float],
    deadline: float,
) -> None:
    """Invariant: whenever a wait is granted, attempts so far plus every granted wait end
    strictly before the deadline."""
    _, waits, _ = _run(policy, classification, draws, durations, deadline)
    spent = 0.0
    for index, wait in enumerate(waits):
        spent += durations[index % len(durations)]
        spent += wait
        assert spent < deadline


@FAST
@given(
    policy=policies,
    classification=classifications,
    attempt=st.integers(min_value=1, max_value=10),
    draw=draws,
    time_left=seconds,
)
def test_deadline_refusal_carries_the_full_wait_never_a_shortened_one(
    policy: RetryPolicy,
    classification: Classification,
    attempt: int,
    draw: float,
    time_left: float,
) -> None:
    """Invariant: a deadline only turns a retry into a refusal; the wait it reports is
    exactly the wait that would have been granted without a deadline, and >= time left."""
    unbounded = policy.decide(attempt, classification, draw, None)
    bounded = policy.decide(attempt, classification, draw, time_left)
    if not unbounded.retry:
        assert bounded == unbounded
    elif bounded.retry:
        assert bounded == unbounded
        assert bounded.delay < time_left
    else:
        assert bounded.reason == "deadline"
        assert bounded.delay == unbounded.delay >= time_left


@FAST
@given(
    policy=policies,
    category=st.sampled_from(sorted(RETRYABLE)),
    hint=seconds,
    attempt=st.integers(min_value=1, max_value=10),
    draw=draws,
    time_left=st.none() | seconds,
)
def test_retry_after_is_honoured(
    policy: RetryPolicy,
    category: Category,
    hint: float,
    attempt: int,
    draw: float,
    time_left: float | None,
) -> None:
    """Invariant: with a server hint the wait is at least the hint, and a hint above
    max_hint is never waited for."""
    decision = policy.decide(attempt, Classification(category, retry_after=hint), draw, time_left)
    if decision.retry or decision.reason == "deadline":
        assert decision.delay >= hint
    if policy.max_hint is not None and hint > policy.max_hint and attempt < policy.max_attempts:
        assert decision.reason == "hint_too_long"


@FAST
@given(
    policy=policies,
    category=st.sampled_from(sorted(RETRYABLE)),
    hint=seconds,
    attempt=st.integers(min_value=1, max_value=10),
    draw=draws,
    previous=st.none() | seconds,
)
def test_hinted_wait_is_the_larger_of_backoff_and_hint(
    policy: RetryPolicy,
    category: Category,
    hint: float,
    attempt: int,
    draw: float,
    previous: float | None,
) -> None:
    """Invariant: a hint lengthens the backoff to at least the hint and never replaces a
    longer backoff with a shorter wait."""
    decision = policy.decide(
        attempt, Classification(category, retry_after=hint), draw, None, previous
    )
    if decision.retry:
        assert decision.delay == max(policy.backoff(attempt, draw, previous), hint)


def test_hint_above_max_hint_means_no_retry() -> None:
    """Invariant: like the OpenAI SDK, a hint longer than max_hint is no retry at all."""
    policy = RetryPolicy(max_hint=120.0)
    limited = Classification(Category.RATE_LIMITED, retry_after=121.0)
    assert policy.decide(1, limited, 0.5, None).reason == "hint_too_long"
    within = Classification(Category.RATE_LIMITED, retry_after=120.0)
    assert policy.decide(1, within, 0.5, None).delay == 120.0
    endless = Classification(Category.RATE_LIMITED, retry_after=math.inf)
    assert policy.decide(1, endless, 0.5, None).reason == "hint_too_long"


@FAST
@given(policy=policies, classification=classifications, draws=st.lists(draws, min_size=1))
def test_same_draws_give_the_same_schedule(
    policy: RetryPolicy, classification: Classification, draws: list[float]
) -> None:
    """Invariant: the policy is a pure function — replaying the draws replays the schedule."""
    assert _run(policy, classification, draws) == _run(policy, classification, list(draws))


@FAST
@given(
    policy=policies,
    category=st.sampled_from(list(Category)),
    attempt=st.integers(min_value=1, max_value=10),
    draw=draws,
)
def test_should_retry_overrides_the_category(
    policy: RetryPolicy, category: Category, attempt: int, draw: float
) -> None:
    """Invariant: x-should-retry: false never retries; true retries any category while
    attempts remain (no deadline, no hint)."""
    no = policy.decide(attempt, Classification(category, should_retry=False), draw, None)
    assert (no.retry, no.reason) == (False, "server_said_no")
    yes = policy.decide(attempt, Classification(category, should_retry=True), draw, None)
    assert yes.retry == (attempt < policy.max_attempts)


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(cap=math.inf)
    with pytest.raises(ValueError):
        RetryPolicy(jitter="none")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RetryPolicy().backoff(0, 0.5)
    with pytest.raises(ValueError):
        RetryPolicy().backoff(1, 1.5)


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "1500", "retry-after": "20"}, 1.5),
        ({"retry-after-ms": "soon", "retry-after": "20"}, 20.0),
        ({"retry-after": "20"}, 20.0),
        ({"retry-after": " 2.5 "}, 2.5),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after-ms": "-10"}, 0.0),
        ({"Retry-After": "7"}, 7.0),
        ({"RETRY-AFTER-MS": "250"}, 0.25),
        (
            {"retry-after": format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)},
            30.0,
        ),
        ({"retry-after": "Tue, 14 Nov 2023 22:13:50 -0000"}, 30.0),
        ({"retry-after": format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True)}, 0.0),
        ({"retry-after": "garbage"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "1_000"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after-ms": "soon"}, None),
        ({}, None),
        ({"content-type": "application/json"}, None),
    ],
)
def test_parse_retry_after_reads_each_header_form(
    headers: dict[str, str], expected: float | None
) -> None:
    """Invariant: ms, then seconds, then HTTP date; negative is 0; garbage is None."""
    assert parse_retry_after(headers, now_wall=NOW) == (
        None if expected is None else pytest.approx(expected)
    )


def test_parse_retry_after_accepts_case_insensitive_multidicts() -> None:
    proxy = CIMultiDictProxy(CIMultiDict([("Retry-After", "12")]))
    assert parse_retry_after(proxy) == 12.0


def test_parse_retry_after_reads_dates_as_gmt_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Invariant: an HTTP date is GMT even when written with "-0000" and the host is not UTC."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert parse_retry_after(
            {"retry-after": "Tue, 14 Nov 2023 22:13:50 -0000"}, now_wall=NOW
        ) == pytest.approx(30.0)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_parse_retry_after_dates_default_to_the_wall_clock() -> None:
    far = format_datetime(datetime(2999, 1, 1, tzinfo=UTC), usegmt=True)
    delay = parse_retry_after({"retry-after": far})
    assert delay is not None and delay > 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-should-retry": "true"}, True),
        ({"X-Should-Retry": "False"}, False),
        ({"x-should-retry": " TRUE "}, True),
        ({"x-should-retry": "maybe"}, None),
        ({}, None),
    ],
)
def test_parse_should_retry(headers: dict[str, str], expected: bool | None) -> None:
    assert parse_should_retry(headers) is expected
