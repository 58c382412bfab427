"""Adapting the configured rates to what the provider says and does.

Three signals, kept deliberately simple:

* ``observe`` (rate-limit headers): the matching window's level drops to what the provider
  says is left, and if the provider's refill pace — what it has spent divided by the time
  until it is fully restored — is slower than the configured rate, that pace is used
  until the reset instant.
* a 429 (``rate_limited``): every window's rate is multiplied by ``decrease`` (never below
  ``floor`` of the configured rate) and nothing is admitted before ``retry_after``.
* a success (``succeeded``): the factor grows back by ``increase``, up to 1.

The effective rate of a window is min(configured x factor, provider pace while it lasts),
so it never exceeds the configured rate and every bound proven for the configured rates
still holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs

from patchwire.filling import WeaklyReferenced, twin
from patchwire.limiter.bucket import BucketSpec
from patchwire.limiter.limits import Kind, Window

__all__ = ["Adaptive", "AdaptivePolicy", "RateLimitInfo", "reported_limits"]


@attrs.frozen(slots=True)
class RateLimitInfo(WeaklyReferenced):
    """What a provider's headers said; plugins parse the headers, core applies them.

    ``*_reset`` is in seconds from now until the limit is fully restored. A negative
    count (some deployments send -1 for "unknown") is ignored.
    """

    requests_limit: float | None = None
    requests_remaining: float | None = None
    requests_reset: float | None = None
    tokens_limit: float | None = None
    tokens_remaining: float | None = None
    tokens_reset: float | None = None


# A RateLimitInfo being filled in (see patchwire.filling).
_InfoFilling = twin(RateLimitInfo)


def reported_limits(
    requests_limit: float | None,
    requests_remaining: float | None,
    requests_reset: float | None,
    tokens_limit: float | None,
    tokens_remaining: float | None,
    tokens_reset: float | None,
) -> RateLimitInfo:
    """``RateLimitInfo(...)`` with every field given, in field order, without the frozen
    ``__init__``'s setattr call per field: a connector builds one from the headers of
    every reply that carries them (issue 19)."""
    info: Any = _InfoFilling()  # its slots are RateLimitInfo's, which mypy cannot see
    info.requests_limit = requests_limit
    info.requests_remaining = requests_remaining
    info.requests_reset = requests_reset
    info.tokens_limit = tokens_limit
    info.tokens_remaining = tokens_remaining
    info.tokens_reset = tokens_reset
    info.__class__ = RateLimitInfo
    built: RateLimitInfo = info
    return built


def _fraction(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"{attribute.name} must be in (0, 1], got {value!r}")


@attrs.frozen(slots=True)
class AdaptivePolicy:
    """Multiplicative decrease on a 429, additive increase on success (as TCP does)."""

    decrease: float = attrs.field(default=0.5, validator=_fraction)
    floor: float = attrs.field(default=1 / 16, validator=_fraction)
    increase: float = attrs.field(default=1 / 32, validator=_fraction)


class Adaptive:
    """The adaptive state of one limiter: factor, admission block, provider paces."""

    __slots__ = (
        "_matched",
        "_policy",
        "_windows",
        "blocked_until",
        "current",
        "current_until",
        "factor",
        "paces",
        "reported",
    )

    def __init__(self, windows: Sequence[Window], policy: AdaptivePolicy) -> None:
        self._windows = tuple(windows)
        self._policy = policy
        self.factor = 1.0
        self.blocked_until = -math.inf
        # per window: (provider pace, until) or None
        self.paces: list[tuple[float, float] | None] = [None] * len(self._windows)
        self.reported: RateLimitInfo | None = None
        #: per kind, the last limit matched and its window: a provider reports the same
        #: limits on every reply, and matching one anew cost a log per window (issue 19)
        self._matched: dict[Kind, tuple[float | None, int | None]] = {}
        #: the specs in effect (None: to be rebuilt), valid until the earliest provider pace
        #: runs out; the limiter's synchronous admission reads them without a call
        self.current: tuple[BucketSpec, ...] | None = None
        self.current_until = math.inf

    def specs(self, now: float) -> tuple[BucketSpec, ...]:
        """Every window's capacity and effective rate at ``now``."""
        specs = self.current
        if specs is None or now >= self.current_until:
            specs = self.current = tuple(
                BucketSpec(w.name, w.capacity, self.rate(i, now))
                for i, w in enumerate(self._windows)
            )
            self.current_until = min((p[1] for p in self.paces if p is not None), default=math.inf)
        return specs

    def rate(self, index: int, now: float) -> float:
        window = self._windows[index]
        rate = window.rate * self.factor
        pace = self.paces[index]
        if pace is not None:
            if now < pace[1]:
                return min(rate, pace[0])
            self.paces[index] = None
        return rate

    def next_change(self, now: float) -> float | None:
        """The earliest instant after ``now`` at which a rate goes up or a block ends."""
        instants = [until for pace in self.paces if pace is not None and (until := pace[1]) > now]
        if self.blocked_until > now:
            instants.append(self.blocked_until)
        return min(instants, default=None)

    def rate_limited(self, now: float, retry_after: float | None) -> None:
        self.factor = max(self._policy.floor, self.factor * self._policy.decrease)
        self.current = None
        if retry_after is not None and retry_after > 0:
            self.blocked_until = max(self.blocked_until, now + retry_after)

    def succeeded(self) -> bool:
        """Relax the factor one step; True if it changed."""
        if self.factor >= 1.0:
            return False
        self.factor = min(1.0, self.factor + self._policy.increase)
        self.current = None
        return True

    def observe(self, info: RateLimitInfo, now: float) -> dict[int, float]:
        """Record ``info`` and return the ceilings it puts on window levels, by index."""
        self.reported = info
        ceilings: dict[int, float] = {}
        for kind, limit, remaining, reset in (
            (Kind.REQUESTS, info.requests_limit, info.requests_remaining, info.requests_reset),
            (Kind.TOKENS, info.tokens_limit, info.tokens_remaining, info.tokens_reset),
        ):
            # What a header said is the server's bytes: a count or reset that is not a
            # finite non-negative number (nan, inf from a 400-digit count) is unknown, never
            # a ceiling, a pace or a window match.
            if remaining is None or not 0 <= remaining < math.inf:
                continue
            if limit is not None and not limit < math.inf:
                limit = None
            index = self._match(kind, limit)
            if index is None:
                continue
            window = self._windows[index]
            ceilings[index] = remaining
            whole = limit if limit is not None and limit > 0 else window.capacity
            if reset is not None and 0 < reset < math.inf and remaining < whole:
                pace = (whole - remaining) / reset
                if pace < window.rate:
                    self.paces[index] = (pace, now + reset)
                    self.current = None
        return ceilings

    def _match(self, kind: Kind, limit: float | None) -> int | None:
        """The window a header speaks about (see :meth:`_nearest`), kept for the last limit
        of each kind: the windows do not change, so the same limit finds the same one."""
        last = self._matched.get(kind)
        if last is not None and last[0] == limit:
            return last[1]
        index = self._nearest(kind, limit)
        self._matched[kind] = (limit, index)
        return index

    def _nearest(self, kind: Kind, limit: float | None) -> int | None:
        """The window a header speaks about: the one whose capacity is nearest the
        provider's limit, else the shortest of that kind."""
        candidates = [i for i, w in enumerate(self._windows) if w.kind is kind]
        if not candidates:
            return None
        if limit is None or limit <= 0:
            return min(candidates, key=lambda i: self._windows[i].period)
        return min(candidates, key=lambda i: abs(math.log(self._windows[i].capacity / limit)))
