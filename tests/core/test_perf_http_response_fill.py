"""send() builds each HttpResponse by filling a twin's slots and assigning its class (issue
19: the frozen __init__ set each of four fields through a setattr call, on every request).
The result must be an HttpResponse in every way: equal, printed, copied and frozen like
the one HttpResponse(...) builds, with each field in its place."""

from __future__ import annotations

import copy
import inspect
import weakref

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.http import HttpResponse, _response
from yarl import URL


def test_its_parameters_are_the_fields_in_order() -> None:
    """A field added to HttpResponse must be added to _response() too, in its place."""
    names = list(inspect.signature(_response).parameters)
    assert names == [f.name for f in attrs.fields(HttpResponse)]


def test_it_skips_nothing_init_would_run() -> None:
    assert all(f.converter is None and f.validator is None for f in attrs.fields(HttpResponse))
    assert not hasattr(HttpResponse, "__attrs_post_init__")


@given(
    status=st.integers(100, 599),
    body=st.binary(max_size=40),
    header=st.text("abcxyz-", min_size=1, max_size=8),
)
def test_a_filled_response_is_the_built_one(status: int, body: bytes, header: str) -> None:
    headers = CIMultiDictProxy(CIMultiDict({header: "v", "x-request-id": "r"}))
    url = URL("https://api.example/v1/x?key=secret")
    values = (status, headers, body, url)
    filled, built = _response(*values), HttpResponse(*values)
    assert type(filled) is HttpResponse
    assert filled == built and repr(filled) == repr(built)
    assert attrs.astuple(filled, recurse=False) == values  # each field in its place
    assert filled.url == built.url and "secret" not in filled.url
    assert copy.copy(filled) == built
    assert attrs.evolve(filled, status=204) == attrs.evolve(built, status=204)


def test_a_filled_response_is_frozen_and_weakly_referenced() -> None:
    filled = _response(200, CIMultiDictProxy(CIMultiDict()), b"{}", "https://a.example")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        filled.status = 500  # type: ignore[misc]
    assert weakref.ref(filled)() is filled
    assert filled.json() == {}
    assert "__weakref__" not in HttpResponse.__slots__  # inherited from the shared base
