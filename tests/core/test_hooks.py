"""Every hook of the plugin contract, exercised through the Hub by a plugin that implements it.

``test_hookspecs_meta`` checks that this file has one ``test_hook_<name>`` per hookspec.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest
from aiohttp import web
from patchwire.auth.base import AuthContext
from patchwire.classification import Classification
from patchwire.cli.main import main
from patchwire.connector import Attempt, Capability, Connector
from patchwire.errors import Category, ConfigError, InvalidRequestError, RateLimitedError
from patchwire.events import EventKind
from patchwire.hookspecs import hookimpl
from patchwire.hub import Hub
from patchwire.testing import FakeScript
from patchwire.types import Completion, CompletionRequest


class Upper(Connector):
    type_name = "upper"
    capabilities = frozenset({Capability.COMPLETE})

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        return Completion(text=request.messages[-1].content.upper(), model=request.model)


async def test_hook_patchwire_register_connectors(plugin_host, register_plugin, virtual_clock):
    class P:
        @hookimpl
        def patchwire_register_connectors(self, register):
            register("upper", Upper)

    register_plugin(P(), "upper-plugin")
    async with Hub.from_dict(
        {"connectors": {"u": {"type": "upper"}}}, host=plugin_host, clock=virtual_clock
    ) as hub:
        reply = await hub.model("u:any").complete("shout")
    assert reply.text == "SHOUT" and reply.connector == "u"


class SignedAuth:
    name = "signed"

    def __init__(self, ctx: AuthContext, settings: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self.reference = str(settings["key"])

    async def apply(self, headers: dict[str, str], params: dict[str, str]) -> None:
        headers["X-Signature"] = "sig:" + self.ctx.secrets.resolve(self.reference).reveal()[::-1]

    async def refresh(self) -> bool:
        return False

    def ssl_context(self) -> None:
        return None

    def describe(self) -> Mapping[str, str]:
        return {"scheme": self.name, "key": self.reference}

    async def aclose(self) -> None:
        return None


class VaultSource:
    scheme = "vault"
    ttl = None

    def load(self, body: str) -> str:
        return {"team/openai": "vault-value-1234"}[body]


async def test_hook_patchwire_register_auth(
    plugin_host, register_plugin, virtual_clock, fake_scripts
):
    class P:
        @hookimpl
        def patchwire_register_auth(self, register):
            register.scheme("signed", SignedAuth)
            register.source(VaultSource())

    register_plugin(P(), "auth-plugin")
    script = fake_scripts.setdefault("fake", FakeScript())
    config = {"connectors": {"fake": {"auth": {"scheme": "signed", "key": "vault:team/openai"}}}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        await hub.model("fake:m").complete("hi")
    assert script.calls[0].headers["X-Signature"] == "sig:" + "vault-value-1234"[::-1]


class Flaky(ValueError):
    pass


async def test_hook_patchwire_classify_error(
    plugin_host, register_plugin, virtual_clock, fake_scripts
):
    class P:
        @hookimpl
        def patchwire_classify_error(self, connector, error, response):
            if isinstance(error, Flaky):
                return Classification(
                    Category.RATE_LIMITED, "flaky says slow down", retry_after=2.0
                )
            return None

    register_plugin(P(), "classifier")
    script = fake_scripts.setdefault("fake", FakeScript())
    script.push(Flaky("x"), "ok")
    async with Hub.from_dict({}, host=plugin_host, clock=virtual_clock) as hub:
        start = virtual_clock.now()
        reply = await hub.model("fake:m").complete("hi")
    assert reply.text == "ok" and reply.attempts == 2
    assert script.calls[1].time - start >= 2.0  # the plugin's Retry-After was honoured


async def test_hook_patchwire_record(plugin_host, register_plugin, virtual_clock, fake_scripts):
    seen: list[EventKind] = []

    class Sink:
        @hookimpl
        def patchwire_record(self, event):
            seen.append(event.kind)

    class Broken:
        @hookimpl
        def patchwire_record(self, event):
            raise RuntimeError("sink down")

    register_plugin(Sink(), "sink")
    register_plugin(Broken(), "broken-sink")
    fake_scripts.setdefault("fake", FakeScript()).push("ok")
    async with Hub.from_dict({}, host=plugin_host, clock=virtual_clock) as hub:
        reply = await hub.model("fake:m").complete("hi")
        failures = hub.bus.sink_failures
    assert reply.text == "ok"
    assert EventKind.CALL_STARTED in seen and EventKind.CALL_SUCCEEDED in seen
    assert failures["plugin:broken-sink"] >= 2  # counted, never raised into the call
    assert "plugin:sink" not in failures


async def test_hook_patchwire_record_quiet(
    plugin_host, register_plugin, virtual_clock, fake_scripts
):
    """While a sink says it is quiet, a call's start and success are not built for it (the
    bus goes by fields); it still gets every other event, and every event once it wakes."""
    seen: list[EventKind] = []
    asleep = [True]

    class Sink:
        @hookimpl
        def patchwire_record(self, event):
            seen.append(event.kind)

        @hookimpl
        def patchwire_record_quiet(self):
            return asleep[0]

    register_plugin(Sink(), "sleepy")
    fake_scripts.setdefault("fake", FakeScript()).push("ok", InvalidRequestError("bad"), "ok")
    config = {"connectors": {"fake": {"retry": {"max_attempts": 1}}}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        model = hub.model("fake:m")
        assert hub.bus.fields_only
        await model.complete("hi")
        assert EventKind.CALL_STARTED not in seen and EventKind.CALL_SUCCEEDED not in seen
        with pytest.raises(InvalidRequestError):
            await model.complete("hi")
        assert EventKind.CALL_FAILED in seen  # not a start or success: delivered as ever
        asleep[0] = False
        assert not hub.bus.fields_only
        seen.clear()
        await model.complete("hi")
        row = hub.metrics().for_model("fake", "m")
    assert seen[0] == EventKind.CALL_STARTED and seen[-1] == EventKind.CALL_SUCCEEDED
    # The metrics counted the calls by fields and by Events alike.
    assert (row.started, row.succeeded, row.failed) == (3, 2, 1)


async def test_hook_patchwire_escalate(
    plugin_host, register_plugin, virtual_clock, fake_scripts, tmp_path
):
    escalated = []

    class P:
        @hookimpl
        def patchwire_escalate(self, failure):
            escalated.append(failure)

    register_plugin(P(), "pager")
    fake_scripts.setdefault("fake", FakeScript()).push(
        InvalidRequestError("bad field"), RateLimitedError("slow")
    )
    dead = tmp_path / "dead.jsonl"
    config = {
        "hub": {"dead_letter": str(dead)},
        "connectors": {"fake": {"retry": {"max_attempts": 1}}},
    }
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        with pytest.raises(InvalidRequestError):
            await hub.model("fake:m").complete("hi")
        with pytest.raises(RateLimitedError):
            await hub.model("fake:m").complete("hi")
    assert [f.category for f in escalated] == [
        "invalid_request"
    ]  # rate limits are not escalated by default
    assert escalated[0].message == "bad field" and escalated[0].connector == "fake"
    assert dead.read_text().count("\n") == 1 and '"invalid_request"' in dead.read_text()


async def test_hook_patchwire_register_backends(
    plugin_host, register_plugin, virtual_clock, fake_scripts
):
    from patchwire.cache import MemoryCacheBackend

    made = []

    class Counting(MemoryCacheBackend):
        gets = 0

        async def get(self, key: str) -> object | None:
            Counting.gets += 1
            return await super().get(key)

    class P:
        @hookimpl
        def patchwire_register_backends(self, register):
            def factory(**kw):
                made.append(kw)
                return Counting(kw["clock"], kw["max_entries"], kw["default_ttl"])

            register.cache("counting", factory)

    register_plugin(P(), "backends")
    fake_scripts.setdefault("fake", FakeScript())
    config = {"connectors": {"fake": {"cache": {"backend": "counting", "ttl": 60}}}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        first = await hub.model("fake:m").complete("same", temperature=0)
        second = await hub.model("fake:m").complete("same", temperature=0)
    assert len(made) == 1 and Counting.gets >= 1
    assert not first.cached and second.cached and second.text == first.text


def test_hook_patchwire_register_commands(plugin_host, register_plugin, capsys):
    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("name")

    def run(args: argparse.Namespace) -> int:
        print(f"hello {args.name}")
        return 0

    class P:
        @hookimpl
        def patchwire_register_commands(self, cli):
            cli.add("hello", "say hello", configure, run)

    register_plugin(P(), "hello-plugin")
    assert main(["hello", "world"], host=plugin_host) == 0
    assert capsys.readouterr().out.strip() == "hello world"


def test_hook_patchwire_register_simulators(plugin_host, register_plugin):
    def factory(**options: Any) -> str:
        return f"wire with {options}"

    class P:
        @hookimpl
        def patchwire_register_simulators(self, register):
            register("toy", factory)

    register_plugin(P(), "toy-sim")
    assert plugin_host.registries.simulators["toy"](seed=1) == "wire with {'seed': 1}"
    assert plugin_host.registries.owners[("simulator", "toy")] == "toy-sim"


@pytest.mark.integration  # a real metrics server on loopback
async def test_hook_patchwire_register_metrics_formats(plugin_host, register_plugin):
    import aiohttp
    from patchwire.events import Event

    def render(snapshot):
        return "".join(f"calls{{row={row.name!r}}} {row.calls}\n" for row in snapshot.connectors)

    class P:
        @hookimpl
        def patchwire_register_metrics_formats(self, register):
            register("/metrics", "text/plain; version=0.0.4; charset=utf-8", render)

    register_plugin(P(), "toy-format")
    assert plugin_host.registries.owners[("metrics path", "/metrics")] == "toy-format"
    async with Hub.from_dict({}, host=plugin_host) as hub:
        hub.bus.emit(Event(EventKind.CALL_SUCCEEDED, "toy", "m1", duration=0.1))
        server = await hub.serve_metrics(port=0)
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/metrics") as response:
                assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                assert await response.text() == "calls{row='toy:m1'} 1\n"
            async with session.get(server.url + "/metrics.txt") as response:
                assert "toy:m1" in await response.text()
            async with session.get(server.url + "/metrics.json") as response:
                assert (await response.json())["connectors"][0]["succeeded"] == 1


@pytest.mark.integration  # a real HTTP request on loopback
@contextlib.asynccontextmanager
async def _server(
    path: str, handler: Callable[[web.Request], Awaitable[web.Response]]
) -> AsyncIterator[str]:
    """A loopback HTTP server answering GET ``path``; yields its URL."""
    app = web.Application()
    app.router.add_get(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}{path}"
    finally:
        await runner.cleanup()


async def test_hook_patchwire_request_headers(plugin_host, register_plugin):
    seen: list[dict[str, str]] = []

    async def echo(request):
        seen.append(dict(request.headers))
        return web.Response(text="ok")

    urls: list[str] = []

    class P:
        @hookimpl
        def patchwire_request_headers(self, url):
            urls.append(url)
            return {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01", "Authorization": "x"}

    class Broken:
        @hookimpl
        def patchwire_request_headers(self, url):
            raise RuntimeError("a plugin bug")

    register_plugin(P(), "tracer")
    register_plugin(Broken(), "broken")
    async with _server("/", echo) as url, Hub.from_dict({}, host=plugin_host) as hub:
        session = hub.session()
        async with session.get(url, headers={"Authorization": "Bearer mine"}) as response:
            assert response.status == 200
        # One plugin raising drops this request's added headers, never the request.
        assert hub.bus.sink_failures["request_headers"] == 1
        plugin_host.unregister("broken")
        async with session.get(url, headers={"Authorization": "Bearer mine"}) as response:
            assert response.status == 200
    assert urls and set(urls) == {url}
    assert "traceparent" not in seen[0]
    assert seen[1]["traceparent"].startswith("00-111")
    assert seen[1]["Authorization"] == "Bearer mine"  # a plugin never replaces a header


async def test_request_headers_hook_sees_the_url_with_its_query(plugin_host, register_plugin):
    """The hook is asked with the URL the request goes to: ``params`` applied, a query the
    URL already had kept, the fragment dropped; its header reaches the server."""
    seen: list[str | None] = []

    async def echo(request):
        seen.append(request.headers.get("x-trace"))
        return web.Response(text="ok")

    urls: list[str] = []

    class P:
        @hookimpl
        def patchwire_request_headers(self, url):
            urls.append(url)
            return {"x-trace": "t"}

    register_plugin(P(), "tracer")
    async with _server("/p", echo) as base, Hub.from_dict({}, host=plugin_host) as hub:
        async with hub.session().get(f"{base}?a=1#frag", params={"b": "2"}) as response:
            assert response.status == 200
    assert urls == [f"{base}?a=1&b=2"]
    assert seen == ["t"]


async def test_hook_patchwire_transform_request(
    plugin_host, register_plugin, virtual_clock, fake_scripts
):
    """A plugin's transform answers before core's, sees the failure with the route's
    context windows and what already ran, and its request is sent once."""
    import attrs
    from patchwire.transforms import RequestFailure, Transformed
    from patchwire.types import Message

    seen: list[RequestFailure] = []

    class AddReference:
        @hookimpl
        def patchwire_transform_request(
            self, connector: Any, request: CompletionRequest, failure: RequestFailure
        ) -> Transformed | None:
            seen.append(failure)
            if "reference" not in failure.error.message or "add_reference" in failure.ran:
                return None
            messages = (Message("system", "reference: R-1"), *request.messages)
            return Transformed("add_reference", attrs.evolve(request, messages=messages))

    register_plugin(AddReference(), "add-reference")
    script = fake_scripts.setdefault("fake", FakeScript())
    script.push(InvalidRequestError("a reference is required"), "thanks")
    script.push(InvalidRequestError("a reference is required"), InvalidRequestError("reference!"))
    config = {"connectors": {"fake": {"context_windows": {"m": 5000}}}}
    async with Hub.from_dict(config, host=plugin_host, clock=virtual_clock) as hub:
        reply = await hub.model("fake:m").complete("hi")
        assert reply.transforms == ("add_reference",)
        assert script.calls[1].request.messages[0] == Message("system", "reference: R-1")
        assert seen[0].target.label == "fake:m" and seen[0].target.window == 5000
        assert seen[0].ran == ()
        with pytest.raises(InvalidRequestError):  # once per call: the second failure stands
            await hub.model("fake:m").complete("hi")
    assert len(script.calls) == 4
    assert seen[-1].ran == ("add_reference",)


def test_hook_patchwire_configure_exporter(plugin_host, register_plugin):
    taken: list[tuple[str, dict[str, Any]]] = []

    class Exporter:
        @hookimpl
        def patchwire_configure_exporter(self, name, table):
            if name != "mine":
                return None
            table.check_keys(["enabled"])
            taken.append((name, {"enabled": table.boolean("enabled", True)}))
            return True

    register_plugin(Exporter(), "exporter")
    Hub.from_dict({"exporters": {"mine": {"enabled": False}}}, host=plugin_host)
    assert taken == [("mine", {"enabled": False})]
    with pytest.raises(ConfigError, match=r"\[exporters.mine\] key 'enable'"):
        Hub.from_dict({"exporters": {"mine": {"enable": False}}}, host=plugin_host)
    with pytest.raises(ConfigError, match=r"no installed plugin takes \[exporters.other\]"):
        Hub.from_dict({"exporters": {"other": {}}}, host=plugin_host)
