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

# The count fields (not labels such as service_tier), found once rather than on every reply.
_COUNTS = tuple(field.name for field in attrs.fields(Usage) if field.type in (int, "int"))
_counts_of = attrgetter(*_COUNTS)
# The fields the quick check below reads, one by one: it applies only while they are all
# of Usage's counts (a count added to Usage and not to it sends every reply to the loop).
_QUICK = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_creation_input_tokens",
    "reasoning_tokens",
    "cache_creation_1h_input_tokens",
    "web_search_requests",
)
_QUICK_COVERS = _QUICK == _COUNTS


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
    # A real reply's counts are all plain ints in range. Read one by one (each a slot
    # read), they are checked without a call: the bitwise or of non-negative ints is
    # non-negative and no smaller than any of them, so one chained comparison bounds all
    # seven. A reply it does not pass (an or above the bound, say) goes to the loop below,
    # which finds the field to name or lets it through (an int subclass, for one).
    i = usage.input_tokens
    o = usage.output_tokens
    cr = usage.cached_input_tokens
    cw = usage.cache_creation_input_tokens
    r = usage.reasoning_tokens
    cw1 = usage.cache_creation_1h_input_tokens
    w = usage.web_search_requests
    if (
        _QUICK_COVERS
        and type(i) is type(o) is type(cr) is type(cw) is type(r) is type(cw1) is type(w) is int
        and 0 <= (i | o | cr | cw | r | cw1 | w) <= MAX_TOKENS_PER_CALL
    ):
        return usage
    counts = _counts_of(usage)
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
