"""Declared fields of JSON answers, as dotted paths."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire_web.fields import has_path, missing_fields

_KEYS = st.sampled_from(["items", "total", "meta", "id", "name"])
_JSON = st.recursive(
    st.none() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=12,
)


def _paths(data: Any, prefix: str = "") -> list[str]:
    out = []
    if isinstance(data, dict):
        items = [(str(k), v) for k, v in data.items()]
    elif isinstance(data, list):
        items = [(str(i), v) for i, v in enumerate(data)]
    else:
        return []
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else key
        out.append(path)
        out.extend(_paths(value, path))
    return out


@settings(max_examples=200, deadline=None)
@given(_JSON)
def test_every_path_that_exists_is_found(data: Any) -> None:
    """Invariant: each key or index path present in a document is reported present."""
    paths = _paths(data)
    assert missing_fields(data, paths) == []


@settings(max_examples=200, deadline=None)
@given(_JSON, _KEYS)
def test_a_path_below_a_missing_key_is_missing(data: Any, key: str) -> None:
    """Invariant: after a key is removed, no path through it is found."""
    if not isinstance(data, dict) or key not in data:
        return
    paths = [p for p in _paths(data) if p == key or p.startswith(key + ".")]
    del data[key]
    assert missing_fields(data, paths) == paths


def test_lists_are_indexed_by_position_and_scalars_have_no_fields() -> None:
    data = {"items": [{"id": 1}], "total": 0, "name": "x"}
    assert has_path(data, "items.0.id")
    assert not has_path(data, "items.1.id")
    assert not has_path(data, "items.first")
    assert not has_path(data, "name.length")
    assert missing_fields(data, ["total", "meta.count"]) == ["meta.count"]
