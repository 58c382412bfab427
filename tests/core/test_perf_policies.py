"""An attempt loop takes its breaker, limiter and rate-limit reporter from one kept look-up
(ConnectorRuntime.policies, issue 19): they must be the very objects the runtime's own
breaker(), limiter() and report_limits() hand out, for every model and partition."""

from __future__ import annotations

from typing import Any

from patchwire.clock import VirtualClock
from patchwire.connector import Attempt, Capability, Connector
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.types import Completion, CompletionRequest

reported_to: list[Any] = []


class _Partitioned(Connector):
    type_name = "partitioned"
    capabilities = frozenset({Capability.COMPLETE})

    def limit_key(self, request: Any) -> str | None:
        return request.params.get("host")

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        reported_to.append(attempt.report_limits)
        return Completion("ok")


class _Plugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        register("partitioned", _Partitioned)


def _hub(**table: Any) -> Hub:
    host = PluginHost(load_entry_points=False)
    host.register(_Plugin(), "partitioned")
    connectors = {"c": {"type": "partitioned", **table}}
    return Hub.from_dict({"connectors": connectors}, host=host, clock=VirtualClock())


async def test_policies_are_the_runtimes_own_objects_per_model_and_partition() -> None:
    limits = {"requests_per_second": 1000.0, "max_concurrency": 100}
    async with _hub(limits=limits) as hub:
        rt = hub.runtime("c")
        pairs = [("m", None), ("m", "a.example"), ("n", "a.example"), (None, None), ("", "b")]
        for model, partition in pairs:
            first = rt.policies(model, partition)
            assert rt.policies(model, partition) is first  # kept, not rebuilt
            breaker, limiter, report = first
            assert breaker is rt.breaker(model) and breaker is not None
            assert limiter is rt.limiter(partition) and limiter is not None
            assert report is rt.report_limits(model, partition)
        # Distinct partitions have distinct limiters, distinct models distinct breakers.
        assert rt.policies("m", None)[1] is not rt.policies("m", "a.example")[1]
        assert rt.policies("m", None)[0] is not rt.policies("n", None)[0]
        # None and "" name the same breaker, as breaker() does.
        assert rt.policies(None, None)[0] is rt.policies("", None)[0]


async def test_without_breaker_or_limits_the_policies_say_none() -> None:
    async with _hub(breaker={"enabled": False}) as hub:
        rt = hub.runtime("c")
        breaker, limiter, report = rt.policies("m", "x")
        assert breaker is None and limiter is None
        assert report is rt.report_limits("m", "x")


async def test_a_call_counts_on_the_runtimes_breaker_and_limiter_of_its_partition() -> None:
    limits = {"requests_per_second": 1000.0, "max_concurrency": 100}
    async with _hub(limits=limits) as hub:
        rt = hub.runtime("c")
        reported_to.clear()
        model = hub.model("c:m")
        await model.complete("hi", host="a.example")
        await model.complete("hi")
        assert reported_to == [rt.report_limits("m", "a.example"), rt.report_limits("m", None)]
        assert set(rt.limiters()) == {"a.example", None}
        totals = rt.breaker("m")._window.totals(hub.clock.now())
        assert totals == (2, 0)  # both successes counted on the model's breaker
