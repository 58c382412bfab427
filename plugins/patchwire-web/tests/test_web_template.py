"""URL, header and body templates: arguments never change a request's shape."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.errors import InvalidRequestError
from patchwire_web.template import Template, TemplateError, json_fields, render_json

_TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["../admin", "a/b", "?x=1", "&y=2", "#frag", "@evil.example", "%2F", " ", "a+b", "//host"]
)


@settings(max_examples=300, deadline=None)
@given(_TEXT, _TEXT)
def test_url_arguments_never_add_segments_parameters_or_fragments(item: str, q: str) -> None:
    """Invariant: whatever the values, the rendered URL keeps the template's host, its path
    segments and its query parameters, and each value decodes back exactly."""
    template = Template.parse("https://shop.example/items/{item}/reviews?q={q}&page=2")
    url = template.render_url({"item": item, "q": q})
    parts = urlsplit(url)
    assert parts.hostname == "shop.example"
    assert parts.fragment == ""
    segments = parts.path.split("/")
    assert len(segments) == 4 and segments[1] == "items" and segments[3] == "reviews"
    assert unquote(segments[2]) == item
    query = parse_qs(parts.query, keep_blank_values=True)
    assert set(query) == {"q", "page"}
    assert query["q"] == [q] and query["page"] == ["2"]


@settings(max_examples=100, deadline=None)
@given(st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.booleans())
def test_numbers_and_booleans_are_written_as_text(value: int | float | bool) -> None:
    """Invariant: a scalar argument renders as its usual text (booleans as true/false)."""
    text = Template.parse("{v}").render_text({"v": value})
    expected = ("true" if value else "false") if isinstance(value, bool) else str(value)
    assert text == expected


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
        max_leaves=10,
    )
)
def test_a_whole_placeholder_in_a_json_body_keeps_the_value_as_it_is(value: object) -> None:
    """Invariant: {"query": "{q}"} sends q itself, whatever JSON value it is."""
    template = {"query": "{q}", "fixed": [1, {"n": True}]}
    body = render_json(template, {"q": value})
    assert body["query"] == value
    assert body["fixed"] == [1, {"n": True}]
    assert json_fields(template) == {"q"}


def test_structured_values_are_refused_where_only_text_fits() -> None:
    with pytest.raises(InvalidRequestError, match="must be a string"):
        Template.parse("/x/{v}").render_url({"v": ["a"]})
    with pytest.raises(InvalidRequestError, match="must be a string"):
        render_json({"label": "q={q}"}, {"q": {"a": 1}})


def test_literal_prefix_and_escaped_braces() -> None:
    template = Template.parse("https://h.example/a{{b}}/{x}")
    assert template.literal_prefix == "https://h.example/a{b}/"
    assert template.render_url({"x": "y"}) == "https://h.example/a{b}/y"
    with pytest.raises(TemplateError, match="unmatched"):
        Template.parse("/a/{x")
