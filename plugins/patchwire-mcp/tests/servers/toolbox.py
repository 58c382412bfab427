"""A small MCP server for the plugin's tests, built on the SDK's low-level server API.

    python toolbox.py stdio [options]          serve over stdin/stdout
    python toolbox.py http --port 0 [options]  serve streamable HTTP on 127.0.0.1, print "PORT n"

It pages its tool listing (``--page-size``), states a TTL (``--ttl-ms``) and counts every
request it answers, so tests can prove what was (and was not) sent. Options that make it
misbehave: ``--exit-at-start``, ``--hang-at-start``, ``--stubborn`` (ignores end of input
and SIGTERM), ``--noisy N`` (N stderr lines at start), ``--token T`` (HTTP: require
``Authorization: Bearer T``), ``--probe MODE`` (how the ``probe`` tool answers: ok, a
JSON-RPC internal error, never, or a mix of those with isError and late answers).
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import sys
import time
from typing import Any


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--ttl-ms", type=int, default=None)
    parser.add_argument("--token", default=None)
    parser.add_argument("--noisy", type=int, default=0)
    parser.add_argument("--exit-at-start", action="store_true")
    parser.add_argument("--hang-at-start", action="store_true")
    parser.add_argument("--stubborn", action="store_true")
    parser.add_argument("--probe", choices=["ok", "internal", "hang", "mixed"], default="ok")
    parser.add_argument("--sampling", action="store_true")
    parser.add_argument("--notify", action="store_true")
    return parser.parse_args()


# The failure modes act before the SDK is imported (a second), to keep their tests quick.
OPTIONS = _options() if __name__ == "__main__" else None
if OPTIONS is not None:
    for n in range(OPTIONS.noisy):
        print(f"toolbox noise {n}", file=sys.stderr, flush=True)
    if OPTIONS.exit_at_start:
        sys.exit("toolbox: refusing to start (--exit-at-start)")
    if OPTIONS.hang_at_start:
        # Never answer; leave when stdin closes, as a well-behaved process does.
        sys.stdin.read()
        sys.exit(0)

import anyio  # noqa: E402
import mcp_types as types  # noqa: E402
from mcp.server.lowlevel import Server  # noqa: E402
from mcp.server.stdio import stdio_server  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402

COUNTS: collections.Counter[str] = collections.Counter()

TOOLS = [
    types.Tool(
        name="echo",
        description="returns its text",
        input_schema={
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    ),
    types.Tool(
        name="add",
        description="adds two integers",
        input_schema={
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
    ),
    types.Tool(
        name="slow",
        description="answers after a while",
        input_schema={"type": "object", "properties": {"seconds": {"type": "number"}}},
    ),
    types.Tool(
        name="whoami",
        description="the process: pid, working directory, environment variable names",
        input_schema={"type": "object"},
    ),
    types.Tool(
        name="fail",
        description="a tool failure (isError) with the given message",
        input_schema={"type": "object", "properties": {"message": {"type": "string"}}},
    ),
    types.Tool(
        name="internal",
        description="a JSON-RPC internal error",
        input_schema={"type": "object"},
    ),
    types.Tool(
        name="strict",
        description="a JSON-RPC invalid-params error",
        input_schema={"type": "object"},
    ),
    types.Tool(
        name="probe",
        description="answers as the server's --probe option says (ok, internal, hang, mixed)",
        input_schema={"type": "object"},
    ),
    types.Tool(
        name="stats",
        description="how many requests of each kind this process answered",
        input_schema={"type": "object"},
    ),
]


def _text(text: str, structured: Any = None, *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=structured, is_error=error
    )


#: with --sampling: a tool that asks the client's model (a legacy-era session)
SAMPLE = types.Tool(
    name="sample",
    description="asks the client's model to answer 'prompt' (sampling/createMessage)",
    input_schema={"type": "object", "properties": {"prompt": {"type": "string"}}},
)


async def _sample(ctx: Any, args: dict[str, Any]) -> types.CallToolResult:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sampling is deprecated from 2026-07-28 on
        try:
            answer = await ctx.session.create_message(
                [
                    types.SamplingMessage(
                        role="user", content=types.TextContent(text=str(args.get("prompt", "")))
                    )
                ],
                max_tokens=int(args.get("max_tokens", 50)),
                system_prompt="be brief",
            )
        except MCPError as err:
            return _text(f"sampling refused: {err.error.message}", error=True)
    content = answer.content
    text = content.text if isinstance(content, types.TextContent) else str(content)
    return _text(text, {"text": text, "model": answer.model})


#: with --notify: a tool that reports progress, and one that adds a tool and says so
NOTIFYING = [
    types.Tool(
        name="steps",
        description="sends a progress notification for each of 'count' steps",
        input_schema={"type": "object", "properties": {"count": {"type": "integer"}}},
    ),
    types.Tool(
        name="grow",
        description="adds the tool 'extra' and sends notifications/tools/list_changed",
        input_schema={"type": "object"},
    ),
]
EXTRA = types.Tool(name="extra", description="exists once grown", input_schema={"type": "object"})


async def _steps(ctx: Any, count: int) -> types.CallToolResult:
    token = (ctx.meta or {}).get("progress_token")
    for step in range(1, count + 1):
        if token is not None:
            await ctx.session.send_progress_notification(
                token, step, total=count, message=f"step {step}", related_request_id=ctx.request_id
            )
    return _text(f"{count} steps")


def build(
    page_size: int,
    ttl_ms: int | None,
    probe: str = "ok",
    sampling: bool = False,
    notify: bool = False,
) -> Server[Any]:
    chance = random.Random(7)
    tools = [*TOOLS, *([SAMPLE] if sampling else []), *(NOTIFYING if notify else [])]

    async def answer_probe() -> types.CallToolResult:
        mode = probe
        if mode == "mixed":
            mode = chance.choice(["ok", "ok", "internal", "fail", "late"])
        if mode == "internal":
            raise RuntimeError("the probe broke")
        if mode == "fail":
            return _text("the probe failed", error=True)
        if mode in ("hang", "late"):
            await anyio.sleep(3600 if mode == "hang" else 2.0)
        return _text("ok")

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> Any:
        COUNTS["tools/list"] += 1
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + page_size
        page = types.ListToolsResult(
            tools=tools[start:end], next_cursor=str(end) if end < len(tools) else None
        )
        if ttl_ms is not None:
            page.ttl_ms = ttl_ms
        return page

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
        name = params.name
        args = params.arguments or {}
        COUNTS[f"call:{name}"] += 1
        if name == "echo":
            return _text(str(args["text"]))
        if name == "add":
            total = int(args["a"]) + int(args["b"])
            return _text(str(total), {"sum": total})
        if name == "slow":
            await anyio.sleep(float(args.get("seconds", 1.0)))
            return _text("done")
        if name == "whoami":
            info = {"pid": os.getpid(), "cwd": os.getcwd(), "env": sorted(os.environ)}
            return _text(str(info["pid"]), info)
        if name == "fail":
            return _text(str(args.get("message", "it failed")), error=True)
        if name == "internal":
            raise RuntimeError("the toolbox broke")
        if name == "strict":
            raise MCPError(types.INVALID_PARAMS, "strict refuses these parameters")
        if name == "probe":
            return await answer_probe()
        if name == "stats":
            return _text("stats", dict(COUNTS))
        if name == "sample" and sampling:
            return await _sample(ctx, args)
        if name == "steps" and notify:
            return await _steps(ctx, int(args.get("count", 3)))
        if name == "grow" and notify:
            if EXTRA not in tools:
                tools.append(EXTRA)
            await ctx.session.send_tool_list_changed()
            return _text("grown")
        if name == "extra" and EXTRA in tools:
            return _text("extra")
        raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {name}")

    return Server("toolbox", version="1", on_list_tools=list_tools, on_call_tool=call_tool)


def _require_token(app: Any, token: str) -> Any:
    expected = f"Bearer {token}".encode()

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b'Bearer realm="toolbox"'),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b'{"error": "bad token"}'})
            return
        await app(scope, receive, send)

    return guarded


async def serve_stdio(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def serve_http(server: Server[Any], port: int, token: str | None) -> None:
    import socket

    import uvicorn

    app: Any = server.streamable_http_app(stateless_http=True)
    if token is not None:
        app = _require_token(app, token)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    # Listening before the port is announced: early connections wait in the backlog.
    sock.listen(64)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def main(opts: argparse.Namespace) -> None:
    server = build(opts.page_size, opts.ttl_ms, opts.probe, opts.sampling, opts.notify)
    if opts.transport == "http":
        serve_http(server, opts.port, opts.token)
        return
    anyio.run(serve_stdio, server)
    if opts.stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(3600)


if OPTIONS is not None:
    main(OPTIONS)
