"""The converter that copies a request's params (and a tool request's arguments, a tool
result's metadata) makes an empty one without first building a dict to copy (issue 19).
It must still give what ``dict(value or {})`` gave: a new dict, never the caller's."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.types import CompletionRequest, EmbeddingRequest, ToolRequest, ToolResult, _freeze


class _Empty(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _old(value: Any) -> dict[str, Any]:
    return dict(value or {})


@pytest.mark.parametrize(
    "value",
    [None, {}, [], (), _Empty(), MappingProxyType({}), MappingProxyType({"a": 1}), [("k", 2)]],
)
def test_every_kind_of_value_converts_as_before(value: Any) -> None:
    made = _freeze(value)
    assert type(made) is dict
    assert made == _old(value)
    assert made is not value


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=6))
def test_a_dict_is_copied_not_shared(value: dict[str, Any]) -> None:
    for made in (
        CompletionRequest("m", (), value).params,
        EmbeddingRequest("m", ("a",), value).params,
        ToolRequest("op", value).arguments,
        ToolResult(metadata=value).metadata,
    ):
        assert made == value and made is not value
        value["added later"] = 1  # the caller's dict changes; the request's does not
        assert "added later" not in made
        del value["added later"]


def test_two_requests_without_params_do_not_share_one_dict() -> None:
    one, two = CompletionRequest("m", ()), CompletionRequest("m", (), None)
    assert one.params == two.params == {}
    assert one.params is not two.params
