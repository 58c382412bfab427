"""The rate-limit reporter writes its event's data out field by field and builds the event
without the frozen __init__'s setattr call per field (issue 19: every reply carrying
rate-limit headers is reported). Invariant: for any RateLimitInfo, the sinks get the very
Event the class call built from the comprehension it replaces, and the limiter sees it."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.connector import Capability, Connector
from patchwire.events import Event, EventKind
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.limiter import RateLimitInfo
from patchwire.plugins import PluginHost


class _Quiet(Connector):
    type_name = "quiet"
    capabilities = frozenset({Capability.COMPLETE})


class _Plugin:
    @hookimpl
    def patchwire_register_connectors(self, register: Any) -> None:
        register("quiet", _Quiet)


def _hub(**table: Any) -> Hub:
    host = PluginHost(load_entry_points=False)
    host.register(_Plugin(), "quiet")
    connectors = {"c": {"type": "quiet", **table}}
    return Hub.from_dict({"connectors": connectors}, host=host, clock=VirtualClock())


def reference_data(info: RateLimitInfo) -> dict[str, Any]:
    return {
        k: v
        for k, v in (
            ("requests_limit", info.requests_limit),
            ("requests_remaining", info.requests_remaining),
            ("requests_reset", info.requests_reset),
            ("tokens_limit", info.tokens_limit),
            ("tokens_remaining", info.tokens_remaining),
            ("tokens_reset", info.tokens_reset),
        )
        if v is not None
    }


_VALUE = st.none() | st.floats(0, 1e9) | st.integers(-1, 10**7)
_INFOS = st.builds(RateLimitInfo, _VALUE, _VALUE, _VALUE, _VALUE, _VALUE, _VALUE)
_LIMITED = _hub(limits={"requests_per_minute": 600, "tokens_per_minute": 100_000})
_UNLIMITED = _hub()


@settings(max_examples=300, deadline=None)
@given(_INFOS, st.sampled_from(["m", None, ""]), st.booleans())
def test_sinks_get_the_event_the_class_call_built(
    info: RateLimitInfo, model: str | None, limited: bool
) -> None:
    hub = _LIMITED if limited else _UNLIMITED
    got: list[Event] = []
    hub.bus.add("test", got.append)
    try:
        runtime = hub.runtime("c")
        runtime.report_limits(model, None)(info)
    finally:
        hub.bus.remove("test")
    want = Event(
        EventKind.QUOTA_REPORTED,
        "c",
        model,
        time=hub.clock.now(),
        data=reference_data(info),
    )
    assert len(got) == 1
    event = got[0]
    assert type(event) is Event and event == want and repr(event) == repr(want)
    assert list(event.data.items()) == list(want.data.items())  # same order too
    limiter = runtime.limiter(None)
    if limited:
        assert limiter is not None and limiter.snapshot().reported is info
    else:
        assert limiter is None
