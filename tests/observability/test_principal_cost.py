"""Cost by principal and by declared tag value in ``hub.metrics()``: its aggregation, its
bounds, its JSON and its table.

The aggregator is fed events directly (virtual time), as the pipeline emits them: the end
events carry ``data["principal"]`` and the declared ``data["tags"]``. Costs in the property
tests are multiples of 1/1024, so sums are exact in floating point whatever their order.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.events import Event, EventKind
from patchwire.metrics import MetricsAggregator, MetricsSnapshot
from patchwire.metrics.cap import OVERFLOW, SeriesCap

Call = tuple[int | None, int, bool, bool, float | None]  # who, team, ok, cached, cost

calls_strategy = st.lists(
    st.tuples(
        st.none() | st.integers(0, 11),  # principal index (None: the service identity)
        st.integers(0, 6),  # the team tag's value index
        st.booleans(),  # succeeded
        st.booleans(),  # served from patchwire's cache
        st.none() | st.integers(0, 4096).map(lambda n: n / 1024),  # cost (None: unknown)
    ),
    max_size=80,
)


def _event(call: Call, connector: str = "c", model: str = "m") -> Event:
    who, team, ok, cached, cost = call
    data: dict[str, object] = {}
    if who is not None:
        data = {"principal": f"user-{who}", "tags": {"team": f"t{team}"}}
    if not ok:
        return Event(EventKind.CALL_FAILED, connector, model, category="transient", data=data)
    return Event(
        EventKind.CALL_SUCCEEDED,
        connector,
        model,
        input_tokens=3,
        output_tokens=5,
        cost=cost,
        cached=cached,
        data=data,
    )


def _run(calls: list[Call], max_principals: int, max_tag_values: int) -> MetricsSnapshot:
    aggregator = MetricsAggregator(
        VirtualClock(), max_principals=max_principals, max_tag_values=max_tag_values
    )
    for i, call in enumerate(calls):
        aggregator(_event(call, model=f"m{i % 2}"))
    return aggregator.snapshot()


@settings(max_examples=200, deadline=None)
@given(calls_strategy, st.integers(0, 5), st.integers(0, 3))
def test_known_cost_by_principal_plus_unattributed_equals_the_rows_known_cost(
    calls: list[Call], max_principals: int, max_tag_values: int
) -> None:
    snapshot = _run(calls, max_principals, max_tag_values)
    principals = snapshot.principals
    assert principals is not None
    shares = [*principals.by_principal.values(), principals.unattributed]
    assert sum(s.cost for s in shares) == sum(row.cost for row in snapshot.connectors)
    assert sum(s.cost_unknown for s in shares) == sum(r.cost_unknown for r in snapshot.connectors)
    assert sum(s.calls for s in shares) == sum(row.calls for row in snapshot.connectors)
    # Each declared tag splits the calls made for principals once more.
    for values in principals.by_tag.values():
        assert sum(s.cost for s in values.values()) == sum(
            s.cost for s in principals.by_principal.values()
        )


@settings(max_examples=200, deadline=None)
@given(calls_strategy, st.integers(0, 5), st.integers(0, 3))
def test_the_cap_is_never_exceeded_and_every_folded_id_is_counted(
    calls: list[Call], max_principals: int, max_tag_values: int
) -> None:
    snapshot = _run(calls, max_principals, max_tag_values)
    principals = snapshot.principals
    assert principals is not None
    kept = [key for key in principals.by_principal if key != OVERFLOW]
    assert len(kept) <= max_principals
    seen = list(dict.fromkeys(f"user-{c[0]}" for c in calls if c[0] is not None))
    assert kept == sorted(seen[:max_principals])  # first come, first kept
    assert principals.folded_principals == len(seen[max_principals:])
    assert (OVERFLOW in principals.by_principal) == bool(seen[max_principals:])
    for values in principals.by_tag.values():
        assert len([v for v in values if v != OVERFLOW]) <= max_tag_values


@settings(max_examples=100, deadline=None)
@given(calls_strategy)
def test_a_kept_principal_s_share_is_exactly_its_own_calls(calls: list[Call]) -> None:
    snapshot = _run(calls, 1000, 100)
    assert snapshot.principals is not None
    expected: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        if call[0] is not None:
            expected[f"user-{call[0]}"].append(call)
    assert set(snapshot.principals.by_principal) == set(expected)
    for name, own in expected.items():
        share = snapshot.principals.by_principal[name]
        billed = [c for c in own if c[2] and not c[3]]
        assert share.calls == len(own)
        assert share.failed == sum(1 for c in own if not c[2])
        assert share.cost == sum(c[4] or 0.0 for c in billed)
        assert share.cost_unknown == sum(1 for c in billed if c[4] is None)
        assert share.input_tokens == 3 * len(billed)
        assert share.total_cost == (None if share.cost_unknown else share.cost)


@given(st.lists(st.text(min_size=1, max_size=3), max_size=60), st.integers(0, 6))
def test_a_series_cap_answers_at_most_limit_keys_plus_the_overflow(
    keys: list[str], limit: int
) -> None:
    cap = SeriesCap(limit, remember=4)
    answered = {cap.key(k) for k in keys}
    assert len(answered - {OVERFLOW}) <= limit
    distinct = list(dict.fromkeys(keys))
    folded = distinct[limit:]
    # Counted exactly while it remembers them all, a lower bound after.
    assert cap.folded == min(len(folded), 4)
    assert cap.folded_exact == (len(folded) <= 4)


def test_a_series_cap_refuses_a_limit_that_is_not_a_whole_number() -> None:
    with pytest.raises(ValueError, match="whole number"):
        SeriesCap(-1)
    with pytest.raises(ValueError, match="whole number"):
        SeriesCap(True)


def test_unknown_cost_stays_unknown_per_principal_and_the_table_says_so() -> None:
    aggregator = MetricsAggregator(VirtualClock())
    aggregator(_event((1, 0, True, False, None)))
    aggregator(_event((2, 0, True, False, 0.5)))
    snapshot = aggregator.snapshot()
    assert snapshot.principals is not None
    unknown = snapshot.principals.by_principal["user-1"]
    assert (unknown.cost, unknown.cost_unknown, unknown.total_cost) == (0.0, 1, None)
    assert snapshot.principals.by_principal["user-2"].total_cost == 0.5
    team = snapshot.principals.by_tag["team"]["t0"]
    assert (team.cost, team.total_cost) == (0.5, None)
    data = json.loads(json.dumps(snapshot.to_dict()))
    assert data["principals"]["by_principal"]["user-1"]["total_cost"] is None
    table = snapshot.render_table()
    assert "cost by principal" in table and "cost by tag" in table
    line = next(ln for ln in table.splitlines() if ln.startswith("user-1 "))
    assert line.split()[-2] == "0.0000+?"


def test_the_json_round_trips_and_the_table_shows_principals_only_once_used() -> None:
    aggregator = MetricsAggregator(VirtualClock(), max_principals=2)
    aggregator(_event((None, 0, True, False, 0.25)))
    plain = aggregator.snapshot()
    assert "cost by principal" not in plain.render_table()
    for who in range(5):
        aggregator(_event((who, who, True, False, 0.125)))
    snapshot = aggregator.snapshot()
    data = json.loads(json.dumps(snapshot.to_dict()))
    assert MetricsSnapshot.from_dict(data) == snapshot
    assert MetricsSnapshot.from_dict(data).render_table() == snapshot.render_table()
    assert data["principals"]["folded_principals"] == 3
    assert "3 beyond the first 2 counted as (other)" in snapshot.render_table()
    # A snapshot from before principals were counted still reads.
    del data["principals"]
    assert MetricsSnapshot.from_dict(data).principals is None


def test_a_windowed_or_filtered_view_has_no_principals_and_reset_clears_them() -> None:
    clock = VirtualClock()
    aggregator = MetricsAggregator(clock)
    aggregator(_event((1, 0, True, False, 0.25)))
    assert aggregator.snapshot(window=60.0).principals is None
    assert aggregator.snapshot(connector="c").principals is None
    aggregator.reset()
    principals = aggregator.snapshot().principals
    assert principals is not None and not principals.used


def test_the_table_names_the_most_costly_principals_and_sums_the_rest() -> None:
    from patchwire.metrics.table import SHOWN_PRINCIPALS

    aggregator = MetricsAggregator(VirtualClock())
    for who in range(SHOWN_PRINCIPALS + 3):
        aggregator(_event((who, 0, True, False, who / 1024)))
    table = aggregator.snapshot().render_table()
    assert f"user-{SHOWN_PRINCIPALS + 2} " in table  # the most costly
    assert "user-0 " not in table
    assert "(3 more)" in table and "(no principal)" in table
