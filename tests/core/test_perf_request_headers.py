"""The request-headers hook is called without pluggy's dispatch while its implementations
are plain ones (issue 19); every request must still get exactly what pluggy would give.

Each example registers and unregisters plugins of every kind pluggy knows (plain, tryfirst,
trylast, one that takes no argument or has a default, new-style wrappers, old-style
hookwrappers, one that raises) and turns hook-call monitoring on and off, building a
request on the hub's session after every step. The request's calls (which implementations
ran, in which order), its headers and the failure count must equal pluggy's own answer
for the same plugins, computed by calling the hook the ordinary way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any

import aiohttp
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from yarl import URL

URL_TEXT = "http://127.0.0.1:9/v1/chat/completions?a=1"
KINDS = (
    "plain",
    "tryfirst",
    "trylast",
    "none",
    "empty",
    "no-argument",
    "default",
    "wrapper",
    "hookwrapper",
    "raises",
)


def _plugin(kind: str, name: str, log: list[str]) -> object:
    """A plugin of ``kind`` whose calls append to ``log``."""

    def answer(url: str) -> dict[str, str]:
        log.append(f"{name}:{url}")
        # x-order: the answer pluggy puts last wins; Authorization: never replaces the call's
        return {"x-order": name, f"x-{name}": "1", "Authorization": name}

    if kind in ("plain", "tryfirst", "trylast"):
        options = {"tryfirst": kind == "tryfirst", "trylast": kind == "trylast"}

        class Plain:
            @hookimpl(**options)
            def patchwire_request_headers(self, url: str) -> dict[str, str]:
                return answer(url)

        return Plain()
    if kind == "none":

        class Silent:
            @hookimpl
            def patchwire_request_headers(self, url: str) -> None:
                log.append(f"{name}:none")

        return Silent()
    if kind == "empty":

        class Empty:
            @hookimpl
            def patchwire_request_headers(self, url: str) -> dict[str, str]:
                log.append(f"{name}:empty")
                return {}

        return Empty()
    if kind == "no-argument":

        class NoArgument:
            @hookimpl
            def patchwire_request_headers(self) -> dict[str, str]:
                return answer("-")

        return NoArgument()
    if kind == "default":

        class Default:
            @hookimpl
            def patchwire_request_headers(self, url: str = "default") -> dict[str, str]:
                return answer(url)

        return Default()
    if kind == "wrapper":

        class Wrapper:
            @hookimpl(wrapper=True)
            def patchwire_request_headers(self, url: str) -> Generator[None, list[Any], list[Any]]:
                log.append(f"{name}:before")
                answers = yield
                log.append(f"{name}:after:{len(answers)}")
                return [*answers, {"x-order": name, "x-wrapped": name}]

        return Wrapper()
    if kind == "hookwrapper":

        class HookWrapper:
            @hookimpl(hookwrapper=True)
            def patchwire_request_headers(self, url: str) -> Generator[None, Any, None]:
                log.append(f"{name}:old-before")
                outcome = yield
                log.append(f"{name}:old-after")
                if outcome.exception is None:
                    outcome.force_result([{"x-order": name}, *outcome.get_result()])

        return HookWrapper()

    class Raises:
        @hookimpl
        def patchwire_request_headers(self, url: str) -> None:
            log.append(f"{name}:raises")
            raise RuntimeError("a plugin bug")

    return Raises()


def _expected(hook: Any, url: str, sent: CIMultiDict[str]) -> tuple[dict[str, str], bool]:
    """What pluggy's own call gives the request: the headers added, and whether it failed."""
    try:
        answers = hook(url=url)
        added = {str(k): str(v) for a in answers if a for k, v in a.items() if k not in sent}
    except Exception:
        return {}, True
    return added, False


Step = tuple[str, Any]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("register"), st.sampled_from(KINDS)),
        st.tuples(st.just("unregister"), st.integers(0, 7)),
        st.tuples(st.just("monitor"), st.booleans()),
    ),
    max_size=12,
)


