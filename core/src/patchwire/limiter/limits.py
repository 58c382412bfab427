"""What a connector is allowed: the configured windows, each one a token bucket."""

from __future__ import annotations

import enum

import attrs

__all__ = ["Kind", "LimitsConfig", "Window"]


def _positive(_: object, attribute: attrs.Attribute[float | None], value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _slots(_: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{attribute.name} must be an integer >= 1, got {value!r}")


@attrs.frozen(slots=True)
class LimitsConfig:
    """Budgets per window (any subset) and a cap on calls in flight."""

    requests_per_second: float | None = attrs.field(default=None, validator=_positive)
    requests_per_minute: float | None = attrs.field(default=None, validator=_positive)
    requests_per_day: float | None = attrs.field(default=None, validator=_positive)
    tokens_per_minute: float | None = attrs.field(default=None, validator=_positive)
    tokens_per_day: float | None = attrs.field(default=None, validator=_positive)
    max_concurrency: int | None = attrs.field(default=None, validator=_slots)

    @property
    def empty(self) -> bool:
        """True when nothing is limited."""
        return self.max_concurrency is None and not self.windows()

    def windows(self) -> tuple[Window, ...]:
        """The configured windows, requests before tokens, shortest period first."""
        found: list[Window] = []
        for name, kind, period in _WINDOWS:
            amount: float | None = getattr(self, name)
            if amount is not None:
                found.append(Window.of(name, kind, amount, period))
        return tuple(found)


class Kind(enum.Enum):
    """What a window counts: each request costs 1 on a REQUESTS window, its tokens on a TOKENS one."""

    REQUESTS = "requests"
    TOKENS = "tokens"


@attrs.frozen(slots=True)
class Window:
    """One token bucket: holds at most ``capacity`` and refills ``rate`` per second.

    ``period`` is the configured span (1, 60 or 86400 s); capacity/rate equals it except
    for request windows under one request per period, whose capacity is raised to 1 so
    that a single request can ever fit (the long-run rate is still the configured one).
    """

    name: str
    kind: Kind
    capacity: float
    rate: float
    period: float

    @classmethod
    def of(cls, name: str, kind: Kind, amount: float, period: float) -> Window:
        capacity = max(float(amount), 1.0) if kind is Kind.REQUESTS else float(amount)
        return cls(name, kind, capacity, float(amount) / period, period)


_WINDOWS: tuple[tuple[str, Kind, float], ...] = (
    ("requests_per_second", Kind.REQUESTS, 1.0),
    ("requests_per_minute", Kind.REQUESTS, 60.0),
    ("requests_per_day", Kind.REQUESTS, 86400.0),
    ("tokens_per_minute", Kind.TOKENS, 60.0),
    ("tokens_per_day", Kind.TOKENS, 86400.0),
)
