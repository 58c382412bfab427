"""After a successful attempt the loop relaxes the limiter and charges a token window's
permit itself, without a stage that answered "nothing to charge" for every limiter without
token windows (issue 19).

Invariant: every successful call through a limited connector calls the limiter's
``on_success`` exactly once, then settles its permit with the reply's
``usage.total_tokens`` if and only if the limiter has a token window (and the reply
carries a ``Usage``); a limiter without one is never settled. ``used_tokens`` is the
reply's ``usage.total_tokens`` when its usage is a ``Usage``, else None.
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.hub import Hub
from patchwire.limiter import Limiter
from patchwire.pipeline.record import Recorder
from patchwire.pipeline.stages import used_tokens
from patchwire.plugins import PluginHost
from patchwire.testing.fake import FakeConnector, FakePlugin
from patchwire.types import Usage

HOST = PluginHost(load_entry_points=False)
HOST.register(FakePlugin(), "fake")

limits = st.fixed_dictionaries(
    {},
    optional={
        "requests_per_minute": st.just(1e6),
        "tokens_per_minute": st.just(1e9),
        "max_concurrency": st.just(100),
    },
).filter(bool)


@settings(max_examples=40, deadline=None)
@given(
    table=limits,
    tokens=st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=1, max_size=3),
)
def test_a_success_relaxes_the_limiter_once_and_charges_only_a_token_window(
    table: dict[str, Any], tokens: list[tuple[int, int]]
) -> None:
    relaxed: list[Limiter] = []
    settled: list[int] = []
    on_success = Limiter.on_success

    def relax(limiter: Limiter) -> None:
        relaxed.append(limiter)
        on_success(limiter)

    async def settle(self: Recorder, permit: Any, used: int, *rest: Any) -> None:
        settled.append(used)

    async def scenario() -> None:
        FakeConnector.scripts.pop("limited", None)
        config = {"connectors": {"limited": {"type": "fake", "limits": table}}}
        async with Hub.from_dict(config, host=HOST, clock=VirtualClock()) as hub:
            model = hub.model("limited:m")
            script = FakeConnector.scripts["limited"]
            for given_in, given_out in tokens:
                script.usage = Usage(input_tokens=given_in, output_tokens=given_out)
                await model.complete("hi")

    with (
        mock.patch.object(Limiter, "on_success", relax),
        mock.patch.object(Recorder, "settle", settle),
    ):
        asyncio.run(scenario())
    assert len(relaxed) == len(tokens)
    windows = "tokens_per_minute" in table
    assert settled == ([i + o for i, o in tokens] if windows else [])


class _Reply:
    def __init__(self, usage: Any) -> None:
        self.usage = usage


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_the_tokens_used_are_the_usages_total_or_none(given_in: int, given_out: int) -> None:
    usage = Usage(input_tokens=given_in, output_tokens=given_out)
    assert used_tokens(_Reply(usage)) == usage.total_tokens
    assert used_tokens(_Reply(None)) is None
    assert used_tokens(_Reply({"total_tokens": 3})) is None
    assert used_tokens(object()) is None
