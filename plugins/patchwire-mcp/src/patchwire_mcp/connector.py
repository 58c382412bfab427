"""Connector type ``mcp``: the tools of one MCP server, one attempt at a time.

``list_tools`` is ``tools/list`` (every page, reused for the server's TTL) and
``call_tool`` is ``tools/call``. Arguments are checked against the tool's input schema
before anything is sent. A result with ``isError: true`` is the tool failing (its text is
the error's message); JSON-RPC errors are classified by the plugin's hook; a lost
transport is transient, and the next call starts the server again.

Heavy imports (the SDK, httpx2, jsonschema) wait until the server is first used, so that
loading the plugin costs nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from patchwire.clock import deadline_scope
from patchwire.connector import Attempt, Capability, Connector, ConnectorContext, Setting, ToolInfo
from patchwire.errors import Category, error_class
from patchwire.types import CompletionRequest, EmbeddingRequest, ToolRequest, ToolResult

from patchwire_mcp import settings as mcp_settings

if TYPE_CHECKING:
    import ssl

    from mcp import Client
    from mcp.types import CallToolResult
    from patchwire.auth.tokenstore import TokenStore
    from patchwire.config import ConnectorConfig
    from patchwire.model import Model

    from patchwire_mcp.authorization import Authorization
    from patchwire_mcp.catalog import ToolListing
    from patchwire_mcp.link import Generation, ServerLink
    from patchwire_mcp.notifications import ProgressHandler
    from patchwire_mcp.sampling import SamplingBudget
    from patchwire_mcp.server_requests import ElicitationHandler

__all__ = ["McpConnector"]

_MAX_MESSAGE = 2000
_MAX_DETAILS = 64 * 1024


class McpConnector(Connector):
    type_name = "mcp"
    version = "0.1.0"
    api_versions = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")
    capabilities = frozenset({Capability.TOOL})
    settings: ClassVar[Mapping[str, Setting]] = mcp_settings.SETTINGS
    default_auth_scheme = "bearer"

    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx)
        self.log = logging.getLogger(f"patchwire.mcp.{ctx.name}")
        self._link: ServerLink | None = None
        self._tls: ssl.SSLContext | None = None
        self._listing: ToolListing | None = None
        self._listing_lock = asyncio.Lock()
        #: set by ``patchwire_mcp.attach``: the user's part of OAuth, the elicitation handler
        self.authorization: Authorization | None = None
        self.elicitation: ElicitationHandler | None = None
        #: the application's progress handler (patchwire_mcp.attach)
        self.progress: ProgressHandler | None = None
        #: the hub model the ``sampling`` table names, once attached
        self.sampling_model: Model | None = None
        self._sampling_budget: SamplingBudget | None = None
        self._oauth: Any = None
        #: the hub's per-principal token store (patchwire_mcp.attach), for OAuth tokens
        self.token_store: TokenStore | None = None

    @classmethod
    def check_config(cls, config: ConnectorConfig) -> None:
        mcp_settings.check(config)

    def timeout_for(
        self, request: CompletionRequest | EmbeddingRequest | ToolRequest
    ) -> float | None:
        """A tool's own ``tools.TOOL.timeout``, else the connector's ``timeout``."""
        if not isinstance(request, ToolRequest):
            return None
        return mcp_settings.tool_setting(self.ctx.config.settings, request.operation, "timeout")

    def ttl_for(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> float | None:
        """A tool's own ``tools.TOOL.ttl``, else the connector's ``[cache] ttl``."""
        if not isinstance(request, ToolRequest):
            return None
        return mcp_settings.tool_setting(self.ctx.config.settings, request.operation, "ttl")

    @property
    def stdio(self) -> bool:
        return self.setting("command") is not None

    # --- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Start a server that needs no credentials and learn its tools, so the first call
        is already checked against them. A failure here is left for that call to report."""
        config = self.ctx.config
        if not self.stdio and (
            config.api_key or config.auth or config.tls or self.setting("oauth") is not None
        ):
            return
        clock = self.ctx.clock
        try:
            if not await self._server().prepare():
                return
            with deadline_scope(clock, clock.now() + config.timeout):
                async with self._session(None, "tools/list") as (generation, client):
                    await self._refresh_listing(generation, client, seen=None)
        except Exception as exc:
            self.log.info(
                "MCP server '%s' could not be prepared ahead of the first call: %s: %s",
                self.name,
                type(exc).__name__,
                exc,
            )

    async def aclose(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await link.aclose()

    def _server(self) -> ServerLink:
        if self._link is None:
            self._link = self._new_link()
        return self._link

    def _new_link(self) -> ServerLink:
        from patchwire_mcp.link import ServerLink

        return ServerLink(
            self.name,
            self._open_transport,
            mode=str(self.setting("protocol")),
            clock=self.ctx.clock,
            startup_timeout=float(self.setting("startup_timeout")),
            log=self.log,
            on_start=self._forget_listing,
            client_options=self._client_options,
        )

    def _client_options(self) -> dict[str, Any]:
        """What the client offers the server: elicitation when the application handles it,
        roots when configured."""
        from patchwire_mcp.notifications import message_handler
        from patchwire_mcp.server_requests import elicitation_callback, roots_callback

        options: dict[str, Any] = {
            "message_handler": message_handler(self.name, self._forget_listing, self.log)
        }
        if self.elicitation is not None:
            options["elicitation_callback"] = elicitation_callback(
                self.name, self.elicitation, self.log
            )
        roots = self.setting("roots")
        if roots:
            options["list_roots_callback"] = roots_callback(roots)
        table = self.setting("sampling")
        if table is not None and self.sampling_model is not None:
            from patchwire_mcp.sampling import SamplingBudget, sampling_callback

            if self._sampling_budget is None:
                # One budget for the connector's life, whatever the restarts.
                self._sampling_budget = SamplingBudget(
                    table.get("max_requests"), table.get("max_tokens")
                )
            options["sampling_callback"] = sampling_callback(
                self.name, self.sampling_model, self._sampling_budget, self.log
            )
        return options

    def _oauth_provider(self) -> Any:
        """The server's OAuth flow, one per connector so its tokens outlive a restart."""
        table = self.setting("oauth")
        if table is None:
            return None
        if self._oauth is None:
            from patchwire_mcp.authorization import Authorization, oauth_provider

            self._oauth = oauth_provider(
                self.name,
                str(self.setting("url")),
                table,
                self.ctx.secrets,
                self.authorization or Authorization(),
                self.token_store,
            )
        return self._oauth

    def _open_transport(self, generation: Generation) -> AbstractAsyncContextManager[Any]:
        from patchwire_mcp.stderr import StderrPump
        from patchwire_mcp.transports import allowlisted_env, http_transport, stdio_transport

        if not self.stdio:
            proxies = self.ctx.proxies.scoped(self.ctx.config.proxy) if self.ctx.proxies else None
            return http_transport(
                str(self.setting("url")),
                tls=self._tls,
                proxies=proxies,
                auth=self._oauth_provider(),
            )
        link = self._server()
        # End of file on stderr: the server is gone, so the next call starts another.
        stderr = StderrPump(self.log, on_eof=lambda: link.retire(generation))
        generation.stderr = stderr
        return stdio_transport(
            str(self.setting("command")),
            [str(a) for a in self.setting("args")],
            allowlisted_env([str(n) for n in self.setting("env")], os.environ),
            self.setting("cwd"),
            stderr,
        )

    # --- one use of the session ---------------------------------------------------------------

    @asynccontextmanager
    async def _session(
        self, attempt: Attempt | None, method: str
    ) -> AsyncIterator[tuple[Generation, Client]]:
        """The live session for one attempt, with every SDK failure turned into ours."""
        import anyio
        import pydantic
        from mcp import MCPError

        from patchwire_mcp.classify import INVALID_REQUEST
        from patchwire_mcp.errors import (
            CONNECTION_CLOSED,
            McpProtocolError,
            lost_connection,
            unexpected_answer,
        )
        from patchwire_mcp.transports import EXCHANGE, HttpExchange

        if attempt is not None and attempt.ssl is not None:
            self._tls = attempt.ssl
        exchange = HttpExchange(
            headers=dict(attempt.headers) if attempt else {},
            params=dict(attempt.params) if attempt else {},
        )
        token = EXCHANGE.set(exchange)
        link = self._server()
        try:
            generation, client = await link.acquire()
            if attempt is not None:
                # What the session sends by itself (a legacy server's event stream, the
                # goodbye) goes with the newest credentials.
                generation.exchange.headers = exchange.headers
                generation.exchange.params = exchange.params
            try:
                yield generation, client
            except MCPError as err:
                if exchange.auth_failure is not None:
                    link.retire(generation)
                    raise exchange.auth_failure from None
                if err.code == CONNECTION_CLOSED:
                    link.retire(generation)
                    raise lost_connection(self.name) from None
                error = exchange.error
                if (
                    error is not None
                    and error.status == 404
                    and err.code == INVALID_REQUEST
                    and not exchange.jsonrpc_body
                ):
                    # A legacy HTTP server forgot our session; the retry starts a new one.
                    link.retire(generation)
                    raise lost_connection(self.name) from None
                raise McpProtocolError(
                    err.code,
                    err.message,
                    method=method,
                    data=err.data,
                    response=error,
                    from_body=exchange.jsonrpc_body if error is not None else True,
                ) from None
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream) as err:
                link.retire(generation)
                if exchange.auth_failure is not None:
                    raise exchange.auth_failure from None
                raise lost_connection(self.name, err) from None
            except (pydantic.ValidationError, RuntimeError) as err:
                # A result that breaks the protocol or the tool's own output schema.
                raise unexpected_answer(self.name, method, err) from None
            except Exception as err:
                from patchwire_mcp.authorization import oauth_failure

                refused = oauth_failure(self.name, err)
                if refused is None:
                    raise
                raise refused from None
            finally:
                link.release(generation)
        finally:
            EXCHANGE.reset(token)

    # --- tools ---------------------------------------------------------------------------------

    def _forget_listing(self) -> None:
        if self._listing is not None:
            self._listing = self._listing.expired()

    def _usable(self, listing: ToolListing | None, generation: Generation) -> bool:
        """Whether ``listing`` may answer for this session without being fetched again."""
        return (
            listing is not None
            and listing.session == generation.number
            and listing.fresh(self.ctx.clock.now())
        )

    async def _refresh_listing(
        self, generation: Generation, client: Client, *, seen: ToolListing | None
    ) -> ToolListing:
        """A fresh listing: fetched now, unless another call fetched one since ``seen``."""
        from patchwire_mcp.catalog import fetch_listing

        async with self._listing_lock:
            current = self._listing
            if current is not None and current is not seen and current.session == generation.number:
                # Fetched by another call after ours looked: as recent as a fetch of our own.
                return current

            async def page(cursor: str | None) -> Any:
                return await client.list_tools(cursor=cursor)

            listing = await fetch_listing(
                self.name,
                page,
                now=self.ctx.clock.now,
                default_ttl=float(self.setting("tools_ttl")),
                min_ttl=float(self.setting("min_tools_ttl")),
                log=self.log,
                session=generation.number,
            )
            self._listing = listing
            return listing

    def validate(self, request: CompletionRequest | EmbeddingRequest | ToolRequest) -> None:
        if not isinstance(request, ToolRequest) or request.operation == "tools/list":
            return
        from patchwire_mcp.catalog import json_arguments

        arguments = json_arguments(self.name, request.operation, request.arguments)
        listing = self._listing
        if listing is None or not listing.fresh(self.ctx.clock.now()):
            # Only a fresh listing may refuse a call; a stale one is checked again in the attempt.
            return
        problem = listing.problem(request.operation, arguments)
        if problem is not None:
            raise problem

    async def list_tools(self, attempt: Attempt) -> Sequence[ToolInfo]:
        async with self._session(attempt, "tools/list") as (generation, client):
            listing = self._listing
            if listing is None or not self._usable(listing, generation):
                listing = await self._refresh_listing(generation, client, seen=listing)
        return listing.tools

    async def call_tool(self, request: ToolRequest, attempt: Attempt) -> ToolResult:
        from patchwire_mcp.catalog import json_arguments

        name = request.operation
        arguments = json_arguments(self.name, name, request.arguments)
        async with self._session(attempt, f"tools/call {name}") as (generation, client):
            listing = self._listing
            if (
                listing is None
                # A new session learns its tools (and their output schemas) once.
                or listing.session != generation.number
                or (
                    not listing.fresh(self.ctx.clock.now())
                    and listing.problem(name, arguments) is not None
                )
            ):
                listing = await self._refresh_listing(generation, client, seen=listing)
            problem = listing.problem(name, arguments)
            if problem is not None:
                raise problem
            result = await client.call_tool(
                name, arguments, progress_callback=self._progress_for(name)
            )
            protocol = client.protocol_version
        return self._result(name, result, protocol)

    def _progress_for(self, tool: str) -> Any:
        if self.progress is None:
            return None
        from patchwire_mcp.notifications import progress_callback

        return progress_callback(self.name, tool, self.progress, self.log)

    def _result(self, name: str, result: CallToolResult, protocol: str) -> ToolResult:
        blocks = [
            block.model_dump(mode="json", by_alias=True, exclude_none=True)
            for block in result.content
        ]
        text = "\n".join(str(b["text"]) for b in blocks if b.get("type") == "text")
        if result.is_error:
            category = Category(str(self.setting("is_error_category")))
            said = text if text else "(no text content)"
            if len(said) > _MAX_MESSAGE:
                said = said[:_MAX_MESSAGE] + "..."
            raise error_class(category)(
                f"tool '{name}' of MCP server '{self.name}' failed: {said}",
                connector=self.name,
                code="isError",
                details=json.dumps(blocks)[:_MAX_DETAILS],
            )
        structured = result.structured_content
        return ToolResult(
            output=structured if structured is not None else blocks,
            text=text,
            metadata={"content": blocks, "protocol_version": protocol},
        )
