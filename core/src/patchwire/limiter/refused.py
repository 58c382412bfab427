"""The limiter's one failure: it will not admit this request (in time)."""

from __future__ import annotations

__all__ = ["LimiterRefused"]


class LimiterRefused(Exception):
    """Raised by ``Limiter.acquire``; the pipeline turns it into ``RateLimitedError``.

    ``wait`` is how long the request would have had to wait (an estimate when the
    refusal came from the line ahead of it), or None when it can never be admitted
    because it is larger than a window's whole capacity.
    """

    def __init__(self, reason: str, wait: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait

    def __repr__(self) -> str:
        return f"LimiterRefused({self.reason!r}, wait={self.wait!r})"
