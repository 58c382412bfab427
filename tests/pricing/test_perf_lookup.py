"""PriceTable.lookup keeps today's price per model with the span of time.time() the day
covers (issue 19); every answer must still be the entry's price on the clock's UTC date:
over any sequence of clock readings (forward, backward, across midnight and across a
price's date ranges), after the table is extended, and for a model it does not know."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.prices import Price, PriceTable
from patchwire.prices import table as table_module

CHANGE = date(2026, 3, 2)
MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
OLD = Price(1.0, 2.0, effective_until=CHANGE)
NEW = Price(3.0, 4.0, effective_from=CHANGE)


class _Clock:
    """time.time() and datetime.now(UTC) for the table's module, both reading ``now``."""

    def __init__(self) -> None:
        self.now = MIDNIGHT

    def time(self) -> float:
        return self.now

    def datetime_now(self, tz: object) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()

    class FakeDatetime(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return fake.datetime_now(tz)

    monkeypatch.setattr(table_module.time, "time", fake.time)
    monkeypatch.setattr(table_module, "datetime", FakeDatetime)
    monkeypatch.setattr(table_module, "_day", (0.0, 0.0, date(1970, 1, 1)))
    return fake


def _on(now: float) -> date:
    return datetime.fromtimestamp(now, UTC).date()


# Readings within two days either side of the change, some right at midnight.
readings = st.lists(
    st.one_of(
        st.floats(MIDNIGHT - 2 * 86_400, MIDNIGHT + 2 * 86_400),
        st.sampled_from([MIDNIGHT, MIDNIGHT - 1e-6, MIDNIGHT - 86_400, MIDNIGHT + 86_400]),
    ),
    min_size=1,
    max_size=30,
)


# The clock fixture is shared by the examples on purpose: each sets the clock before every
# reading, and the module's day span carried from one example to the next is what a
# process carries from one call to the next.
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(times=readings)
def test_todays_price_is_the_entrys_price_on_the_clocks_date(
    clock: _Clock, times: list[float]
) -> None:
    table = PriceTable({("openai", "m"): [OLD, NEW]})
    entry = table.entry("openai", "m")
    assert entry is not None
    for now in times:
        clock.now = now
        assert table.lookup("openai", "m") is entry.on(_on(now))
        assert table.lookup("openai", "m-2024-07-18") is entry.on(_on(now))  # a snapshot
        assert table.lookup("openai", "unknown") is None
        assert table.lookup("openai", "m", _on(now) + timedelta(days=3)) is NEW


def test_an_extended_table_answers_with_the_new_price_at_once(clock: _Clock) -> None:
    table = PriceTable({("openai", "m"): NEW})
    assert table.lookup("openai", "m") is NEW
    assert table.lookup("openai", "later") is None
    negotiated = Price(0.5, 0.5)
    table.extend({("openai", "m"): negotiated, ("openai", "later"): negotiated})
    assert table.lookup("openai", "m") is negotiated
    assert table.lookup("openai", "later") is negotiated


def test_the_kept_prices_are_bounded(clock: _Clock) -> None:
    table = PriceTable({("openai", "m"): NEW})
    for i in range(table_module._RESOLVED_LIMIT + 10):
        assert table.lookup("openai", f"other-{i}") is None
    assert len(table._current) <= table_module._RESOLVED_LIMIT
    assert table.lookup("openai", "m") is NEW
