"""Attack: read the credential back out of the error a failed call raised (issue 13, item 4).

Errors raised ``from None`` still carried the provider's unredacted answer in
``__context__`` (an ``HttpStatusError`` whose response body and headers echo the key, as an
OpenAI 401 echoes part of it), and the traceback's frames kept the attempt, with the
credential header, as a local. Now the pipeline seals every ``PatchwireError`` at the one
place calls fail (``Pipeline._failed``): no chained exception, no traceback below that
point, every field, arg and note redacted, and a field holding any other object replaced
by its redacted repr.

Each test makes a server echo the key, whole and in part, in the body and in the headers
the error fields are read from (request id, code), and then walks everything reachable
from the error (``__cause__``, ``__context__``, args, ``details``, ``failures``, every
attribute, every container, repr and str) looking for the key or any 8-character piece of
it. Integration: real servers on 127.0.0.1 and, for the CLI connector, a real process.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import attrs
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.clock import VirtualClock
from patchwire.connector import Attempt
from patchwire.errors import (
    AuthError,
    Category,
    DegradedError,
    IntegrationError,
    PatchwireError,
    error_class,
    seal,
)
from patchwire.http import HttpResponse, HttpStatusError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.redact import Redactor
from patchwire.testing.loopback import serve_app
from patchwire_anthropic.plugin import AnthropicPlugin
from patchwire_cli.plugin import plugin as cli_plugin
from patchwire_gemini.plugin import GeminiPlugin
from patchwire_openai.plugin import OpenAIPlugin
from patchwire_web.plugin import plugin as web_plugin

KEY = "sk-pw-3fJ9qLx7Vb2Nd5Hk8Mz4Rt6Wy1"
PART = f"{KEY[:14]}{'*' * 12}{KEY[-4:]}"  # how OpenAI echoes a wrong key
WINDOW = 8


# --- looking everywhere --------------------------------------------------------------------------


def _texts(value: Any, path: str, seen: set[int], depth: int) -> Iterator[tuple[str, str]]:
    """Every string reachable from ``value`` through the surfaces an error offers."""
    if depth > 12 or id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, str):
        yield path, value
        return
    if isinstance(value, bytes | bytearray):
        yield path, bytes(value).decode("utf-8", errors="replace")
        return
    if value is None or isinstance(value, bool | int | float):
        return
    yield f"{path}!r", repr(value)
    if isinstance(value, BaseException):
        yield f"{path}!s", str(value)
        yield from _texts(value.args, f"{path}.args", seen, depth + 1)
        yield from _texts(value.__cause__, f"{path}.__cause__", seen, depth + 1)
        yield from _texts(value.__context__, f"{path}.__context__", seen, depth + 1)
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(key, f"{path}[key]", seen, depth + 1)
            yield from _texts(item, f"{path}[{key!r}]", seen, depth + 1)
        return
    if isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _texts(item, f"{path}[{index}]", seen, depth + 1)
        return
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            yield from _texts(getattr(value, field.name), f"{path}.{field.name}", seen, depth + 1)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        for name, item in vars(value).items():
            yield from _texts(item, f"{path}.{name}", seen, depth + 1)


def leaks(error: BaseException, secret: str = KEY) -> list[str]:
    """Where ``secret``, or any WINDOW-character piece of it, shows through ``error``."""
    pieces = {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}
    found = []
    for path, text in _texts(error, "error", set(), 0):
        if any(piece in text for piece in pieces):
            found.append(f"{path}: {text[:200]}")
    return found


# Raw objects that hold a credential or a provider's answer: none may sit in a frame the
# error's traceback still reaches.
_RAW = (Attempt, HttpResponse, HttpStatusError)


def raw_in_traceback(error: BaseException) -> list[str]:
    found = []
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        for name, value in frame.f_locals.items():
            if isinstance(value, _RAW):
                found.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name} {name}")
        tb = tb.tb_next
    return found


def assert_sealed(error: BaseException) -> None:
    assert leaks(error) == []
    assert raw_in_traceback(error) == []
    assert error.__cause__ is None and error.__context__ is None


# --- a provider that echoes the key ------------------------------------------------------------

ECHO: dict[str, dict[str, Any]] = {
    "openai": {
        "error": {
            "message": f"Incorrect API key provided: {PART}. You passed {KEY}.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
            "param": KEY,
        }
    },
    "anthropic": {
        "type": "error",
        "error": {"type": "authentication_error", "message": f"invalid x-api-key {KEY}"},
    },
    "gemini": {
        "error": {
            "code": 401,
            "message": f"API key not valid ({PART}). Please pass a valid API key: {KEY}",
            "status": "UNAUTHENTICATED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "metadata": {"key": KEY},
                }
            ],
        }
    },
}
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}


@asynccontextmanager
async def echoing(status: int, body: Mapping[str, Any]) -> AsyncIterator[str]:
    """A server answering every request with ``status`` and ``body``, the key in its headers too."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(
            status=status,
            text=json.dumps(body),
            content_type="application/json",
            headers={
                "x-request-id": f"req_{KEY}",
                "request-id": f"req_{KEY}",
                "WWW-Authenticate": f'Bearer error="invalid_token", key="{KEY}"',
                "x-echo": PART,
            },
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    async with serve_app(app) as url:
        yield url


