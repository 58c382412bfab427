"""Declared operations and the built-in ``fetch``: what a call will request, checked early.

``[connectors.NAME.operations.OP]`` tables are checked when the hub is created (templates,
methods, selectors, field paths), and a call's arguments before any request is sent: a
missing or unexpected argument is ``invalid_request`` with no attempt made.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
from patchwire.config import ConnectorConfig
from patchwire.config_table import Table
from patchwire.config_values import shown
from patchwire.errors import InvalidRequestError
from patchwire.run_tools import ArgumentType, arguments_schema, parse_argument_types

from patchwire_web import __version__
from patchwire_web.template import (
    Template,
    TemplateError,
    json_fields,
    render_json,
    scalar_text,
)
from patchwire_web.urls import UrlProblem, check_url

__all__ = [
    "DEFAULT_HTTP_CACHE_SIZE",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_ROBOTS_TTL",
    "DEFAULT_USER_AGENT",
    "EXTRACTS",
    "FETCH",
    "Bound",
    "Kind",
    "Operation",
    "WebSettings",
    "bind_fetch",
    "parse_settings",
]

FETCH = "fetch"
EXTRACTS = ("main_text", "links")
#: call-time arguments of every page operation (and of fetch)
PAGE_ARGS = ("extract", "select", "select_all")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

DEFAULT_USER_AGENT = f"patchwire-web/{__version__} (+https://pypi.org/project/patchwire-web/)"
DEFAULT_MAX_BODY = 10 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_ROBOTS_TTL = 3600.0
DEFAULT_HTTP_CACHE_SIZE = 32 * 1024 * 1024

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_OPERATION_KEYS = (
    "method",
    "url",
    "kind",
    "headers",
    "json",
    "form",
    "defaults",
    "required_fields",
    "select",
    "select_all",
    "extract",
    "cache",
    "description",
    "forward_headers",
    "timeout",
    "ttl",
    "arguments",
)


class Kind(enum.StrEnum):
    JSON = "json"  # an API answering JSON
    PAGE = "page"  # a page: robots.txt applies, extraction on request


@attrs.frozen
class Bound:
    """One call's request, arguments substituted and checked."""

    operation: str
    kind: Kind
    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict)
    json_body: Any = None
    form: Mapping[str, str] | None = None
    extract: frozenset[str] = frozenset()
    select: Mapping[str, str] = attrs.field(factory=dict)
    select_all: Mapping[str, str] = attrs.field(factory=dict)
    required_fields: tuple[str, ...] = ()
    #: lower-cased names of headers filled from arguments: never sent to another origin
    private_headers: frozenset[str] = frozenset()

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


def _check_url(url: str) -> str:
    try:
        return check_url(url)
    except UrlProblem as exc:
        raise InvalidRequestError(str(exc)) from None


def _is_absolute(url: str) -> bool:
    try:
        return bool(urlsplit(url).scheme) or url.startswith("//")
    except ValueError:
        return True  # malformed: check_url says how


def _absolute(url: str, base_url: str | None) -> str:
    if _is_absolute(url):
        return _check_url(url)
    if base_url is None:
        raise InvalidRequestError(
            f"{url!r} is relative and this connector has no base_url; give an absolute http(s) URL"
        )
    return _check_url(base_url.rstrip("/") + "/" + url.lstrip("/"))


def _selectors(value: Any, what: str) -> dict[str, str]:
    from patchwire_web.extract import selector_error

    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidRequestError(f"{what} must map names to CSS selectors, e.g. {{'title': 'h1'}}")
    for name, selector in value.items():
        problem = selector_error(selector)
        if problem is not None:
            raise InvalidRequestError(f"{what} '{name}': {selector!r} is not valid CSS ({problem})")
    return dict(value)


