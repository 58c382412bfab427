"""FaultMix: which fault a draw picks, and the latency it adds (pure, no server)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.testing.sim_faults import FaultKind, FaultMix

KINDS = list(FaultKind)


@st.composite
def mixes(draw: st.DrawFn) -> FaultMix:
    weights = draw(st.lists(st.floats(0, 1), min_size=len(KINDS), max_size=len(KINDS)))
    scale = draw(st.floats(0, 1))
    total = sum(weights) or 1.0
    shares = {kind.value: w / total * scale * 0.999 for kind, w in zip(KINDS, weights, strict=True)}
    return FaultMix(**shares)


@settings(max_examples=200, deadline=None)
@given(mixes(), st.floats(0, 1, exclude_max=True), st.booleans())
def test_a_draw_picks_only_kinds_that_can_happen(mix: FaultMix, draw: float, stream: bool) -> None:
    """Invariant: a picked fault has a positive probability, and broken_stream only hits streams."""
    kind = mix.pick(draw, stream=stream)
    if kind is not None:
        assert mix.probabilities()[kind] > 0
        assert stream or kind is not FaultKind.BROKEN_STREAM
    assert (mix.pick(draw, stream=True) is None) == (draw >= mix.total)


@settings(max_examples=50, deadline=None)
@given(mixes())
def test_each_kind_gets_its_share_of_draws(mix: FaultMix) -> None:
    """Invariant: over evenly spread draws, each kind is picked for its probability's share."""
    n = 20_000
    counts = dict.fromkeys(KINDS, 0)
    for i in range(n):
        kind = mix.pick((i + 0.5) / n, stream=True)
        if kind is not None:
            counts[kind] += 1
    for kind, probability in mix.probabilities().items():
        assert abs(counts[kind] / n - probability) <= 2 / n


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 5), st.floats(0, 5), st.floats(0, 1))
def test_latency_stays_within_mean_plus_or_minus_jitter(
    latency: float, jitter: float, draw: float
) -> None:
    """Invariant: max(0, latency - jitter) <= delay <= latency + jitter."""
    delay = FaultMix(latency=latency, latency_jitter=jitter).delay(draw)
    assert max(0.0, latency - jitter) - 1e-9 <= delay <= latency + jitter + 1e-9


def test_same_seed_same_faults() -> None:
    mix = FaultMix(server_error=0.2, reset=0.1, hang=0.1)
    runs = [[mix.pick(random.Random(seed).random(), stream=False) for seed in range(50)]]
    runs.append([mix.pick(random.Random(seed).random(), stream=False) for seed in range(50)])
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"server_error": 0.6, "reset": 0.5},
        {"hang": -0.1},
        {"malformed": 1.5},
        {"latency": -1.0},
        {"latency_jitter": float("nan")},
        {"retry_after": float("inf")},
    ],
)
def test_impossible_mixes_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FaultMix(**kwargs)