@pytest.fixture
def host(plugin_host: PluginHost, monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    monkeypatch.setenv("PW_ERR_KEY", KEY)
    for plugin, name in (
        (OpenAIPlugin(), "openai"),
        (AnthropicPlugin(), "anthropic"),
        (GeminiPlugin(), "gemini"),
        (web_plugin, "web"),
        (cli_plugin, "cli"),
    ):
        plugin_host.register(plugin, name)
    return plugin_host


def provider_table(base_url: str) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "api_key": "env:PW_ERR_KEY",
        "retry": {"max_attempts": 2, "initial": 0.001, "cap": 0.001},
        "cache": {"ttl": 0},
    }


@pytest.mark.integration
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("provider", sorted(ECHO))
async def test_a_401_echoing_the_key_leaves_no_trace_of_it_on_the_error(
    host: PluginHost, provider: str, stream: bool
) -> None:
    async with echoing(401, ECHO[provider]) as url:
        hub = Hub.from_dict(
            {"connectors": {provider: provider_table(url)}},
            host=host,
            clock=VirtualClock(autojump=False),
        )
        async with hub:
            model = hub.model(f"{provider}:{MODELS[provider]}")
            with pytest.raises(PatchwireError) as info:
                if stream:
                    async for _ in model.stream("hello", max_tokens=5):
                        pass
                else:
                    await model.complete("hello", max_tokens=5)
    error = info.value
    assert isinstance(error, AuthError) and error.status == 401
    assert error.connector == provider and error.message
    assert_sealed(error)


@pytest.mark.integration
async def test_a_stream_that_breaks_after_its_first_chunk_with_the_key_is_sealed(
    host: PluginHost,
) -> None:
    """After the first chunk the pipeline builds the error inside its handler of the
    connector's exception (whose message quotes the broken chunk, key and all): it is
    raised outside that handler, so the connector's exception is not its context."""

    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        first = {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}
        await response.write(f"data: {json.dumps(first)}\n\n".encode())
        await response.write(f"data: not json, key={KEY}\n\n".encode())
        return response

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    chunks = []
    async with serve_app(app) as url:
        hub = Hub.from_dict(
            {"connectors": {"openai": provider_table(url)}},
            host=host,
            clock=VirtualClock(autojump=False),
        )
        async with hub:
            with pytest.raises(IntegrationError) as info:
                async for chunk in hub.model("openai:gpt-4o-mini").stream("hello"):
                    chunks.append(chunk.text)
    assert chunks == ["Hi"]
    assert info.value.message.startswith("stream broke after it started")
    assert_sealed(info.value)


