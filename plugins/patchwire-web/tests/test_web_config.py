"""Configuration of the web connector and argument checks, all before any request."""

from __future__ import annotations

from typing import Any

import pytest
from patchwire.config import ConnectorConfig
from patchwire.errors import ConfigError, InvalidRequestError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire_web.operations import Kind, bind_fetch, parse_settings

BASE = "https://shop.example/api"


def _error(
    host: PluginHost, operations: Any = None, base_url: str | None = BASE, **table: Any
) -> ConfigError:
    connector = {"type": "web", **table}
    if base_url is not None:
        connector["base_url"] = base_url
    if operations is not None:
        connector["operations"] = operations
    with pytest.raises(ConfigError) as info:
        Hub.from_dict({"connectors": {"shop": connector}}, source="site.toml", host=host)
    return info.value


@pytest.mark.parametrize(
    ("operation", "key", "message"),
    [
        ({}, "url", "missing"),
        ({"url": "/s?q={q"}, "url", "unmatched"),
        ({"url": "https://{tenant}.shop.example/x"}, "url", "not the scheme or host"),
        ({"url": "https://shop.example{path}"}, "url", "not the scheme or host"),
        ({"url": "ftp://shop.example/x"}, "url", "only http and https"),
        ({"url": "//shop.example/x"}, "url", "only http and https"),
        ({"url": "/x", "method": "FETCH"}, "method", "expected one of"),
        ({"url": "/x", "kind": "xml"}, "kind", "'json' (an API) or 'page'"),
        ({"url": "/x", "kind": "page", "method": "POST"}, "method", "fetches with GET"),
        ({"url": "/x", "json": {"q": "{q}"}}, "json", "a GET request has no body"),
        ({"url": "/x", "method": "POST", "json": "{q}"}, "json", "expected a table"),
        ({"url": "/x", "method": "POST", "json": {}, "form": {}}, "form", "not both"),
        ({"url": "/x", "headers": {"Bad Name": "v"}}, "Bad Name", "not a valid header name"),
        ({"url": "/x", "select": {"t": "h1"}}, "select", "only a page operation"),
        ({"url": "/x", "kind": "page", "required_fields": ["a"]}, "required_fields", "only a JSON"),
        ({"url": "/x", "required_fields": ["a..b"]}, "required_fields", "dotted field path"),
        ({"url": "/x", "kind": "page", "select": {"t": "h1..x"}}, "t", "not valid CSS"),
        ({"url": "/x", "kind": "page", "extract": ["pdf"]}, "extract", "main_text, links"),
        ({"url": "/x/{a}", "defaults": {"b": 1}}, "defaults", "b is not a placeholder"),
        ({"url": "/x/{select}", "kind": "page"}, "url", "is a page option"),
        ({"url": "/x", "cahce": True}, "cahce", "did you mean 'cache'"),
    ],
)
def test_bad_operations_are_refused_at_load_naming_the_key(
    web_host: PluginHost, operation: dict[str, Any], key: str, message: str
) -> None:
    error = _error(web_host, {"op": operation})
    assert error.source == "site.toml"
    assert error.table is not None and error.table.startswith("connectors.shop.operations.op")
    assert error.key == key
    assert message in error.message


def test_connector_settings_are_checked(web_host: PluginHost) -> None:
    assert _error(web_host, {"fetch": {"url": "/x"}}).key == "fetch"
    assert _error(web_host, {}, base_url="file:///etc").key == "base_url"
    assert _error(web_host, {}, robots_ttl=0).key == "robots_ttl"
    assert _error(web_host, {}, max_body=0).key == "max_body"
    assert _error(web_host, {}, user_agent=" ").key == "user_agent"
    relative = _error(web_host, {"op": {"url": "/x"}}, base_url=None)
    assert relative.key == "url" and "set base_url" in relative.message


def _operation(**table: Any) -> Any:
    config = ConnectorConfig(
        name="shop", type="web", base_url=BASE, settings={"operations": {"op": table}}
    )
    return parse_settings(config).operations["op"]


def test_binding_fills_url_headers_and_body_and_checks_arguments() -> None:
    op = _operation(
        method="POST",
        url="/items/{id}?lang={lang}",
        headers={"X-Trace": "t-{id}"},
        json={"query": "{q}", "page": "{page}", "note": "id {id}"},
        defaults={"lang": "en", "page": 1},
    )
    assert op.required == {"id", "q"}
    bound = op.bind({"id": "a/b", "q": ["x", 2]}, BASE)
    assert bound.url == "https://shop.example/api/items/a%2Fb?lang=en"
    assert bound.headers == {"X-Trace": "t-a/b"}
    assert bound.json_body == {"query": ["x", 2], "page": 1, "note": "id a/b"}
    assert bound.host == "shop.example"
    with pytest.raises(InvalidRequestError, match="needs argument"):
        op.bind({"id": 1}, BASE)
    with pytest.raises(InvalidRequestError, match="has no argument"):
        op.bind({"id": 1, "q": 1, "extra": 1}, BASE)
    with pytest.raises(InvalidRequestError, match="line break"):
        op.bind({"id": "x\r\nX-Evil: 1", "q": 1}, BASE)
    with pytest.raises(InvalidRequestError, match="cannot be written"):
        op.bind({"id": 1, "q": object()}, BASE)


def test_page_options_merge_with_the_declared_ones() -> None:
    op = _operation(url="/p", kind="page", select={"title": "h1"}, extract=["links"])
    bound = op.bind({"select": {"price": ".price"}, "extract": ["main_text"]}, BASE)
    assert bound.kind is Kind.PAGE
    assert bound.select == {"title": "h1", "price": ".price"}
    assert bound.extract == {"links", "main_text"}
    with pytest.raises(InvalidRequestError, match="not valid CSS"):
        op.bind({"select": {"x": "p[["}}, BASE)
    with pytest.raises(InvalidRequestError, match="extract must be"):
        op.bind({"extract": "main_text"}, BASE)


def test_fetch_takes_a_url_and_page_options_only() -> None:
    bound = bind_fetch({"url": "https://news.example/a#top", "extract": ["links"]}, None)
    assert bound.url == "https://news.example/a" and bound.method == "GET"
    assert bind_fetch({"url": "/docs"}, BASE).url == "https://shop.example/api/docs"
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "needs url="),
        ({"url": "/relative"}, "no base_url"),
        ({"url": "javascript:alert(1)"}, "not an http"),
        ({"url": "https://x.example", "q": 1}, "has no argument"),
    ]
    for arguments, message in cases:
        with pytest.raises(InvalidRequestError, match=message):
            bind_fetch(arguments, None)
