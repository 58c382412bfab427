"""Properties of the bill, date ranges, configuration, and cost where people look."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.errors import ConfigError
from patchwire.hub import Hub
from patchwire.prices import ContextTier, Cost, Price, PriceTable, bill
from patchwire.testing import FakeScript
from patchwire.types import Usage

from tests.pricing.conftest import first_party

FIRST_PARTY = [price for entry in first_party() for price in entry.prices]
COUNTS = ("plain", "read", "write_5m", "write_1h", "visible", "reasoning", "searches")


@st.composite
def prices(draw: st.DrawFn) -> Price:
    """A first-party price, or a random one whose context tier is a surcharge."""
    if draw(st.booleans()):
        return draw(st.sampled_from(FIRST_PARTY))
    rate = st.floats(0, 100, allow_nan=False)
    maybe = st.none() | rate
    base = [draw(rate), draw(rate), draw(maybe), draw(maybe), draw(maybe), draw(maybe)]
    tiers: tuple[ContextTier, ...] = ()
    if draw(st.booleans()):
        up = draw(st.floats(1, 3))
        surcharge = (
            None
            if draw(st.booleans())
            else Price(
                *(None if r is None else r * up for r in base[:3]),
                cache_write_5m_per_million=None if base[3] is None else base[3] * up,
                cache_write_1h_per_million=None if base[4] is None else base[4] * up,
                reasoning_output_per_million=None if base[5] is None else base[5] * up,
            )
        )
        tiers = (ContextTier(draw(st.integers(0, 300_000)), surcharge),)
    return Price(
        base[0],
        base[1],
        base[2],
        cache_write_5m_per_million=base[3],
        cache_write_1h_per_million=base[4],
        reasoning_output_per_million=base[5],
        tiers=tiers,
        service_tiers={"batch": draw(st.floats(0, 2))},
        per_unit={"web_search": draw(st.none() | st.floats(0, 1))},
    )


def _usage(counts: dict[str, int], tier: str | None) -> Usage:
    """Usage from disjoint counts, as Anthropic reports them (each one adds tokens)."""
    written = counts["write_5m"] + counts["write_1h"]
    return Usage(
        input_tokens=counts["plain"] + counts["read"] + written,
        output_tokens=counts["visible"] + counts["reasoning"],
        cached_input_tokens=counts["read"],
        cache_creation_input_tokens=written,
        cache_creation_1h_input_tokens=counts["write_1h"],
        reasoning_tokens=counts["reasoning"],
        web_search_requests=counts["searches"],
        service_tier=tier,
    )


# Mostly zero or small, sometimes past a context tier: a call uses few rules at once, and
# a bill that used a rule without a figure (unknown) tells nothing about monotonicity.
_count = st.sampled_from([0, 0, 0, 1]) | st.integers(0, 5000) | st.integers(0, 400_000)


@settings(max_examples=300, deadline=None)
@given(
    price=prices(),
    counts=st.fixed_dictionaries({name: _count for name in COUNTS}),
    grow=st.sampled_from(COUNTS),
    more=st.integers(1, 400_000),
    tier=st.sampled_from([None, "standard", "batch"]),
)
def test_cost_is_monotonic_in_every_token_count_and_never_negative(
    price: Price, counts: dict[str, int], grow: str, more: int, tier: str | None
) -> None:
    smaller = bill(price, _usage(counts, tier))
    larger = bill(price, _usage({**counts, grow: counts[grow] + more}, tier))
    for b in (smaller, larger):
        assert b.total is None or b.total >= 0
        assert all(amount >= 0 for _, amount in b.charges)
    if larger.total is not None:
        # Fewer tokens use no rule more tokens do not: known stays known, and never costs more.
        assert smaller.total is not None
        assert smaller.total <= larger.total * (1 + 1e-12)


def test_counts_are_clamped_into_their_containers_and_zeros_use_no_rule() -> None:
    """A negative count is 0, writes fit in what reads left of the prompt, reasoning in the
    output; a count of 0 charges nothing and misses nothing, whether its rate is known."""
    price = Price(1.0, 2.0, 0.5, cache_write_5m_per_million=1.25)
    usage = Usage(
        100, 50, cached_input_tokens=-5, cache_creation_input_tokens=500, reasoning_tokens=80
    )
    assert dict(bill(price, usage).charges) == pytest.approx(
        {"cache_write_5m": 100 * 1.25e-6, "reasoning": 50 * 2e-6}
    )
    assert bill(price, Usage(10, 0)) == bill(price, Usage(10, 0, cache_creation_1h_input_tokens=0))
    assert bill(price, Usage(10, 0)).missing == ()
    assert bill(price, Usage(10, 0, cached_input_tokens=4)).charges == (
        ("input", pytest.approx(6e-6)),
        ("cache_read", pytest.approx(2e-6)),
    )


def test_a_price_applies_only_within_its_dates() -> None:
    old = Price(1.0, 2.0, effective_until=date(2026, 7, 1))
    new = Price(0.5, 1.0, effective_from=date(2026, 7, 1))
    table = PriceTable({("x", "m"): (old, new)}, origin="plugin x")
    usage = Usage(input_tokens=1_000_000)
    assert table.bill("x", "m", usage, date(2026, 6, 30)).total == 1.0
    assert table.bill("x", "m", usage, date(2026, 7, 1)).total == 0.5
    only_old = PriceTable({("x", "m"): (old,)})
    assert only_old.bill("x", "m", usage, date(2026, 7, 1)).missing == ("price",)


def test_a_context_tier_must_be_a_surcharge() -> None:
    with pytest.raises(ValueError, match="at least the base rates"):
        Price(2.0, 10.0, tiers=(ContextTier(1000, Price(1.0, 10.0)),))


def test_a_cost_is_a_float_that_carries_its_breakdown_and_survives_json() -> None:
    cost = bill(
        Price(3.0, 15.0, 0.3, cache_write_5m_per_million=3.75),
        Usage(
            input_tokens=3000,
            output_tokens=100,
            cached_input_tokens=1000,
            cache_creation_input_tokens=1000,
        ),
    ).cost()
    assert isinstance(cost, Cost) and isinstance(cost, float)
    # input 1000 x 3 + read 1000 x 0.3 + write 1000 x 3.75 + output 100 x 15 = 8550 micro-dollars
    assert round(cost * 1e6, 6) == 8550
    assert {k: round(v * 1e6, 6) for k, v in cost.breakdown.items()} == {
        "input": 3000,
        "cache_read": 300,
        "cache_write_5m": 3750,
        "output": 1500,
    }
    # saved: read 1000 x (3 - 0.3) = 2700, less the write premium 1000 x 0.75 = 750
    assert round(cost.cache_savings * 1e6, 6) == 1950
    assert json.loads(json.dumps({"cost": cost})) == {"cost": float(cost)}


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({"input": 1.0}, "output"),
        ({"input": 1.0, "output": 2.0, "cache_write_1h": -1}, "cache_write_1h"),
        ({"input": 1.0, "output": 2.0, "service_tiers": {"batch": "half"}}, "batch"),
        ({"input": 1.0, "output": 2.0, "tiers": [{"input": 3.0, "output": 4.0}]}, "above"),
        ({"input": 1.0, "output": 2.0, "from": "soon"}, "from"),
        ({"input": 1.0, "output": 2.0, "cache_write": 1.0}, "cache_write"),
    ],
)
def test_a_bad_price_entry_is_refused_at_load_naming_the_key(
    plugin_host, entry: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Hub.from_dict({"prices": {"fake:m": entry}}, host=plugin_host)
    assert info.value.key == key


CONFIG = {
    "connectors": {"fake": {}},
    "prices": {
        "fake:m": {
            "input": 3.0,
            "output": 15.0,
            "cached_input": 0.3,
            "cache_write_5m": 3.75,
            "service_tiers": {"batch": 0.5},
        }
    },
}


async def test_a_reply_carries_its_cost_by_rule_and_the_metrics_add_up_savings_and_gaps(
    plugin_host, virtual_clock, fake_scripts
) -> None:
    script = fake_scripts["fake"] = FakeScript(default="ok")
    async with Hub.from_dict(CONFIG, host=plugin_host, clock=virtual_clock) as hub:
        model = hub.model("fake:m")
        script.usage = Usage(
            input_tokens=3000,
            output_tokens=100,
            cached_input_tokens=1000,
            cache_creation_input_tokens=1000,
        )
        reply = await model.complete("q", cache=False)
        script.usage = Usage(
            input_tokens=10,
            output_tokens=1,
            cache_creation_input_tokens=10,
            cache_creation_1h_input_tokens=10,
        )
        unknown = await model.complete("q2", cache=False)
        script.usage = Usage(input_tokens=10, output_tokens=1, service_tier="priority")
        await model.complete("q3", cache=False)
        row = model.usage()
        table = hub.metrics().render_table()
    assert isinstance(reply.cost, Cost) and round(reply.cost * 1e6, 6) == 8550
    assert round(reply.cost.breakdown["cache_write_5m"] * 1e6, 6) == 3750
    assert unknown.cost is None
    assert row.cost == pytest.approx(8550e-6) and row.cost_unknown == 2
    assert dict(row.cost_missing) == {"cache_write_1h": 1, "service_tier:priority": 1}
    assert row.cache_savings == pytest.approx(1950e-6)
    assert "no figure for cache_write_1h=1, service_tier:priority=1" in table
    exported = json.loads(json.dumps(hub.metrics().to_dict()))
    (json_row,) = [r for r in exported["connectors"] if r["model"] == "m"]
    assert json_row["cost_missing"] == {"cache_write_1h": 1, "service_tier:priority": 1}


async def test_a_reply_served_from_patchwires_cache_costs_nothing_and_its_cost_is_saved(
    plugin_host, virtual_clock, fake_scripts
) -> None:
    fake_scripts["fake"] = FakeScript(default="ok")
    config = {"connectors": {"fake": {"cache": {"ttl": 60}}}, "prices": CONFIG["prices"]}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        model = hub.model("fake:m")
        first = await model.complete("q", cache=True)
        again = await model.complete("q", cache=True)
        row = model.usage()
    # the fake's usage: 10 input x 3 + 5 output x 15 = 105 micro-dollars, paid once
    assert round(first.cost * 1e6, 6) == 105 and again.cached and again.cost is None
    assert row.cost == pytest.approx(105e-6) and row.cache_savings == pytest.approx(105e-6)


async def test_an_embedding_cost_is_a_plain_float_that_a_shared_cache_can_store(
    plugin_host, virtual_clock, fake_scripts
) -> None:
    from patchwire.cache_codec import CacheEncodeError, encode
    from patchwire.events import Event, EventKind

    fake_scripts["fake"] = FakeScript()
    config = {"connectors": {"fake": {}}, "prices": {"fake:emb": {"input": 0.02, "output": 0.0}}}
    seen: list[Event] = []
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        hub.bus.add("test", seen.append)
        await hub.model("fake:emb").embed("some text to embed", cache=False)
    (done,) = [e for e in seen if e.kind is EventKind.CALL_SUCCEEDED]
    assert type(done.cost) is float and done.cost > 0
    encode(((0.5, 0.25), 3, done.cost))  # an entry of the embed cache's shape
    with pytest.raises(CacheEncodeError):  # what a Cost there would have done
        encode(((0.5, 0.25), 3, Cost(done.cost, {}, 0.0, "USD")))