@pytest.mark.integration
@pytest.mark.parametrize("status", [400, 500, 503])
async def test_every_target_of_a_route_is_sealed_in_failures(host: PluginHost, status: int) -> None:
    """A route's final error carries every target's error in ``failures``: all sealed."""
    async with (
        echoing(status, ECHO["openai"]) as first,
        echoing(status, ECHO["anthropic"]) as second,
        echoing(status, ECHO["gemini"]) as third,
    ):
        connectors = {
            "openai": {**provider_table(first), "retry": {"max_attempts": 1}},
            "anthropic": {**provider_table(second), "retry": {"max_attempts": 1}},
            "gemini": {**provider_table(third), "retry": {"max_attempts": 1}},
        }
        targets = [f"{name}:{MODELS[name]}" for name in ("openai", "anthropic", "gemini")]
        hub = Hub.from_dict(
            {"connectors": connectors, "routes": {"any": {"targets": targets}}},
            host=host,
            clock=VirtualClock(autojump=False),
        )
        async with hub:
            with pytest.raises(PatchwireError) as info:
                await hub.model("any").complete("hello", max_tokens=5)
    error = info.value
    assert error.status == status
    assert_sealed(error)
    for failure in error.failures:
        assert_sealed(failure)


@pytest.mark.integration
async def test_a_web_operation_refused_with_the_key_echoed_is_sealed(host: PluginHost) -> None:
    async with echoing(401, ECHO["openai"]) as url:
        table = {
            "type": "web",
            "base_url": url,
            "allow_private": True,
            "retry": {"max_attempts": 1},
            "auth": {"scheme": "api_key", "key": "env:PW_ERR_KEY", "header": "X-Key"},
            "operations": {"me": {"url": f"/me?key={KEY}"}},
        }
        hub = Hub.from_dict(
            {"connectors": {"site": table}}, host=host, clock=VirtualClock(autojump=False)
        )
        async with hub:
            with pytest.raises(AuthError) as info:
                await hub.tool("site").call("me")
    assert_sealed(info.value)


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
async def test_a_cli_program_that_prints_its_secret_and_fails_is_sealed(
    host: PluginHost,
) -> None:
    script = 'echo "token=$TOKEN" >&2; printf "%s" "$TOKEN" | cut -c1-14 >&2; exit 3'
    table = {
        "type": "cli",
        "env_secrets": {"TOKEN": "env:PW_ERR_KEY"},
        "retry": {"max_attempts": 1},
        "commands": {"leak": {"argv": ["sh", "-c", script]}},
    }
    hub = Hub.from_dict({"connectors": {"tool": table}}, host=host, clock=VirtualClock())
    async with hub:
        with pytest.raises(PatchwireError) as info:
            await hub.tool("tool").call("leak")
    assert info.value.category is not Category.CONFIG
    assert_sealed(info.value)


# --- the seal itself: whatever an error holds, nothing secret shows through ---------------------

# Filler never holds a hex digit or '-', so no piece of a secret ("sk-prop-" + hex) can
# appear in it by chance: whatever the check finds came from the secret.
texts = st.text(alphabet="ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ .,:;!?()[]_", max_size=20)
secrets = st.binary(min_size=10, max_size=20).map(lambda raw: "sk-prop-" + raw.hex())


def _holding(secret: str) -> st.SearchStrategy[Any]:
    """Values that embed ``secret`` (or a piece of it) somewhere, nested in containers and objects."""
    piece = st.integers(0, len(secret) - WINDOW).map(lambda i: secret[i : i + WINDOW + 4])
    leaf = st.one_of(
        st.builds(lambda a, b: f"{a}{secret}{b}", texts, texts),
        st.builds(lambda a, p: f"{a}{p}", texts, piece),
        st.builds(lambda a: f"{a}{secret}".encode(), texts),
        st.builds(lambda a: HttpStatusError(HttpResponse(401, _headers(secret), a, a)), texts),
        st.builds(lambda a: ValueError(f"{a} {secret}"), texts),
    )
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.tuples(inner, inner),
            st.dictionaries(texts, inner, max_size=3),
            st.builds(_Box, inner),
        ),
        max_leaves=6,
    )


def _headers(secret: str) -> Any:
    from multidict import CIMultiDict, CIMultiDictProxy

    return CIMultiDictProxy(CIMultiDict({"x-api-key": secret, "x-request-id": secret}))


@attrs.define
class _Box:
    """A third party's object hung on an error."""

    held: Any


