"""A bound on how many distinct series a metric keeps: later keys fold into one overflow key.

Principals can be as many as an application has users, and every distinct id kept in a
snapshot is a row in its JSON and, where an exporter is told to label by id, a series in a
time-series database. :class:`SeriesCap` keeps the first ``limit`` keys it is shown and
answers :data:`OVERFLOW` for every later one, so a metric keyed through it holds at most
``limit + 1`` series (the invariant ``tests/observability/test_principal_cost.py`` checks by
name). First come, first kept: a kept key never moves, so its series stays monotonic.

``folded`` counts the distinct keys folded. Telling a new folded key from one seen before
needs a memory of them, which is bounded too (``remember``, by default 8 x ``limit``
and at least 1024);
past it ``folded_exact`` turns False and ``folded`` is a lower bound.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "OVERFLOW",
    "PRINCIPAL_MODES",
    "SeriesCap",
    "TagCaps",
    "exported_principal",
    "pseudonym",
]

OVERFLOW = "(other)"
"""The overflow key. Parentheses appear in no principal id and no tag value
(``patchwire.principals.principal``), so it never merges with a real key."""


class SeriesCap:
    """Admits at most ``limit`` distinct keys; ``key(k)`` is ``k`` or :data:`OVERFLOW`."""

    __slots__ = ("_folded", "_kept", "_remember", "folded", "folded_exact", "limit")

    def __init__(self, limit: int, *, remember: int | None = None) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"a series cap is a whole number >= 0, got {limit!r}")
        self.limit = limit
        self._remember = max(8 * limit, 1024) if remember is None else remember
        self._kept: set[str] = set()
        self._folded: set[str] = set()
        self.folded = 0
        self.folded_exact = True

    def key(self, key: str) -> str:
        kept = self._kept
        if key in kept:
            return key
        if len(kept) < self.limit:
            kept.add(key)
            return key
        folded = self._folded
        if key not in folded:
            if len(folded) < self._remember:
                folded.add(key)
                self.folded += 1
            else:
                self.folded_exact = False
        return OVERFLOW

    def __len__(self) -> int:
        return len(self._kept)

    def __repr__(self) -> str:
        return f"SeriesCap(limit={self.limit}, kept={len(self._kept)}, folded={self.folded})"


class TagCaps:
    """One :class:`SeriesCap` of ``limit`` values per tag name, for at most ``max_tags``
    names (configuration declares a handful; a name past them is not counted at all)."""

    __slots__ = ("_caps", "limit", "max_tags")

    def __init__(self, limit: int, *, max_tags: int = 32) -> None:
        self.limit = limit
        self.max_tags = max_tags
        self._caps: dict[str, SeriesCap] = {}

    def key(self, tag: str, value: str) -> str | None:
        """``value``, :data:`OVERFLOW`, or None when ``tag`` is past ``max_tags``."""
        cap = self._caps.get(tag)
        if cap is None:
            if len(self._caps) >= self.max_tags:
                return None
            cap = self._caps[tag] = SeriesCap(self.limit)
        return cap.key(value)

    @property
    def folded(self) -> int:
        return sum(cap.folded for cap in self._caps.values())

    @property
    def folded_exact(self) -> bool:
        return all(cap.folded_exact for cap in self._caps.values())


def pseudonym(text: str) -> str:
    """A stable stand-in for a principal id in exported labels: the first 16 hex digits of
    its SHA-256. It joins with the application's own records; it does not anonymise (anyone
    who can guess an id can hash it)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


PRINCIPAL_MODES = ("none", "hash", "id")
"""How an exporter may name a principal: not at all (the default), by :func:`pseudonym`, or
by its id as given."""


def exported_principal(principal: str, mode: str) -> str:
    """The label for ``principal`` under ``mode`` (``hash`` or ``id``): :data:`OVERFLOW` for
    the overflow key and for anything that is not a well-formed principal id."""
    from patchwire.principals.principal import well_formed_id

    if principal == OVERFLOW or not well_formed_id(principal):
        return OVERFLOW
    return pseudonym(principal) if mode == "hash" else principal
