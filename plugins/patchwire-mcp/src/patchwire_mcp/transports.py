"""The two ways to reach an MCP server: a child process over stdio, or streamable HTTP.

Over HTTP, credentials change per attempt (the auth layer refreshes them) while the SDK's
transport is long-lived, so each request takes its headers from the :class:`HttpExchange`
of the attempt that sent it. The SDK sends every message in a copy of its sender's
context, so a context variable finds that attempt; the same exchange records an error
response, whose status and headers the SDK itself would reduce to a bare JSON-RPC code.
"""

from __future__ import annotations

import contextvars
import json
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx2
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from multidict import CIMultiDict, CIMultiDictProxy
from patchwire.http import HttpResponse
from patchwire.proxy import ProxyRules
from patchwire.redact import redact_url

from patchwire_mcp.stderr import StderrPump

__all__ = [
    "EXCHANGE",
    "HttpExchange",
    "ProbeRefused",
    "allowlisted_env",
    "http_transport",
    "stdio_transport",
]

_MAX_ERROR_BODY = 64 * 1024
# Connect and write bounded as the SDK does; reads wait for slow tools, and the pipeline's
# deadline ends an attempt long before this.
_HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


@attrs.define
class HttpExchange:
    """One attempt's credentials, and the last error response it received."""

    headers: Mapping[str, str] = attrs.field(factory=dict)
    params: Mapping[str, str] = attrs.field(factory=dict)
    error: HttpResponse | None = None
    #: whether ``error``'s body held a JSON-RPC error (else the SDK invented one from the status)
    jsonrpc_body: bool = False
    #: the JSON-RPC method of the request that ``error`` answered
    method: str | None = None
    #: why the OAuth flow could not authorize a request (it runs inside the SDK's transport,
    #: which reports only a closed connection)
    auth_failure: Exception | None = None


class ProbeRefused(Exception):
    """The server refused the ``server/discover`` probe for want of credentials (401/403).

    Raised from the response hook so that the SDK does not fall back to ``initialize``,
    which the same server would refuse the same way: one request, one auth error.
    """


EXCHANGE: contextvars.ContextVar[HttpExchange | None] = contextvars.ContextVar(
    "patchwire_mcp_exchange", default=None
)


def _is_jsonrpc_error(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    return (
        isinstance(data, dict) and isinstance(data.get("error"), dict) and "code" in data["error"]
    )


async def _attach_credentials(request: httpx2.Request) -> None:
    exchange = EXCHANGE.get()
    if exchange is None:
        return
    request.headers.update(exchange.headers)
    if exchange.params:
        request.url = request.url.copy_merge_params(dict(exchange.params))


def _method_of(request: httpx2.Request) -> str | None:
    try:
        data = json.loads(request.content)
    except (ValueError, UnicodeDecodeError, httpx2.RequestNotRead):
        return None
    method = data.get("method") if isinstance(data, dict) else None
    return method if isinstance(method, str) else None


async def _record_error(response: httpx2.Response) -> None:
    exchange = EXCHANGE.get()
    if exchange is None or response.status_code < 400:
        return
    exchange.method = _method_of(response.request)
    body = (await response.aread())[:_MAX_ERROR_BODY]
    exchange.error = HttpResponse(
        response.status_code,
        CIMultiDictProxy(CIMultiDict(response.headers.multi_items())),
        body,
        redact_url(str(response.request.url)),
    )
    exchange.jsonrpc_body = _is_jsonrpc_error(body)


async def _refuse_probe(response: httpx2.Response) -> None:
    if response.status_code in (401, 403) and _method_of(response.request) == "server/discover":
        raise ProbeRefused()


def _proxy_options(url: str, proxies: ProxyRules | None) -> dict[str, Any]:
    """httpx's proxy arguments for ``url`` under the hub's proxy rule: the environment's
    variables are httpx's own rule too (``trust_env``); a setting decides by itself."""
    if proxies is None or proxies.uses_environment(url):
        return {}
    chosen = proxies.for_url(url)
    if chosen is None:
        return {"trust_env": False}
    auth = (chosen.auth.login, chosen.auth.password) if chosen.auth is not None else None
    return {"trust_env": False, "proxy": httpx2.Proxy(str(chosen.url), auth=auth)}


@asynccontextmanager
async def http_transport(
    url: str,
    *,
    tls: ssl.SSLContext | None,
    proxies: ProxyRules | None = None,
    auth: httpx2.Auth | None = None,
) -> AsyncIterator[Any]:
    # With an OAuth flow, a 401 is the flow's to answer; without one, it is final.
    on_response = [_record_error] if auth is not None else [_record_error, _refuse_probe]
    client = httpx2.AsyncClient(
        timeout=_HTTP_TIMEOUT,
        auth=auth,
        verify=tls if tls is not None else True,
        event_hooks={"request": [_attach_credentials], "response": on_response},
        **_proxy_options(url, proxies),
    )
    async with client, streamable_http_client(url, http_client=client) as streams:
        yield streams


@asynccontextmanager
async def stdio_transport(
    command: str,
    args: Sequence[str],
    env: Mapping[str, str],
    cwd: str | Path | None,
    stderr: StderrPump,
) -> AsyncIterator[Any]:
    params = StdioServerParameters(command=command, args=list(args), env=dict(env), cwd=cwd)
    try:
        async with stdio_client(params, errlog=stderr.errlog) as streams:
            stderr.spawned()
            yield streams
    finally:
        stderr.spawned()


def allowlisted_env(names: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The allowlisted variables that are set, to pass on to the server."""
    return {name: environ[name] for name in names if name in environ}