@st.composite
def errors(draw: st.DrawFn, secret: str, depth: int = 0) -> PatchwireError:
    holding = _holding(secret)
    category = draw(st.sampled_from([c for c in Category if c is not Category.CONFIG]))

    def maybe(strategy: st.SearchStrategy[str]) -> str | None:
        return draw(st.one_of(st.none(), strategy))

    error = error_class(category)(
        draw(st.one_of(texts, holding.filter(lambda v: isinstance(v, str)))),
        code=maybe(st.builds(lambda a: f"{a}{secret}", texts)),
        request_id=maybe(st.builds(lambda a: f"req_{a}{secret}", texts)),
        details=maybe(st.builds(lambda a: f"{a}{secret}", texts)),
        failures=draw(st.lists(errors(secret, depth + 1), max_size=2)) if depth < 2 else (),
    )
    for index, value in enumerate(draw(st.lists(holding, max_size=3))):
        setattr(error, f"extra{index}", value)
    if draw(st.booleans()):
        error.add_note(f"while calling with {secret}")
    cause = draw(
        st.one_of(
            st.none(),
            st.builds(lambda a: ValueError(f"{a} {secret}"), texts),
            st.builds(lambda a: HttpStatusError(HttpResponse(502, _headers(secret), a, a)), texts),
        )
    )
    try:
        try:
            raise HttpStatusError(HttpResponse(401, _headers(secret), secret.encode(), secret))
        except HttpStatusError:
            # With cause None this is the case the issue found: "from None" keeps the context.
            raise error from cause
    except PatchwireError:
        pass
    return error


@settings(max_examples=100)
@given(data=st.data())
def test_a_sealed_error_shows_no_registered_secret_through_any_field_arg_note_or_chain(
    data: st.DataObject,
) -> None:
    secret = data.draw(secrets)
    redactor = Redactor()
    redactor.add(secret)
    error = data.draw(errors(secret))
    sealed = seal(error, redactor.scrub)
    assert sealed is error
    assert leaks(error, secret) == []
    assert error.__cause__ is None and error.__context__ is None and error.__traceback__ is None
    again = repr(vars(error))
    assert seal(error, redactor.scrub) is error and repr(vars(error)) == again  # idempotent


@pytest.mark.integration
async def test_what_sealing_cut_is_logged_at_debug_as_types_and_scrubbed_messages(
    host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    async with echoing(401, ECHO["openai"]) as url:
        hub = Hub.from_dict(
            {"connectors": {"openai": provider_table(url)}},
            host=host,
            clock=VirtualClock(autojump=False),
        )
        async with hub:
            with caplog.at_level(logging.DEBUG, "patchwire.pipeline"):
                with pytest.raises(AuthError):
                    await hub.model("openai:gpt-4o-mini").complete("hello")
    lines = [r.getMessage() for r in caplog.records if "failed: AuthError" in r.getMessage()]
    assert len(lines) == 1 and "<- HttpStatusError: HTTP 401 from" in lines[0]
    assert KEY not in caplog.text


def test_sealing_keeps_what_the_caller_reads() -> None:
    redactor = Redactor()
    redactor.add(KEY)
    error = DegradedError(
        f"upstream said {KEY}",
        connector="openai",
        model="gpt-4o-mini",
        status=503,
        code="overloaded",
        request_id="req_1",
        attempts=3,
        retry_after=1.5,
        failures=[IntegrationError("bad", connector="gemini")],
    )
    seal(error, redactor.scrub)
    assert error.message == "upstream said ****" and error.args == ("upstream said ****",)
    assert (error.connector, error.model, error.status, error.code) == (
        "openai",
        "gpt-4o-mini",
        503,
        "overloaded",
    )
    assert (error.request_id, error.attempts, error.retry_after) == ("req_1", 3, 1.5)
    assert error.category is Category.DEGRADED and error.failures[0].message == "bad"
    assert str(error).startswith("[degraded] openai:gpt-4o-mini upstream said ****")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="add_note is 3.11+")
def test_a_provider_error_chain_used_to_hold_the_key() -> None:
    """The attack as found: ``raise ... from None`` still keeps ``__context__``."""
    try:
        try:
            raise HttpStatusError(HttpResponse(401, _headers(KEY), KEY.encode(), KEY))
        except HttpStatusError:
            raise AuthError("refused") from None
    except AuthError as caught:
        error = caught
    assert leaks(error) != []  # what an unsealed error exposes
    redactor = Redactor()
    redactor.add(KEY)
    assert leaks(seal(error, redactor.scrub)) == []
