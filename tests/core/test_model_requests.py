"""model._Requests: the request each target is sent, built once per target in a row."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from patchwire.model import _Requests
from patchwire.pipeline.target import Target
from patchwire.types import Message


def test_the_same_target_twice_in_a_row_gets_the_request_already_built() -> None:
    first = cast(Target, SimpleNamespace(model="m1"))
    second = cast(Target, SimpleNamespace(model="m2"))
    params: dict[str, Any] = {"temperature": 0}
    requests = _Requests((Message("user", "hi"),), params, "idem", None)
    made = requests(first)
    assert requests(first) is made  # the cache key's request is the attempt's
    assert requests.last is first
    other = requests(second)
    assert other.model == "m2" and requests.last is second
    again = requests(first)
    assert again is not made and again == made  # a new target in between: built afresh
    assert (made.model, made.messages, made.params, made.idempotency_key) == (
        "m1",
        (Message("user", "hi"),),
        params,
        "idem",
    )
