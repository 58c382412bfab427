"""A bounded-memory latency histogram with a stated relative error.

Buckets grow geometrically by ``gamma = (1 + a) / (1 - a)``; bucket ``i`` holds the samples
in ``(gamma**(i-1), gamma**i]`` and reports them as ``2 * gamma**i / (gamma + 1)``, which is
within ``a`` of every value in the bucket. Only buckets that received a sample exist, and
there are at most about 650 of them between ``MIN_VALUE`` and ``MAX_VALUE``, so memory is
bounded however many samples are recorded.
"""

from __future__ import annotations

import math

__all__ = ["MAX_VALUE", "MIN_VALUE", "RELATIVE_ERROR", "Histogram"]

RELATIVE_ERROR = 0.02
"""The bound :meth:`Histogram.quantile` keeps for samples in ``[MIN_VALUE, MAX_VALUE]``."""

MIN_VALUE = 1e-6
"""One microsecond: smaller samples share one bucket, reported with absolute error < 1 µs."""

MAX_VALUE = 86_400.0
"""One day: larger samples share one bucket, reported as the largest sample seen."""

# Built slightly tighter than the stated bound so that float rounding at a bucket edge,
# which can put a sample one bucket over, still lands within RELATIVE_ERROR.
_DESIGN_ERROR = 0.0195
_GAMMA = (1.0 + _DESIGN_ERROR) / (1.0 - _DESIGN_ERROR)
_INV_LOG_GAMMA = 1.0 / math.log(_GAMMA)
_UNDERFLOW = math.ceil(math.log(MIN_VALUE) * _INV_LOG_GAMMA) - 1
_OVERFLOW = math.ceil(math.log(MAX_VALUE) * _INV_LOG_GAMMA) + 1
# Module names for what record() reads on every sample, instead of the math module's
# attributes.
_INF = math.inf
_log = math.log
_ceil = math.ceil


class Histogram:
    """Latency samples in seconds, summarised as count, sum, min, max and quantiles.

    Quantiles are nearest-rank: for ``q`` in ``[0, 1]`` the exact answer ``x`` is the
    ``k``-th smallest sample (0-based) with ``k = max(0, ceil(q * count) - 1)``, the smallest
    sample that at least a share ``q`` of the samples do not exceed (so the p99 of two
    samples is the larger one). Error bound: if ``x`` lies in ``[MIN_VALUE, MAX_VALUE]`` then
    ``abs(quantile(q) - x) <= RELATIVE_ERROR * x``; below ``MIN_VALUE`` the answer is within
    ``MIN_VALUE`` of ``x``; above ``MAX_VALUE`` it is ``max``. Every answer also lies in
    ``[min, max]``. ``count``, ``sum``, ``min`` and ``max`` are exact.
    """

    __slots__ = ("_buckets", "count", "max", "min", "sum")

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = 0.0

    def record(self, seconds: float) -> None:
        # Every succeeded call records its latency, nearly always one between MIN_VALUE and
        # MAX_VALUE: that is asked first, in one comparison, and the rest (an error, or a
        # bucket at either end) only for the other values (issue 19).
        if MIN_VALUE <= seconds <= MAX_VALUE:
            index = _ceil(_log(seconds) * _INV_LOG_GAMMA)
        elif not 0.0 <= seconds < _INF:
            raise ValueError(f"a latency must be a finite number >= 0, got {seconds!r}")
        elif seconds < MIN_VALUE:
            index = _UNDERFLOW
        else:
            index = _OVERFLOW
        buckets = self._buckets
        buckets[index] = buckets.get(index, 0) + 1
        self.count += 1
        self.sum += seconds
        if seconds < self.min:
            self.min = seconds
        if seconds > self.max:
            self.max = seconds

    def quantile(self, q: float) -> float | None:
        """The ``q``-quantile (``0 <= q <= 1``) within the class's error bound; None if empty."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"a quantile must be between 0 and 1, got {q!r}")
        if self.count == 0:
            return None
        rank = max(0, math.ceil(q * self.count) - 1)
        seen = 0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen > rank:
                return self._representative(index)
        raise AssertionError("bucket counts disagree with count")

    def merge(self, other: Histogram) -> None:
        """Add every sample of ``other`` to this histogram (``other`` is left unchanged)."""
        buckets = self._buckets
        for index, n in other._buckets.items():
            buckets[index] = buckets.get(index, 0) + n
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def count_at_most(self, bound: float) -> int:
        """Samples ``<= bound``, for exporters with fixed buckets (Prometheus ``le``).

        Exact when ``bound`` is below ``min`` or at least ``max``; otherwise a sample less
        than ``2 * RELATIVE_ERROR`` (one bucket's width) below ``bound`` may be counted as
        above it, because it shares a bucket with samples above ``bound``; a sample above
        ``bound`` is never counted. Samples below ``MIN_VALUE`` share one bucket, counted
        from ``MIN_VALUE`` on; samples above ``MAX_VALUE`` share one, counted from ``max`` on.
        """
        if self.count == 0 or bound < self.min:
            return 0
        if bound >= self.max:
            return self.count
        total = 0
        for index, n in self._buckets.items():
            if index == _UNDERFLOW:
                edge = MIN_VALUE
            elif index == _OVERFLOW:
                edge = math.inf
            else:
                edge = _GAMMA**index
            if edge <= bound:
                total += n
        return total

    @property
    def bucket_count(self) -> int:
        """Buckets in use: the memory this histogram holds, whatever its sample count."""
        return len(self._buckets)

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    def _representative(self, index: int) -> float:
        if index == _UNDERFLOW:
            return self.min
        if index == _OVERFLOW:
            return self.max
        estimate = 2.0 * _GAMMA**index / (_GAMMA + 1.0)
        # The exact extremes can only tighten the estimate: every sample lies between them.
        return min(max(estimate, self.min), self.max)

    def __repr__(self) -> str:
        return f"Histogram(count={self.count}, sum={self.sum!r}, buckets={len(self._buckets)})"