def _page_options(
    args: Mapping[str, Any],
    extract: tuple[str, ...] = (),
    select: Mapping[str, str] | None = None,
    select_all: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    asked = args.get("extract", [])
    if (
        isinstance(asked, str)
        or not isinstance(asked, list | tuple)
        or not set(asked) <= set(EXTRACTS)
    ):
        raise InvalidRequestError(f"extract must be a list of: {', '.join(EXTRACTS)}")
    return {
        "extract": frozenset(extract) | frozenset(asked),
        "select": {**(select or {}), **_selectors(args.get("select", {}), "select")},
        "select_all": {
            **(select_all or {}),
            **_selectors(args.get("select_all", {}), "select_all"),
        },
    }


def bind_fetch(arguments: Mapping[str, Any], base_url: str | None) -> Bound:
    """The built-in page fetch: ``url=`` plus the page options."""
    given = dict(arguments)
    url = given.pop("url", None)
    if not isinstance(url, str) or not url:
        raise InvalidRequestError("fetch needs url=, the page's http(s) URL")
    options = {k: given.pop(k) for k in PAGE_ARGS if k in given}
    if given:
        raise InvalidRequestError(
            f"fetch has no argument(s) {', '.join(sorted(given))}; it takes: url, {', '.join(PAGE_ARGS)}"
        )
    return Bound(FETCH, Kind.PAGE, "GET", _absolute(url, base_url), **_page_options(options))


@attrs.frozen
class Operation:
    name: str
    method: str
    url: Template
    kind: Kind
    headers: Mapping[str, Template]
    json_template: Any  # None: no JSON body
    form: Mapping[str, Template] | None
    defaults: Mapping[str, Any]
    required_fields: tuple[str, ...]
    select: Mapping[str, str]
    select_all: Mapping[str, str]
    extract: tuple[str, ...]
    cache: bool
    description: str
    #: headers filled from arguments that may follow a redirect to another origin
    forward_headers: frozenset[str] = frozenset()
    #: seconds one attempt may take (None: the connector's ``timeout``)
    timeout: float | None = None
    #: seconds a cached answer is served (None: the connector's ``[cache] ttl``; 0: never)
    ttl: float | None = None
    #: declared argument types (``arguments`` table); undeclared ones take any value
    argument_types: Mapping[str, ArgumentType] = attrs.field(factory=dict)

    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema a model is offered for this operation's arguments."""
        return arguments_schema(self.fields, self.required, self.argument_types, {})

    @property
    def private_headers(self) -> frozenset[str]:
        """Headers filled from call arguments that stay with the call's origin."""
        return frozenset(
            name.lower()
            for name, template in self.headers.items()
            if template.fields and name.lower() not in self.forward_headers
        )

    @property
    def fields(self) -> frozenset[str]:
        names = set(self.url.fields)
        for header in self.headers.values():
            names |= header.fields
        if self.json_template is not None:
            names |= json_fields(self.json_template)
        for value in (self.form or {}).values():
            names |= value.fields
        return frozenset(names)

    @property
    def required(self) -> frozenset[str]:
        return self.fields - self.defaults.keys()

    def bind(self, arguments: Mapping[str, Any], base_url: str | None) -> Bound:
        given = dict(arguments)
        options = (
            {k: given.pop(k) for k in PAGE_ARGS if k in given} if self.kind is Kind.PAGE else {}
        )
        values = {**self.defaults, **given}
        fields = self.fields
        takes = ", ".join(sorted(fields)) or "no arguments"
        missing = sorted(fields - values.keys())
        if missing:
            raise InvalidRequestError(
                f"operation '{self.name}' needs argument(s) {', '.join(missing)}; it takes: {takes}"
            )
        unexpected = sorted(values.keys() - fields)
        if unexpected:
            raise InvalidRequestError(
                f"operation '{self.name}' has no argument(s) {', '.join(unexpected)}; it takes: {takes}"
            )
        for name, declared in self.argument_types.items():
            problem = declared.problem(values[name]) if name in values else None
            if problem is not None:
                raise InvalidRequestError(f"operation '{self.name}': argument '{name}': {problem}")
        headers = {}
        for name, template in self.headers.items():
            value = template.render_text(values)
            if "\r" in value or "\n" in value:
                raise InvalidRequestError(f"header {name} may not contain a line break")
            headers[name] = value
        json_body = None
        if self.json_template is not None:
            json_body = render_json(self.json_template, values)
            try:
                json.dumps(json_body)
            except (TypeError, ValueError) as exc:
                raise InvalidRequestError(
                    f"operation '{self.name}': the JSON body cannot be written ({exc})"
                ) from None
        form = None
        if self.form is not None:
            form = {name: template.render_text(values) for name, template in self.form.items()}
        page = (
            _page_options(options, self.extract, self.select, self.select_all)
            if self.kind is Kind.PAGE
            else {}
        )
        return Bound(
            self.name,
            self.kind,
            self.method,
            _absolute(self.url.render_url(values), base_url),
            headers,
            json_body,
            form,
            required_fields=self.required_fields,
            private_headers=self.private_headers,
            **page,
        )


# --- configuration --------------------------------------------------------------------------


def _template(table: Table, key: str, text: str) -> Template:
    try:
        return Template.parse(text)
    except TemplateError as exc:
        raise table.error(key, str(exc)) from None


def _url(table: Table, base_url: str | None) -> Template:
    if "url" not in table.raw:
        raise table.error("url", "missing; give the URL template, e.g. '/search?q={q}'")
    text = table.string("url") or ""
    template = _template(table, "url", text)
    if text.startswith(("http://", "https://")):
        authority = template.literal_prefix.split("://", 1)[1]
        if template.fields and "/" not in authority:
            raise table.error(
                "url", "placeholders may only stand in the path and query, not the scheme or host"
            )
        try:
            check_url(template.literal_prefix)
        except UrlProblem as exc:
            raise table.error("url", exc.detail) from None
    elif "://" in text.split("?", 1)[0] or text.startswith("//"):
        raise table.error("url", f"only http and https URLs are allowed; got {shown(text)}")
    elif base_url is None:
        raise table.error(
            "url", f"the URL ({shown(text)}) is relative: set base_url on the connector"
        )
    return template


def _string_table(table: Table, key: str) -> dict[str, str]:
    sub = table.table(key)
    for name, value in sub.raw.items():
        if not isinstance(value, str):
            raise sub.error(name, f"expected a string, got {type(value).__name__}")
    return dict(sub.raw)


def _selector_table(table: Table, key: str) -> dict[str, str]:
    from patchwire_web.extract import selector_error

    selectors = _string_table(table, key)
    for name, selector in selectors.items():
        problem = selector_error(selector)
        if problem is not None:
            raise table.where.child(key).error(
                name, f"the selector ({shown(selector)}) is not valid CSS ({problem})"
            )
    return selectors


def _forward_headers(table: Table, headers: Mapping[str, Template]) -> frozenset[str]:
    declared = {name.lower() for name in headers}
    names = table.strings("forward_headers", ())
    for position, name in enumerate(names, 1):
        if name.lower() not in declared:
            raise table.error(
                "forward_headers",
                f"item {position} is not one of this operation's headers"
                f" ({', '.join(sorted(headers)) or 'it has none'})",
            )
    return frozenset(name.lower() for name in names)


def _operation(name: str, table: Table, base_url: str | None) -> Operation:
    table.check_keys(_OPERATION_KEYS)
    url = _url(table, base_url)
    method = (table.string("method") or "GET").upper()
    if method not in METHODS:
        raise table.error("method", f"expected one of: {', '.join(METHODS)}")
    try:
        kind = Kind(table.string("kind") or Kind.JSON.value)
    except ValueError:
        raise table.error("kind", "expected 'json' (an API) or 'page' (a web page)") from None
    if kind is Kind.PAGE and method != "GET":
        raise table.error("method", "a page operation fetches with GET")
    headers = {}
    for header, value in _string_table(table, "headers").items():
        if not _HEADER_NAME.fullmatch(header):
            raise table.where.child("headers").error(header, "is not a valid header name")
        if "\r" in value or "\n" in value:
            raise table.where.child("headers").error(header, "may not contain a line break")
        headers[header] = _template(table, "headers", value)
    json_template = None
    if "json" in table.raw:
        json_template = table.raw["json"]
        if not isinstance(json_template, Mapping | list):
            raise table.error("json", "expected a table (or list): the JSON body template")
        try:
            json_fields(json_template)
        except TemplateError as exc:
            raise table.error("json", str(exc)) from None
    form = None
    if "form" in table.raw:
        raw_form = table.table("form")
        form = {}
        for field, value in raw_form.raw.items():
            if not isinstance(value, str | int | float | bool):
                raise raw_form.error(field, "expected a string or a number")
            form[field] = _template(table, "form", scalar_text(field, value))
    if (json_template is not None or form is not None) and method in ("GET", "HEAD"):
        raise table.error(
            "json" if json_template is not None else "form", f"a {method} request has no body"
        )
    if json_template is not None and form is not None:
        raise table.error("form", "give either a json body or a form body, not both")
    required_fields = table.strings("required_fields", ())
    select = _selector_table(table, "select")
    select_all = _selector_table(table, "select_all")
    extract = table.strings("extract", ())
    for field_path in required_fields:
        if not field_path or any(not segment for segment in field_path.split(".")):
            raise table.error("required_fields", f"{shown(field_path)} is not a dotted field path")
    for wanted in extract:
        if wanted not in EXTRACTS:
            raise table.error(
                "extract", f"expected any of {', '.join(EXTRACTS)}; got {shown(wanted)}"
            )
    page_only: dict[str, object] = {"select": select, "select_all": select_all, "extract": extract}
    if kind is Kind.JSON:
        for key, option in page_only.items():
            if option:
                raise table.error(key, "only a page operation (kind = 'page') extracts from HTML")
    elif required_fields:
        raise table.error("required_fields", "only a JSON operation has fields to require")
    clash = sorted(select.keys() & select_all.keys())
    if clash:
        raise table.error("select_all", f"{', '.join(clash)} is also a name in select")
    operation = Operation(
        name=name,
        method=method,
        url=url,
        kind=kind,
        headers=headers,
        json_template=json_template,
        form=form,
        defaults=dict(table.table("defaults").raw),
        required_fields=required_fields,
        select=select,
        select_all=select_all,
        extract=extract,
        cache=table.boolean("cache", False),
        description=table.string("description") or "",
        forward_headers=_forward_headers(table, headers),
        timeout=table.seconds("timeout", zero=False),
        ttl=table.seconds("ttl", zero=True),
    )
    declared = parse_argument_types(
        table.table("arguments").raw,
        operation.fields,
        lambda message: table.error("arguments", message),
    )
    operation = attrs.evolve(operation, argument_types=declared)
    unknown = sorted(operation.defaults.keys() - operation.fields)
    if unknown:
        raise table.error(
            "defaults", f"{', '.join(unknown)} is not a placeholder of this operation"
        )
    reserved = sorted(operation.fields & set(PAGE_ARGS)) if kind is Kind.PAGE else []
    if reserved:
        raise table.error(
            "url", f"{', '.join(reserved)} is a page option and cannot be a placeholder"
        )
    return operation


@attrs.frozen
class WebSettings:
    operations: Mapping[str, Operation]
    base_url: str | None
    user_agent: str
    respect_robots: bool
    robots_ttl: float
    allow_private: bool
    max_body: int
    max_redirects: int
    http_cache_size: int  # bytes; 0 turns HTTP caching off


def _base_url(config: ConnectorConfig) -> str | None:
    base = config.base_url
    if base is not None:
        try:
            check_url(base)
        except UrlProblem as exc:
            raise config.where.error(
                "base_url", f"expected an http(s) URL with a host: {exc.detail}"
            ) from None
    return base


def _operations(base: Table, base_url: str | None) -> dict[str, Operation]:
    operations = base.table("operations")
    out = {}
    for name in operations.raw:
        if name == FETCH:
            raise operations.error(
                name, "'fetch' is built in (fetch a page by url=); choose another name"
            )
        if not _NAME.fullmatch(name):
            raise operations.error(
                name,
                "an operation name is a letter or _ followed by letters, digits, '_', '.' or '-'",
            )
        out[name] = _operation(name, operations.table(name), base_url)
    return out


def parse_settings(config: ConnectorConfig) -> WebSettings:
    """A ``web`` connector's settings and every declared operation, checked."""
    base = Table(config.settings, config.where)
    user_agent = base.string("user_agent") or DEFAULT_USER_AGENT
    if not user_agent.strip() or "\n" in user_agent or "\r" in user_agent:
        raise config.where.error("user_agent", "expected a one-line product description")
    robots_ttl = base.number("robots_ttl", DEFAULT_ROBOTS_TTL, minimum=0)
    if robots_ttl == 0:
        raise config.where.error(
            "robots_ttl",
            "must be > 0 seconds (to stop honouring robots.txt, set respect_robots = false)",
        )
    base_url = _base_url(config)
    return WebSettings(
        operations=_operations(base, base_url),
        base_url=base_url,
        user_agent=user_agent,
        respect_robots=base.boolean("respect_robots", True),
        robots_ttl=robots_ttl,
        allow_private=base.boolean("allow_private", False),
        max_body=base.integer("max_body", DEFAULT_MAX_BODY, minimum=1),
        max_redirects=base.integer("max_redirects", DEFAULT_MAX_REDIRECTS, minimum=0),
        http_cache_size=base.integer("http_cache_size", DEFAULT_HTTP_CACHE_SIZE, minimum=0),
    )
