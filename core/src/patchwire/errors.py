"""The error taxonomy: every failure that leaves patchwire is a :class:`PatchwireError`.

The category decides what the pipeline does with a failure (retry, fall back, refresh a
credential, escalate); the fields say where it came from. No field ever holds a
credential: messages are built from provider error text, which the redaction filter also
scrubs before it is logged, and every error that leaves a call is passed through
:func:`seal` first, which also cuts the chained exceptions (where raw responses live).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

__all__ = [
    "AuthError",
    "Category",
    "CircuitOpenError",
    "ConfigError",
    "DegradedError",
    "IntegrationError",
    "InvalidRequestError",
    "PatchwireError",
    "QuotaExhaustedError",
    "RateLimitedError",
    "TransientError",
    "chain_text",
    "error_class",
    "seal",
]


class Category(enum.StrEnum):
    TRANSIENT = "transient"
    RATE_LIMITED = "rate_limited"
    DEGRADED = "degraded"
    AUTH = "auth"
    INVALID_REQUEST = "invalid_request"
    INTEGRATION = "integration"
    CIRCUIT_OPEN = "circuit_open"
    QUOTA_EXHAUSTED = "quota_exhausted"
    CONFIG = "config"


class PatchwireError(Exception):
    """Base of every error patchwire raises.

    ``failures`` holds the errors of earlier route targets when a fallback route is
    exhausted, so the caller sees why every target failed.
    """

    category: ClassVar[Category] = Category.TRANSIENT
    #: set by the pipeline when a route may move on to its next target after this failure
    fallback: bool = False

    def __init__(
        self,
        message: str,
        *,
        connector: str | None = None,
        model: str | None = None,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        attempts: int = 0,
        retry_after: float | None = None,
        failures: Sequence[PatchwireError] = (),
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.connector = connector
        self.model = model
        self.status = status
        self.code = code
        self.request_id = request_id
        self.attempts = attempts
        self.retry_after = retry_after
        self.failures = tuple(failures)
        self.details = details

    def __str__(self) -> str:
        where = ":".join(p for p in (self.connector, self.model) if p)
        parts = [f"[{self.category}]"]
        if where:
            parts.append(where)
        parts.append(self.message)
        extra = []
        if self.status is not None:
            extra.append(f"status={self.status}")
        if self.code:
            extra.append(f"code={self.code}")
        if self.request_id:
            extra.append(f"request_id={self.request_id}")
        if self.attempts:
            extra.append(f"attempts={self.attempts}")
        if self.retry_after is not None:
            extra.append(f"retry_after={self.retry_after:.3f}s")
        if extra:
            parts.append("(" + ", ".join(extra) + ")")
        text = " ".join(parts)
        for failure in self.failures:
            text += f"\n  - {failure}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, connector={self.connector!r}, model={self.model!r}, status={self.status!r}, attempts={self.attempts})"


class TransientError(PatchwireError):
    category = Category.TRANSIENT


class RateLimitedError(PatchwireError):
    category = Category.RATE_LIMITED


class DegradedError(PatchwireError):
    """Timeouts and overload: try the route's next target, else retry."""

    category = Category.DEGRADED


class AuthError(PatchwireError):
    category = Category.AUTH


class InvalidRequestError(PatchwireError):
    category = Category.INVALID_REQUEST


class IntegrationError(PatchwireError):
    """The tool answered in a form we did not expect: the signal that it changed."""

    category = Category.INTEGRATION


class CircuitOpenError(PatchwireError):
    category = Category.CIRCUIT_OPEN


class QuotaExhaustedError(PatchwireError):
    category = Category.QUOTA_EXHAUSTED


class ConfigError(PatchwireError):
    """Invalid configuration, raised at load, naming the file, table and key."""

    category = Category.CONFIG

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        table: str | None = None,
        key: str | None = None,
    ) -> None:
        self.source = source
        self.table = table
        self.key = key
        where = []
        if source:
            where.append(source)
        if table:
            where.append(f"[{table}]")
        if key:
            where.append(f"key '{key}'")
        full = f"{': '.join([' '.join(where), message]) if where else message}"
        super().__init__(full)

    def __str__(self) -> str:
        return f"[config] {self.message}"


_BY_CATEGORY: dict[Category, type[PatchwireError]] = {
    cls.category: cls
    for cls in (
        TransientError,
        RateLimitedError,
        DegradedError,
        AuthError,
        InvalidRequestError,
        IntegrationError,
        CircuitOpenError,
        QuotaExhaustedError,
    )
}


def error_class(category: Category) -> type[PatchwireError]:
    """The exception class for a call-failure category (configuration errors are raised at load)."""
    return _BY_CATEGORY[category]


def seal(error: PatchwireError, redact: Callable[[str], str]) -> PatchwireError:
    """Make ``error`` fit to leave patchwire, in place; returns it.

    Nothing reachable from a sealed error holds a credential or a raw provider answer:
    the chained exceptions go (``__cause__`` and ``__context__`` are where transport
    errors and ``HttpStatusError`` responses, with their bodies and request headers,
    live, even after ``raise ... from None``); so does the traceback, whose frames keep
    the attempt (its credential headers) and the response as locals. Every text field,
    the args and the notes are passed through ``redact``; a field holding any other
    object is replaced by its redacted ``repr``; the errors in ``failures`` are sealed
    the same way. Sealing twice changes nothing.
    """
    _seal(error, redact, set())
    return error


def chain_text(error: BaseException, *, limit: int = 8, width: int = 300) -> str:
    """``error`` and the exceptions chained under it, one ``Type: message`` each, outermost
    first, each cut to ``width`` characters: what sealing removes, in a line for a log."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(parts) < limit:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}"[:width])
        current = current.__cause__ or current.__context__
    return " <- ".join(parts)


def _seal(error: BaseException, redact: Callable[[str], str], seen: set[int]) -> None:
    if id(error) in seen:
        return
    seen.add(id(error))
    error.__cause__ = None
    error.__context__ = None
    error.__traceback__ = None
    for name, value in list(vars(error).items()):
        setattr(error, name, _clean(value, redact, seen))
    error.args = tuple(_clean(arg, redact, seen) for arg in error.args)


def _clean(value: Any, redact: Callable[[str], str], seen: set[int]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float | enum.Enum):
        return value
    if isinstance(value, PatchwireError):
        _seal(value, redact, seen)
        return value
    if type(value) in (tuple, list):
        return type(value)(_clean(item, redact, seen) for item in value)
    if isinstance(value, Mapping):
        return {
            _clean(key, redact, seen): _clean(item, redact, seen) for key, item in value.items()
        }
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    return redact(repr(value))
