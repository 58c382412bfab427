"""Bounds on counts a provider reports, checked once where connector results enter the pipeline.

A provider (or anything that answers in its format) may report any number. A usage of
``completion_tokens = 10**30`` taken as is inflates every token and cost metric and the
limiter's reconciliation for the life of the process, so a count outside
``0 <= n <= MAX_TOKENS_PER_CALL`` is an ``integration`` error naming the field: the server
answered in a form no real provider uses. Checking here, not in each connector, means a
third-party connector gets the rule without knowing about it.
"""

from __future__ import annotations

from operator import attrgetter

import attrs

from patchwire.errors import IntegrationError
from patchwire.types import Usage

__all__ = ["MAX_TOKENS_PER_CALL", "check_usage"]

#: No single call reads or writes a billion tokens; the largest context windows are ~10**7.
MAX_TOKENS_PER_CALL = 10**9

# The count fields (not labels such as service_tier), found once rather than on every
# reply, and read in one go.
_COUNTS = tuple(field.name for field in attrs.fields(Usage) if field.type in (int, "int"))
_counts_of = attrgetter(*_COUNTS)
_JUST_INT = {int}


def _shown(value: object) -> str:
    """The value for a message, without letting a huge number flood it."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = len(str(abs(value))) if abs(value) < 10**40 else None
        if digits is None or digits > 20:
            return f"a {'negative ' if value < 0 else ''}number of more than 20 digits"
        return str(value)
    return f"a value of type {type(value).__name__}"


def check_usage(usage: Usage | None) -> Usage | None:
    """``usage`` unchanged if every count is a plausible integer, else ``IntegrationError``."""
    if usage is None:
        return None
    counts = _counts_of(usage)
    # A real reply's counts are all plain ints in range: that is three C-level passes.
    # Otherwise the loop below finds the field to name (and lets an int subclass through).
    if (
        {*map(type, counts)} == _JUST_INT
        and min(counts) >= 0
        and max(counts) <= MAX_TOKENS_PER_CALL
    ):
        return usage
    for name, value in zip(_COUNTS, counts, strict=True):
        plausible = (
            isinstance(value, int)
            and not isinstance(value, bool)
            and 0 <= value <= MAX_TOKENS_PER_CALL
        )
        if not plausible:
            raise IntegrationError(
                f"the provider reported usage {name} = {_shown(value)}, outside the"
                f" plausible range 0..{MAX_TOKENS_PER_CALL:_} per call; the response was"
                " not used (is the base_url a real provider, or a proxy that rewrites usage?)"
            )
    return usage
