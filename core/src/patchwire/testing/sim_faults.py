"""The simulator's fault mix: which fault, if any, a request gets, and how late it answers.

A request draws two uniform numbers from the simulator's seeded generator when it
arrives; :meth:`FaultMix.pick` and :meth:`FaultMix.delay` turn them into a fault and a
latency. Keeping the draw separate from its meaning makes a run reproducible for a given
seed and request order, and lets the mix change mid-run without shifting the sequence.
"""

from __future__ import annotations

import enum
import math

import attrs

__all__ = ["FaultKind", "FaultMix"]


class FaultKind(enum.StrEnum):
    """Faults the simulator injects, in the order their probabilities are stacked."""

    SERVER_ERROR = "server_error"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    OVERLOADED = "overloaded"
    RESET = "reset"
    HANG = "hang"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"
    BROKEN_STREAM = "broken_stream"


def _probability(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{attribute.name} must be a probability in [0, 1], got {value!r}")


def _seconds(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{attribute.name} must be a finite number of seconds >= 0, got {value!r}")


@attrs.frozen
class FaultMix:
    """Per-request fault probabilities (their sum at most 1) and added latency.

    ``broken_stream`` applies to streaming requests only; a non-streaming request that
    draws it is answered normally. ``retry_after`` is the wait, in seconds, that injected
    429s (and some injected 503s) ask for; the wire format picks how it is expressed.
    """

    server_error: float = attrs.field(default=0.0, validator=_probability)
    rate_limited: float = attrs.field(default=0.0, validator=_probability)
    quota_exhausted: float = attrs.field(default=0.0, validator=_probability)
    overloaded: float = attrs.field(default=0.0, validator=_probability)
    reset: float = attrs.field(default=0.0, validator=_probability)
    hang: float = attrs.field(default=0.0, validator=_probability)
    malformed: float = attrs.field(default=0.0, validator=_probability)
    truncated: float = attrs.field(default=0.0, validator=_probability)
    broken_stream: float = attrs.field(default=0.0, validator=_probability)
    latency: float = attrs.field(default=0.0, validator=_seconds)
    latency_jitter: float = attrs.field(default=0.0, validator=_seconds)
    retry_after: float = attrs.field(default=0.2, validator=_seconds)
    # Cumulative upper edges, computed once: pick() runs for every simulated request.
    _edges: tuple[tuple[FaultKind, float], ...] = attrs.field(
        init=False, repr=False, eq=False, default=()
    )

    def __attrs_post_init__(self) -> None:
        edges = []
        edge = 0.0
        for kind, probability in self.probabilities().items():
            edge += probability
            edges.append((kind, edge))
        if edge > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities add up to {edge:g}; they must not exceed 1")
        object.__setattr__(self, "_edges", tuple(edges))

    def probabilities(self) -> dict[FaultKind, float]:
        return {kind: float(getattr(self, kind.value)) for kind in FaultKind}

    @property
    def total(self) -> float:
        """The chance that a streaming request gets some fault."""
        return self._edges[-1][1]

    def pick(self, draw: float, *, stream: bool) -> FaultKind | None:
        """The fault for a request whose uniform draw in [0, 1) is ``draw``, or None."""
        for kind, edge in self._edges:
            if draw < edge:
                if kind is FaultKind.BROKEN_STREAM and not stream:
                    return None
                return kind
        return None

    def delay(self, draw: float) -> float:
        """Latency for a request whose uniform draw is ``draw``: mean ± jitter, never negative."""
        return max(0.0, self.latency + (2.0 * draw - 1.0) * self.latency_jitter)
