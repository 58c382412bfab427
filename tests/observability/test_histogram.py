from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.histogram import MAX_VALUE, MIN_VALUE, RELATIVE_ERROR, Histogram

QUANTILES = (0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0)

in_range = st.floats(min_value=MIN_VALUE, max_value=MAX_VALUE, allow_nan=False)
# Latencies as they come: a mode around some typical value with a long tail, drawn in log
# space so every decade of the range gets exercised.
log_normalish = st.builds(
    lambda centre, spread: min(MAX_VALUE, max(MIN_VALUE, math.exp(centre + spread))),
    st.floats(min_value=math.log(1e-5), max_value=math.log(600.0)),
    st.floats(min_value=-3.0, max_value=3.0),
)
latencies = st.lists(st.one_of(in_range, log_normalish), min_size=1, max_size=400)


def rank_bounds(q: float, n: int) -> tuple[int, int]:
    position = q * (n - 1)
    return math.floor(position), math.ceil(position)


def filled(samples: list[float]) -> Histogram:
    histogram = Histogram()
    for sample in samples:
        histogram.record(sample)
    return histogram


@settings(max_examples=200, deadline=None)
@given(latencies)
def test_each_quantile_is_within_relative_error_of_a_sample_between_the_exact_rank_bounds(
    samples: list[float],
) -> None:
    """For every q, some sample whose 0-based sorted rank lies in
    [floor(q(n-1)), ceil(q(n-1))] is within RELATIVE_ERROR of the reported quantile."""
    histogram = filled(samples)
    ordered = sorted(samples)
    for q in QUANTILES:
        value = histogram.quantile(q)
        assert value is not None
        low, high = rank_bounds(q, len(ordered))
        assert any(
            abs(value - ordered[k]) <= RELATIVE_ERROR * ordered[k] for k in range(low, high + 1)
        ), (q, value, ordered[low : high + 1])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(min_value=0.0, max_value=MIN_VALUE, exclude_max=True),
            in_range,
            st.floats(min_value=MAX_VALUE, max_value=1e9, exclude_min=True),
        ),
        min_size=1,
        max_size=200,
    )
)
def test_out_of_range_samples_keep_their_stated_bounds_and_every_answer_lies_in_min_max(
    samples: list[float],
) -> None:
    """Below MIN_VALUE the answer is within MIN_VALUE absolute of a rank-bounded sample,
    above MAX_VALUE it is max; in range the relative bound holds; min <= answer <= max."""
    histogram = filled(samples)
    ordered = sorted(samples)
    for q in QUANTILES:
        value = histogram.quantile(q)
        assert value is not None
        assert ordered[0] <= value <= ordered[-1]
        low, high = rank_bounds(q, len(ordered))
        candidates = ordered[low : high + 1]

        def near(x: float, value: float = value) -> bool:
            if x < MIN_VALUE:
                return abs(value - x) < MIN_VALUE
            if x > MAX_VALUE:
                return value == ordered[-1]
            return abs(value - x) <= RELATIVE_ERROR * x

        assert any(near(x) for x in candidates), (q, value, candidates)


@settings(max_examples=100, deadline=None)
@given(latencies)
def test_count_sum_min_max_are_exact(samples: list[float]) -> None:
    histogram = filled(samples)
    assert histogram.count == len(samples)
    assert histogram.sum == sum(samples)
    assert histogram.min == min(samples)
    assert histogram.max == max(samples)
    assert histogram.mean == pytest.approx(sum(samples) / len(samples))


@settings(max_examples=100, deadline=None)
@given(latencies, latencies)
def test_merge_is_the_same_as_recording_both_sample_sets(
    left: list[float], right: list[float]
) -> None:
    """merge(a, b) answers every quantile exactly as one histogram fed a + b would."""
    merged = filled(left)
    merged.merge(filled(right))
    together = filled(left + right)
    assert merged.count == together.count
    assert merged.min == together.min
    assert merged.max == together.max
    assert merged.sum == pytest.approx(together.sum)
    for q in QUANTILES:
        assert merged.quantile(q) == together.quantile(q)


def test_memory_is_bounded_by_the_bucket_layout_not_the_sample_count() -> None:
    histogram = Histogram()
    # Samples spread evenly in log space across the whole range hit every bucket.
    steps = 200_000
    ratio = math.log(MAX_VALUE / MIN_VALUE)
    for i in range(steps):
        histogram.record(MIN_VALUE * math.exp(ratio * i / (steps - 1)))
    full = histogram.bucket_count
    assert full <= 700
    for i in range(steps):
        histogram.record(MIN_VALUE * math.exp(ratio * i / (steps - 1)))
    histogram.record(0.0)
    histogram.record(1e12)
    assert histogram.bucket_count <= full + 2
    assert histogram.count == 2 * steps + 2


def test_empty_histogram_has_no_quantile_and_no_mean() -> None:
    histogram = Histogram()
    assert histogram.quantile(0.5) is None
    assert histogram.mean is None
    assert histogram.count == 0


@pytest.mark.parametrize("bad", [-0.001, math.nan, math.inf, -math.inf])
def test_impossible_latencies_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="latency"):
        Histogram().record(bad)


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan])
def test_quantile_outside_zero_one_is_refused(bad: float) -> None:
    histogram = Histogram()
    histogram.record(1.0)
    with pytest.raises(ValueError, match="quantile"):
        histogram.quantile(bad)


@pytest.mark.parametrize(
    ("samples", "q", "expected"),
    [
        ([0.1, 0.9], 0.99, 0.9),
        ([0.1, 0.9], 0.5, 0.1),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 0.75, 3.0),
        ([1.0, 2.0, 3.0, 4.0], 0.76, 4.0),
        ([5.0, 1.0, 3.0], 0.0, 1.0),
        ([5.0, 1.0, 3.0], 1.0, 5.0),
    ],
)
def test_quantiles_are_nearest_rank(samples: list[float], q: float, expected: float) -> None:
    """The q-quantile is the smallest sample that a share q of the samples do not exceed."""
    assert filled(samples).quantile(q) == pytest.approx(expected, rel=RELATIVE_ERROR)


@given(
    bound=st.floats(min_value=0.0, max_value=2 * MAX_VALUE),
    near=st.lists(st.floats(min_value=0.9, max_value=1.1), max_size=100),
    far=st.lists(st.floats(min_value=0.0, max_value=2 * MAX_VALUE), max_size=100),
)
def test_count_at_most_errs_only_on_samples_just_below_the_bound(
    bound: float, near: list[float], far: list[float]
) -> None:
    """What a Prometheus ``le`` bucket reads: never a sample above ``bound``, and every sample
    at or below ``bound * (1 - 2 * RELATIVE_ERROR)`` (one bucket's width); samples below
    MIN_VALUE share one bucket, counted from MIN_VALUE on, and samples above MAX_VALUE one
    counted only from the largest sample on."""
    samples = [bound * factor for factor in near] + far
    if not samples:
        return
    counted = filled(samples).count_at_most(bound)
    at_most = sum(1 for s in samples if s <= bound)
    surely = sum(
        1
        for s in samples
        if (MIN_VALUE <= s <= min(MAX_VALUE, bound * (1 - 2 * RELATIVE_ERROR)))
        or s < MIN_VALUE <= bound
    )
    assert surely <= counted <= at_most
