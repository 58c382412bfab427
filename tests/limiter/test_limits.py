"""LimitsConfig: validation and the windows it describes."""

from __future__ import annotations

import pytest
from patchwire.limiter import Kind, LimitsConfig, Window


def test_an_empty_config_limits_nothing() -> None:
    assert LimitsConfig().empty
    assert LimitsConfig().windows() == ()
    assert not LimitsConfig(max_concurrency=1).empty
    assert not LimitsConfig(tokens_per_day=1).empty


def test_each_window_is_a_bucket_of_its_amount_refilled_over_its_period() -> None:
    config = LimitsConfig(
        requests_per_second=10,
        requests_per_minute=500,
        requests_per_day=10000,
        tokens_per_minute=200000,
        tokens_per_day=10**7,
        max_concurrency=32,
    )
    assert config.windows() == (
        Window("requests_per_second", Kind.REQUESTS, 10.0, 10.0, 1.0),
        Window("requests_per_minute", Kind.REQUESTS, 500.0, 500 / 60, 60.0),
        Window("requests_per_day", Kind.REQUESTS, 10000.0, 10000 / 86400, 86400.0),
        Window("tokens_per_minute", Kind.TOKENS, 200000.0, 200000 / 60, 60.0),
        Window("tokens_per_day", Kind.TOKENS, 1e7, 1e7 / 86400, 86400.0),
    )


def test_a_request_window_under_one_per_period_still_fits_one_request() -> None:
    (window,) = LimitsConfig(requests_per_minute=0.5).windows()
    assert (window.capacity, window.rate) == (1.0, 0.5 / 60)


@pytest.mark.parametrize(
    "field, value",
    [
        ("requests_per_second", 0),
        ("requests_per_minute", -1),
        ("tokens_per_minute", float("nan")),
        ("max_concurrency", 0),
        ("max_concurrency", 1.5),
        ("max_concurrency", True),
    ],
)
def test_invalid_values_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        LimitsConfig(**{field: value})  # type: ignore[arg-type]
