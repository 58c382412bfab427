"""A limiter's state at one instant, for metrics and ``patchwire stats``."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from patchwire.limiter.adaptive import RateLimitInfo

__all__ = ["LimiterSnapshot", "WindowState"]


@attrs.frozen(slots=True)
class WindowState:
    """One window: ``available`` may be negative while reconciled usage is repaid."""

    capacity: float
    available: float
    rate: float


@attrs.frozen(slots=True)
class LimiterSnapshot:
    """``windows`` by name (``requests_per_minute``, ...); ``factor`` is the adaptive
    multiplier on every configured rate; ``blocked_until`` is set while a provider's
    Retry-After holds admissions; ``reported`` is the provider's last rate-limit info.

    With a shared backend, ``available`` is this process's last reading of the shared
    level, refilled to now: other processes may have drawn on it since.
    """

    key: str
    windows: Mapping[str, WindowState]
    in_use: int
    max_concurrency: int | None
    waiters: int
    factor: float
    blocked_until: float | None
    reported: RateLimitInfo | None
