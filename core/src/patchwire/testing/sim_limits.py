"""Rate limits the simulator enforces per API key, as providers do: token buckets per minute.

Each limit is a bucket holding at most ``limit`` units that refills continuously at
``limit / 60`` per second, so a full minute's quota can be spent in a burst and then
comes back gradually. A request needs one request unit and its token estimate; it is
admitted only when both fit, and then charged for both. Time is passed in, so the rules
can be checked without a server or a clock.
"""

from __future__ import annotations

import enum
import math

import attrs

__all__ = ["LimitBreach", "LimitKind", "LimitState", "SimLimits", "SimRateLimits", "WindowState"]


def _positive_or_none(_: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be at least 1 (or None for no limit), got {value}")


@attrs.frozen
class SimLimits:
    """Limits per API key; None leaves that window unlimited."""

    requests_per_minute: int | None = attrs.field(default=None, validator=_positive_or_none)
    tokens_per_minute: int | None = attrs.field(default=None, validator=_positive_or_none)

    @property
    def enabled(self) -> bool:
        return self.requests_per_minute is not None or self.tokens_per_minute is not None


class LimitKind(enum.StrEnum):
    REQUESTS = "requests"
    TOKENS = "tokens"


@attrs.frozen
class WindowState:
    """What a provider's headers say about one limit right now."""

    limit: int
    remaining: int
    reset: float  # seconds until the bucket is full again


@attrs.frozen
class LimitState:
    requests: WindowState | None = None
    tokens: WindowState | None = None

    def windows(self) -> dict[LimitKind, WindowState]:
        """The limits in force, by kind (for wire formats that write one header set each)."""
        out: dict[LimitKind, WindowState] = {}
        if self.requests is not None:
            out[LimitKind.REQUESTS] = self.requests
        if self.tokens is not None:
            out[LimitKind.TOKENS] = self.tokens
        return out


@attrs.frozen
class LimitBreach:
    """Why a request was refused: which limit, how full it was, and how long until it fits.

    ``too_large`` means the request alone needs more than the whole limit: it can never
    be admitted, and ``wait`` is infinite.
    """

    kind: LimitKind
    limit: int
    used: int
    requested: int
    wait: float
    too_large: bool = False


class _Bucket:
    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, capacity: int, now: float) -> None:
        self.capacity = float(capacity)
        self.level = float(capacity)
        self.rate = capacity / 60.0
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def shortfall(self, amount: float) -> float:
        """Seconds until ``amount`` fits (0 when it fits now)."""
        # A client that waited exactly the advertised time must fit despite rounding.
        if amount <= self.level + 1e-9:
            return 0.0
        return (amount - self.level) / self.rate

    def state(self) -> WindowState:
        return WindowState(
            limit=int(self.capacity),
            remaining=max(0, math.floor(self.level)),
            reset=(self.capacity - self.level) / self.rate,
        )


class SimRateLimits:
    """The buckets of every key the simulator has seen."""

    def __init__(self, limits: SimLimits) -> None:
        self.limits = limits
        self._buckets: dict[tuple[str, LimitKind], _Bucket] = {}

    def _bucket(self, key: str, kind: LimitKind, now: float) -> _Bucket | None:
        capacity = (
            self.limits.requests_per_minute
            if kind is LimitKind.REQUESTS
            else self.limits.tokens_per_minute
        )
        if capacity is None:
            return None
        bucket = self._buckets.get((key, kind))
        if bucket is None:
            bucket = self._buckets[(key, kind)] = _Bucket(capacity, now)
        bucket.refill(now)
        return bucket

    def admit(self, key: str, tokens: int, now: float) -> LimitBreach | None:
        """Charge one request and ``tokens`` to ``key``, or say which limit refuses them."""
        wanted = ((LimitKind.REQUESTS, 1), (LimitKind.TOKENS, tokens))
        buckets: list[tuple[_Bucket, int]] = []
        for kind, amount in wanted:
            bucket = self._bucket(key, kind, now)
            if bucket is None:
                continue
            used = math.ceil(bucket.capacity - bucket.level)
            if amount > bucket.capacity:
                return LimitBreach(kind, int(bucket.capacity), used, amount, math.inf, True)
            wait = bucket.shortfall(amount)
            if wait > 0:
                return LimitBreach(kind, int(bucket.capacity), used, amount, wait)
            buckets.append((bucket, amount))
        for bucket, amount in buckets:
            bucket.level -= amount
        return None

    def state(self, key: str, now: float) -> LimitState:
        requests = self._bucket(key, LimitKind.REQUESTS, now)
        tokens = self._bucket(key, LimitKind.TOKENS, now)
        return LimitState(
            requests=requests.state() if requests is not None else None,
            tokens=tokens.state() if tokens is not None else None,
        )