async def _run(first: str, operations: list[Step]) -> None:
    host = PluginHost(load_entry_points=False)
    log: list[str] = []
    names: list[str] = []
    undo: Callable[[], None] | None = None

    def register(kind: str) -> None:
        name = f"p{len(log)}-{len(names)}-{kind}"
        host.register(_plugin(kind, name, log), name)
        names.append(name)

    register(first)
    hub = Hub.from_dict({}, host=host)
    session = hub.session()
    request_class: Any = session._request_class
    hook = host.hook.patchwire_request_headers
    loop = asyncio.get_running_loop()
    call_headers = {"Authorization": "Bearer mine"}
    try:
        for what, value in [("request", None), *operations]:
            if what == "register":
                register(value)
            elif what == "unregister" and names:
                host.unregister(names.pop(value % len(names)))
            elif what == "monitor":
                if value and undo is None:
                    undo = host.pm.add_hookcall_monitoring(
                        lambda name, impls, kwargs: log.append(f"monitor:{len(impls)}"),
                        lambda outcome, name, impls, kwargs: log.append("monitor:after"),
                    )
                elif not value and undo is not None:
                    undo()
                    undo = None
            failures = hub.bus.sink_failures.get("request_headers", 0)
            log.clear()
            request = request_class(
                "POST", URL(URL_TEXT), headers=call_headers, loop=loop, session=session
            )
            seen, failed = list(log), hub.bus.sink_failures.get("request_headers", 0) > failures
            log.clear()
            base = aiohttp.ClientRequest(
                "POST", URL(URL_TEXT), headers=call_headers, loop=loop, session=session
            )
            added, should_fail = _expected(hook, str(base.url), base.headers)
            assert seen == log  # the same implementations, in the same order, same monitoring
            assert failed == should_fail
            assert dict(request.headers) == {**dict(base.headers), **added}
            assert request.headers["Authorization"] == "Bearer mine"
    finally:
        if undo is not None:
            undo()
        await hub.aclose()


@settings(max_examples=150, deadline=None)
@given(first=st.sampled_from(KINDS), operations=steps)
def test_every_request_gets_what_pluggy_gives(first: str, operations: list[Step]) -> None:
    asyncio.run(_run(first, operations))


def test_plain_plugins_are_asked_last_registered_first() -> None:
    """The common case, spelled out: three plain plugins, the first registered answers last
    (its x-order wins), a tryfirst one is asked before them all."""

    async def scenario() -> list[str]:
        host = PluginHost(load_entry_points=False)
        log: list[str] = []
        for name in ("a", "b", "c"):
            host.register(_plugin("plain", name, log), name)
        host.register(_plugin("tryfirst", "first", log), "first")
        hub = Hub.from_dict({}, host=host)
        session = hub.session()
        request: Any = session._request_class(
            "GET", URL(URL_TEXT), loop=asyncio.get_running_loop(), session=session
        )
        await hub.aclose()
        assert request.headers["x-order"] == "a"
        assert request.headers["Authorization"] == "a"  # the call set none: the last answer wins
        return log

    assert asyncio.run(scenario()) == [f"{name}:{URL_TEXT}" for name in ("first", "c", "b", "a")]


def test_the_hook_gets_each_requests_own_url_text() -> None:
    """The URL's text is kept for the URL object it was made from: the same address again
    (yarl hands back the same object), another address, the same one with a query added
    and a URL object built anew each get their own text."""
    addresses = [
        URL_TEXT,
        URL_TEXT,
        "http://127.0.0.1:9/v1/embeddings",
        URL_TEXT,
        "https://example.com:8443/p?q=%20x",
    ]

    async def scenario() -> list[str]:
        host = PluginHost(load_entry_points=False)
        log: list[str] = []
        host.register(_plugin("plain", "a", log), "a")
        hub = Hub.from_dict({}, host=host)
        session = hub.session()
        loop = asyncio.get_running_loop()
        for text in addresses:
            session._request_class("GET", URL(text), loop=loop, session=session)
        session._request_class("GET", URL(URL_TEXT), params={"b": "2"}, loop=loop, session=session)
        session._request_class(
            "GET",
            URL.build(scheme="http", host="127.0.0.1", port=9, path="/x"),
            loop=loop,
            session=session,
        )
        await hub.aclose()
        return log

    assert asyncio.run(scenario()) == [
        *(f"a:{text}" for text in addresses),
        f"a:{URL_TEXT}&b=2",
        "a:http://127.0.0.1:9/x",
    ]
