"""What a failure means: the value the classifier hooks return.

A connector's ``patchwire_classify_error`` implementation reads the provider's body and
headers and answers with a :class:`Classification`; core's default answers last from the
HTTP status or exception type alone.
"""

from __future__ import annotations

import attrs

from patchwire.errors import Category, PatchwireError, error_class

__all__ = ["Classification", "RETRYABLE", "FALLBACK"]

#: Categories that a retry can fix.
RETRYABLE = frozenset({Category.TRANSIENT, Category.RATE_LIMITED, Category.DEGRADED})
#: Categories after which a route moves straight on to its next target.
FALLBACK = frozenset({Category.DEGRADED, Category.CIRCUIT_OPEN, Category.QUOTA_EXHAUSTED})


@attrs.frozen(slots=True)
class Classification:
    """The category of one failed attempt plus what the provider said about it.

    ``retry_after`` is the server's hint in seconds (the wait is at least this long);
    ``should_retry`` is an explicit server verdict (``x-should-retry``) that overrides the
    category. ``message`` is the provider's text, never a credential.
    """

    category: Category
    message: str = ""
    retry_after: float | None = None
    should_retry: bool | None = None
    status: int | None = None
    code: str | None = None
    request_id: str | None = None
    #: what the tool said beyond the message (an MCP isError result's content), kept on the error
    details: str | None = None

    @property
    def retryable(self) -> bool:
        if self.should_retry is not None:
            return self.should_retry
        return self.category in RETRYABLE

    def to_error(
        self,
        *,
        connector: str | None,
        model: str | None,
        attempts: int,
        retry_after: float | None = None,
        failures: tuple[PatchwireError, ...] = (),
    ) -> PatchwireError:
        cls = error_class(self.category)
        return cls(
            self.message or self.category.value.replace("_", " "),
            connector=connector,
            model=model,
            status=self.status,
            code=self.code,
            request_id=self.request_id,
            attempts=attempts,
            retry_after=self.retry_after if retry_after is None else retry_after,
            failures=failures,
            details=self.details,
        )

    @classmethod
    def of(cls, error: PatchwireError) -> Classification:
        """The classification an already-classified error carries."""
        return cls(
            category=error.category,
            message=error.message,
            retry_after=error.retry_after,
            status=error.status,
            code=error.code,
            request_id=error.request_id,
            details=error.details,
        )
