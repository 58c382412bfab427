"""Properties of per-principal budgets and credentials.

- Per-principal budgets never admit more than the limit in any window, and admit exactly
  what a brute-force reference model of fixed windows admits (no call refused early).
- Tokens never cross principals: whatever the interleaving of concurrent calls, each
  request carries only its own principal's credential.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire import Principal, QuotaExhaustedError
from patchwire.clock import VirtualClock
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.principals import Budgets, MemoryCounters
from patchwire.principals.settings import BudgetLimit, BudgetSpec
from patchwire.testing import FakeScript
from patchwire.testing.fake import FakeConnector, FakePlugin

PEOPLE = [
    Principal("a", tags={"team": "x"}),
    Principal("b", tags={"team": "x"}),
    Principal("c", tags={"team": "y"}),
]

steps = st.lists(
    st.tuples(st.floats(min_value=0, max_value=90), st.integers(0, 2), st.integers(1, 4)),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(steps=steps, per_minute=st.integers(1, 5), team_per_hour=st.integers(1, 12))
def test_per_principal_budgets_never_admit_more_than_the_limit_in_any_window(
    steps: list[tuple[float, int, int]], per_minute: int, team_per_hour: int
) -> None:
    now = [0.0]
    budgets = Budgets(
        [
            BudgetSpec("each", limits=(BudgetLimit("requests", "minute", per_minute),)),
            BudgetSpec(
                "team",
                tag=("team", "x"),
                shared=True,
                limits=(BudgetLimit("requests", "hour", team_per_hour),),
            ),
        ],
        MemoryCounters(lambda: now[0]),
        lambda: now[0],
    )
    admitted: Counter[tuple[str, int]] = Counter()  # (principal, minute) -> calls
    team: Counter[int] = Counter()  # hour -> team x calls

    async def drive() -> None:
        for advance, who, calls in steps:
            now[0] += advance
            person = PEOPLE[who]
            for _ in range(calls):
                minute, hour = int(now[0] // 60), int(now[0] // 3600)
                in_team = person.tags["team"] == "x"
                # The reference model: a call is admitted iff every window has room.
                expected = admitted[(person.id, minute)] < per_minute and (
                    not in_team or team[hour] < team_per_hour
                )
                try:
                    await budgets.admit(person, 0)
                except QuotaExhaustedError:
                    assert not expected
                    continue
                assert expected
                admitted[(person.id, minute)] += 1
                if in_team:
                    team[hour] += 1

    asyncio.run(drive())
    assert all(n <= per_minute for n in admitted.values())
    assert all(n <= team_per_hour for n in team.values())


@settings(max_examples=40, deadline=None)
@given(order=st.lists(st.integers(0, 2), min_size=1, max_size=30))
def test_tokens_never_cross_principals(order: list[int]) -> None:
    """Each principal's key reference is its own env variable; the fake provider sees
    which key every request carried and which principal's prompt it was."""
    import os

    keys = {p.id: f"key-of-{p.id}-0123456789" for p in PEOPLE}
    for pid, value in keys.items():
        os.environ[f"PW_PROP_KEY_{pid.upper()}"] = value
    people = [
        Principal(p.id, tags=p.tags, credentials={"api_key": f"env:PW_PROP_KEY_{p.id.upper()}"})
        for p in PEOPLE
    ]
    host = PluginHost(load_entry_points=False)
    host.register(FakePlugin(), "patchwire.testing.fake", distribution="patchwire")
    FakeConnector.scripts.clear()
    script = FakeConnector.scripts["fake"] = FakeScript(default="ok")

    async def drive() -> None:
        hub = Hub.from_dict(
            {"connectors": {"fake": {"api_key": "env:PW_PROP_SERVICE", "cache": {"ttl": 0}}}},
            host=host,
            clock=VirtualClock(),
        )
        async with hub:
            model = hub.model("fake:m")

            async def one(i: int, who: int) -> None:
                if who == 0:  # some calls through the context, the rest per call
                    async with hub.acting_for(people[0]):
                        await model.complete(f"from a #{i}")
                else:
                    await model.complete(f"from {people[who].id} #{i}", principal=people[who])

            await asyncio.gather(*(one(i, who) for i, who in enumerate(order)))

    os.environ["PW_PROP_SERVICE"] = "service-key-0123456789"
    try:
        asyncio.run(drive())
    finally:
        FakeConnector.scripts.clear()
        for name in [*(f"PW_PROP_KEY_{p.id.upper()}" for p in PEOPLE), "PW_PROP_SERVICE"]:
            os.environ.pop(name, None)
    assert len(script.calls) == len(order)
    for call in script.calls:
        prompt = call.request.messages[-1].content
        sender = prompt.split()[1]
        assert call.headers["Authorization"] == f"Bearer {keys[sender]}"
