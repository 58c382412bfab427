"""Model.complete builds the call's _Requests by storing its slots, and makes a plain text
prompt its message without check_prompt's call (issue 19).

Invariant: for any prompt and parameters, the _Requests the pipeline gets holds exactly
what ``_Requests(messages, params, idempotency_key, features)`` holds (every slot), and
builds the same request for a target.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.arguments import check_prompt
from patchwire.clock import VirtualClock
from patchwire.features import split_features
from patchwire.hub import Hub
from patchwire.model import _Requests
from patchwire.pipeline import Pipeline
from patchwire.plugins import PluginHost
from patchwire.testing.fake import FakePlugin
from patchwire.types import Message

HOST = PluginHost(load_entry_points=False)
HOST.register(FakePlugin(), "fake")

prompts = st.one_of(
    st.text(max_size=20),
    st.builds(Message, st.sampled_from(["user", "system"]), st.text(max_size=10)),
    st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "assistant"]), "content": st.text(max_size=10)}
        ),
        min_size=1,
        max_size=3,
    ),
)
params = st.fixed_dictionaries(
    {},
    optional={
        "temperature": st.floats(0, 2),
        "max_tokens": st.integers(1, 100),
        "stop": st.lists(st.text(min_size=1, max_size=3), max_size=2),
    },
)


@settings(max_examples=40, deadline=None)
@given(
    prompt=prompts,
    given_params=params,
    key=st.one_of(st.none(), st.text("abcxyz", min_size=1, max_size=5)),
)
async def test_the_requests_handed_on_are_the_classes_own(
    prompt: Any, given_params: dict[str, Any], key: str | None
) -> None:
    handed: list[_Requests] = []
    real = Pipeline.complete

    async def spy(self: Pipeline, targets: Any, requests: _Requests, *rest: Any) -> Any:
        handed.append(requests)
        return await real(self, targets, requests, *rest)

    hub = Hub.from_dict({"connectors": {"fake": {}}}, host=HOST, clock=VirtualClock())
    with mock.patch.object(Pipeline, "complete", spy):
        async with hub:
            model = hub.model("fake:m")
            await model.complete(prompt, idempotency_key=key, cache=False, **given_params)
            target = model._targets[0]
    (requests,) = handed
    rest, features = split_features(dict(given_params))
    built = _Requests(check_prompt(prompt), rest, key, features)
    assert type(requests) is _Requests
    for slot in _Requests.__slots__:  # every slot stored, one added later included
        getattr(requests, slot)
    for slot in ("messages", "params", "idempotency_key", "features"):
        assert getattr(requests, slot) == getattr(built, slot), slot
    assert requests.last is target  # the pipeline asked it for the target it called
    assert built(target) == requests(target)
    fresh = _Requests(check_prompt(prompt), rest, key, features)
    assert fresh.last is None and fresh.made is None
