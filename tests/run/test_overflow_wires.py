"""Each provider's simulator refuses a request over the model's window with the provider's
own error body (read by the provider's official SDK), its classifier marks that error
``context_length_exceeded`` (keeping the provider's own code) and core reads the window
from it; and each wire counts tool calls and results against the window and tells a
``StepScript`` the turn (``SimRequest.tool_rounds``).

Integration: the SDKs talk to the simulator over real HTTP on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.classification import Classification
from patchwire.errors import Category
from patchwire.http import HttpResponse
from patchwire.testing.sim_wire import SimRequest, SimRoute, WireFormat
from patchwire.testing.simulator import Simulator
from patchwire.transforms.overflow import (
    CONTEXT_LENGTH_EXCEEDED,
    is_context_overflow,
    mark_context_overflow,
    window_from_message,
)

WINDOW = 50
LONG = "tell me more " * 100
KEY = "sim-key-0000"


def as_http(response: Any) -> HttpResponse:
    """The SDK's raw response as patchwire's classifiers read one."""
    headers = CIMultiDictProxy(CIMultiDict(response.headers.items()))
    return HttpResponse(response.status_code, headers, response.content, str(response.url))


def check_marked(classification: Classification | None, provider_code: str | None) -> None:
    """The classifier's answer is an overflow by core's one rule, stating the window."""
    assert classification is not None
    assert classification.category is Category.INVALID_REQUEST
    assert classification.code == CONTEXT_LENGTH_EXCEEDED
    if provider_code is not None:
        assert classification.details == f"provider code: {provider_code}"
    error = classification.to_error(connector="llm", model="m", attempts=1)
    assert is_context_overflow(error) and window_from_message(error) == WINDOW


@pytest.mark.integration
async def test_openai_overflow_is_openais_body_and_is_classified() -> None:
    openai = pytest.importorskip("openai")
    from patchwire_openai.classify import classify_response

    async with Simulator("openai", context_windows={"gpt-4o-mini": WINDOW}) as sim:
        client = openai.AsyncOpenAI(base_url=sim.base_url, api_key=KEY, max_retries=0)
        async with client:
            with pytest.raises(openai.BadRequestError) as caught:
                await client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": LONG}]
                )
    error = caught.value
    assert error.status_code == 400
    assert (error.code, error.type, error.param) == (
        "context_length_exceeded",
        "invalid_request_error",
        "messages",
    )
    sent = json.loads(error.response.content)["error"]
    assert set(sent) == {"message", "type", "param", "code"}
    assert sent["message"].startswith(f"This model's maximum context length is {WINDOW} tokens.")
    check_marked(classify_response(as_http(error.response)), None)


@pytest.mark.integration
async def test_anthropic_overflow_is_anthropics_body_and_is_classified() -> None:
    anthropic = pytest.importorskip("anthropic")
    from patchwire_anthropic.classify import classify_response

    async with Simulator("anthropic", context_windows={"claude-haiku-4-5": WINDOW}) as sim:
        client = anthropic.AsyncAnthropic(base_url=sim.root_url, api_key=KEY, max_retries=0)
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.messages.create(
                model="claude-haiku-4-5",
                max_tokens=64,
                messages=[{"role": "user", "content": LONG}],
            )
    error = caught.value
    body = error.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    tokens = int(body["error"]["message"].split(":")[1].split()[0])
    assert tokens > WINDOW
    assert body["error"]["message"] == f"prompt is too long: {tokens} tokens > {WINDOW} maximum"
    check_marked(classify_response(as_http(error.response)), "invalid_request_error")


@pytest.mark.integration
async def test_gemini_overflow_is_geminis_body_and_is_classified() -> None:
    pytest.importorskip("google.genai")
    from google import genai
    from google.genai import errors, types
    from patchwire_gemini.status import classify_response

    async with Simulator("gemini", context_windows={"gemini-2.0-flash": WINDOW}) as sim:
        options = types.HttpOptions(base_url=sim.root_url, api_version="v1beta")
        client = genai.Client(api_key=KEY, http_options=options).aio
        try:
            with pytest.raises(errors.ClientError) as caught:
                await client.models.generate_content(model="gemini-2.0-flash", contents=LONG)
        finally:
            await client.aclose()
    error = caught.value
    assert (error.code, error.status) == (400, "INVALID_ARGUMENT")
    body = error.details
    assert set(body["error"]) == {"code", "message", "status"}
    tokens = int(body["error"]["message"].split("(")[1].split(")")[0])
    assert tokens > WINDOW
    assert body["error"]["message"] == (
        f"The input token count ({tokens}) exceeds the maximum number of tokens allowed ({WINDOW})."
    )
    response = HttpResponse(
        400, CIMultiDictProxy(CIMultiDict()), json.dumps(body).encode(), "http://127.0.0.1/"
    )
    check_marked(classify_response(response), "INVALID_ARGUMENT")


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_a_classifier_leaves_other_invalid_requests_unmarked(provider: str) -> None:
    classify = _classifier(provider)
    body = {
        "openai": {"error": {"message": "Invalid 'messages'.", "type": "invalid_request_error"}},
        "anthropic": {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
        },
        "gemini": {
            "error": {"code": 400, "message": "Invalid argument.", "status": "INVALID_ARGUMENT"}
        },
    }[provider]
    response = HttpResponse(
        400, CIMultiDictProxy(CIMultiDict()), json.dumps(body).encode(), "http://127.0.0.1/"
    )
    answer = classify(response)
    assert answer is not None and answer.code != CONTEXT_LENGTH_EXCEEDED and not answer.details


def _classifier(provider: str) -> Callable[[HttpResponse], Classification | None]:
    if provider == "openai":
        from patchwire_openai.classify import classify_response as openai_classify

        return openai_classify
    if provider == "gemini":
        from patchwire_gemini.status import classify_response as gemini_classify

        return gemini_classify
    from patchwire_anthropic.classify import classify_response as anthropic_classify

    return anthropic_classify


# --- tool calls and results against the window; tool_rounds ---------------------------


def _openai_body(arguments: str, result: str, rounds: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    for n in range(rounds):
        call = {"id": f"call_{n}", "type": "function"}
        call["function"] = {"name": "lookup", "arguments": arguments}  # type: ignore[assignment]
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": f"call_{n}", "content": result})
    return {"model": "gpt-4o-mini", "messages": messages}


def _anthropic_body(arguments: str, result: str, rounds: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    for n in range(rounds):
        use = {"type": "tool_use", "id": f"toolu_{n}", "name": "lookup"}
        use["input"] = {"q": arguments}  # type: ignore[assignment]
        messages.append({"role": "assistant", "content": [use]})
        answer = {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": result}
        messages.append({"role": "user", "content": [answer]})
    return {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": messages}


def _gemini_body(arguments: str, result: str, rounds: int) -> dict[str, Any]:
    contents: list[dict[str, Any]] = [{"role": "user", "parts": [{"text": "go"}]}]
    for _ in range(rounds):
        call = {"functionCall": {"name": "lookup", "args": {"q": arguments}}}
        contents.append({"role": "model", "parts": [call]})
        answer = {"functionResponse": {"name": "lookup", "response": {"r": result}}}
        contents.append({"role": "user", "parts": [answer]})
    return {"contents": contents}


BODIES: dict[str, Callable[[str, str, int], dict[str, Any]]] = {
    "openai": _openai_body,
    "anthropic": _anthropic_body,
    "gemini": _gemini_body,
}


def _wire(provider: str) -> WireFormat:
    if provider == "openai":
        from patchwire_openai.wire import OpenAIWire

        return OpenAIWire()
    if provider == "gemini":
        from patchwire_gemini.simwire import GeminiWire

        return GeminiWire()
    from patchwire_anthropic.wire import AnthropicWire

    return AnthropicWire()


def _parse(provider: str, arguments: str, result: str, rounds: int) -> SimRequest:
    wire = _wire(provider)
    route: SimRoute = next(r for r in wire.routes if r.operation == "chat")
    body = json.dumps(BODIES[provider](arguments, result, rounds)).encode()
    return wire.parse(route, body, {"model": "gemini-2.0-flash"})


@pytest.mark.parametrize("provider", sorted(BODIES))
def test_a_wire_counts_tool_calls_and_results_and_the_rounds(provider: str) -> None:
    base = _parse(provider, "a", "r", 1)
    longer_call = _parse(provider, "a" * 401, "r", 1)
    longer_result = _parse(provider, "a", "r" * 401, 1)
    assert longer_call.input_tokens - base.input_tokens >= 100
    assert longer_result.input_tokens - base.input_tokens >= 100
    assert [_parse(provider, "a", "r", n).tool_rounds for n in range(4)] == [0, 1, 2, 3]


# --- one rule: the classifiers' marking agrees with core's recognition ------------------

_MESSAGES = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda n, m: f"prompt is too long: {n} tokens > {m} maximum",
        st.integers(1, 10**6),
        st.integers(1, 10**6),
    ),
    st.builds(
        lambda m: f"This model's maximum context length is {m} tokens.", st.integers(1, 10**6)
    ),
    st.builds(
        lambda n, m: (
            f"The input token count ({n}) exceeds the maximum number of tokens allowed ({m})."
        ),
        st.integers(1, 10**6),
        st.integers(1, 10**6),
    ),
)


@given(
    # a configuration error is never a provider's answer (no error class maps it)
    category=st.sampled_from([c for c in Category if c is not Category.CONFIG]),
    message=_MESSAGES,
    code=st.one_of(st.none(), st.sampled_from(["invalid_request_error", "INVALID_ARGUMENT"])),
)
def test_marking_an_overflow_agrees_with_core_recognition_and_keeps_everything_else(
    category: Category, message: str, code: str | None
) -> None:
    before = Classification(category, message, status=400, code=code)
    after = mark_context_overflow(before)
    recognised = is_context_overflow(before.to_error(connector="c", model="m", attempts=1))
    assert (after.code == CONTEXT_LENGTH_EXCEEDED) == recognised
    assert (after.category, after.message, after.status) == (category, message, 400)
    if recognised and code is not None:
        assert after.details == f"provider code: {code}"
    if not recognised:
        assert after == before
